"""Grading a class: 100 returned handouts of the basic preset (issue 12's target: < 1 minute).

    python bench/grade.py [--students 100] [--formulas 10]

Builds a roster's handouts (`--blank padded,output`: 165 answer cells each), fills them the
way students return them (typed numbers, some wrong; `--formulas` of them answered with
formulas that carry no stored value, which need LibreOffice), then times `convsheets grade`
end to end (a subprocess, as a teacher runs it) on all of them, and on the typed ones alone.
LibreOffice starts are counted in-process: 0 when no file needs it, 1 for the batch otherwise.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from convsheets.engines import libreoffice  # noqa: E402
from convsheets.grade import grade_files  # noqa: E402
from tests.exercise_fill import fill, typed, wrong_first  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--formulas", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="convsheets-bench-grade-") as tmp:
        root = Path(tmp)
        roster = root / "students.csv"
        ids = [f"s{n:03d}" for n in range(args.students)]
        roster.write_text("id,name\n" + "".join(f"{i},Student {i}\n" for i in ids))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "convsheets", "build", "--variant", "basic",
                        "--exercise", "--blank", "padded,output", "--roster", str(roster),
                        "-o", str(root / "handouts")], check=True, capture_output=True)
        print(f"build {args.students} handouts: {time.perf_counter() - t0:.1f} s")
        returned = root / "returned"
        returned.mkdir()
        t0 = time.perf_counter()
        for n, sid in enumerate(ids):
            src, dst = root / "handouts" / f"{sid}.xlsx", returned / f"{sid}.xlsx"
            if n < args.formulas:
                fill(src, dst, lambda b, i, j, right: f"<f>{right!r}+0*ROW()</f>")
            else:
                fill(src, dst, wrong_first(n % 7) if n % 3 else
                     (lambda b, i, j, right: typed(right)))
        print(f"fill them (test helper): {time.perf_counter() - t0:.1f} s")
        files = sorted(str(p) for p in returned.glob("*.xlsx"))
        typed_only = files[args.formulas:]
        for label, batch in (("all (some need LibreOffice)", files),
                             ("typed only (no LibreOffice)", typed_only)):
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "convsheets", "grade", *batch,
                                   "--csv", str(root / "grades.csv")],
                                  capture_output=True, text=True)
            took = time.perf_counter() - t0
            assert done.returncode == 0, done.stderr
            print(f"convsheets grade, {len(batch)} files, {label}: {took:.1f} s")
        starts = []
        real = libreoffice.LibreOfficeEngine.recalculate

        def counted(self, paths, outdir, timeout):  # type: ignore[no-untyped-def]
            starts.append(len(paths))
            return real(self, paths, outdir, timeout)

        libreoffice.LibreOfficeEngine.recalculate = counted  # type: ignore[method-assign]
        grades = grade_files([Path(f) for f in files])
        assert all(not g.unusable for g in grades)
        print(f"LibreOffice runs for {len(files)} files: {len(starts)} "
              f"({starts[0] if starts else 0} files in it)")
        starts.clear()
        grade_files([Path(f) for f in typed_only])
        print(f"LibreOffice runs for the {len(typed_only)} typed files: {len(starts)}")


if __name__ == "__main__":
    main()
