"""Speed and memory of convsheets (issue 5's targets), measured, never asserted by unit tests.

    python bench/bench.py            # everything (about 3-4 minutes on 2 cores)
    python bench/bench.py --quick    # presets and the scaling table up to 1e5 cells only

Prints: build time of every preset; the ResNet-50 stem build against the bare-openpyxl floor
(ratio, peak MB); a scaling table (formula cells vs seconds vs peak MB); and verify's total
time against LibreOffice's own recalculation of the same workbook.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEM = ["--variant", "basic", "--input-size", "224x224", "--in-channels", "3",
        "--out-channels", "64", "--kernel-size", "7", "--stride", "2", "--padding", "3"]
# (label, build options): output formula counts of about 1e3, 1e4, 1e5 and 8e5
SCALING = [
    ("1e3", ["--input-size", "34", "--in-channels", "3", "--out-channels", "1",
             "--kernel-size", "3", "--padding", "0", "--stride", "1"]),
    ("1e4", ["--input-size", "52", "--in-channels", "3", "--out-channels", "4",
             "--kernel-size", "3", "--padding", "0", "--stride", "1"]),
    ("1e5", ["--input-size", "160", "--in-channels", "3", "--out-channels", "4",
             "--kernel-size", "3", "--padding", "0", "--stride", "1"]),
    ("8e5", STEM[2:]),
]


def measure(cmd: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, str(HERE / "measure.py"), *cmd],
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    if result["rc"] != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{result['stderr']}")
    return result


def convsheets(*args: str) -> list[str]:
    return [sys.executable, "-m", "convsheets", *args]


def presets(tmp: Path) -> None:
    from convsheets.build import make_plan, write_atomically
    from convsheets.presets import preset
    from convsheets.spec import LayerSpec
    from convsheets.variants import VARIANTS

    print("## preset build times (in-process, best of 3)")
    for variant in VARIANTS:
        spec = LayerSpec.create(variant, {}, preset(variant))
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            write_atomically(make_plan(spec.network()), tmp / f"{variant}.xlsx")
            best = min(best, time.perf_counter() - start)
        print(f"  {variant:<11} {best * 1000:7.1f} ms")


def stem(tmp: Path) -> Path:
    print("## ResNet-50 stem: 224x224x3 -> 64 filters 7x7, stride 2, padding 3")
    floor = measure([sys.executable, str(HERE / "floor.py"), str(tmp / "floor.xlsx")])
    ours = measure(convsheets("build", *STEM, "-o", str(tmp / "stem.xlsx")))
    print(f"  floor (bare openpyxl write_only): {floor['seconds']:6.1f} s  "
          f"{floor['peak_mb']:6.0f} MB")
    print(f"  convsheets build:                 {ours['seconds']:6.1f} s  "
          f"{ours['peak_mb']:6.0f} MB")
    print(f"  build / floor = {ours['seconds'] / floor['seconds']:.2f}  (target <= 1.5); "
          f"peak {ours['peak_mb']:.0f} MB (target < 400)")
    bare = tmp / "stem-bare.xlsx"
    measure([sys.executable, "-c", _BARE.format(path=str(bare), options=STEM)])
    for label, path in (("with stored values", tmp / "stem.xlsx"),
                        ("without (formulas only)", bare)):
        print(f"  file {label:<24} {path.stat().st_size / 2**20:6.1f} MiB")
    return tmp / "stem.xlsx"


# The same stem written with formulas only (no stored values), for the opening comparison.
_BARE = """
from pathlib import Path
from convsheets.build import make_plan, write_atomically
from convsheets.cli import build
ctx = build.make_context("build", {options!r})
from convsheets.presets import preset
from convsheets.spec import LayerSpec
given = {{k: v for k, v in ctx.params.items() if v is not None and k in (
    "input_size", "in_channels", "out_channels", "kernel_size", "stride", "padding")}}
spec = LayerSpec.create("basic", given, preset("basic"))
write_atomically(make_plan(spec.network()), Path({path!r}), store_values=False)
"""


def opening(tmp: Path) -> None:
    """What a user waits for: LibreOffice with its default settings (a fresh profile) opening
    the stem and saving it again (xlsx), with and without stored values."""
    print("## LibreOffice opens the stem and converts it (default profile, xlsx -> xlsx)")
    for label, path in (("with stored values", tmp / "stem.xlsx"),
                        ("without (formulas only)", tmp / "stem-bare.xlsx")):
        with tempfile.TemporaryDirectory() as profile, tempfile.TemporaryDirectory() as out:
            result = measure(["soffice", f"-env:UserInstallation=file://{profile}",
                              "--headless", "--convert-to", "xlsx", "--outdir", out,
                              str(path)])
        print(f"  {label:<24} {result['seconds']:6.1f} s  peak {result['peak_mb']:6.0f} MB")


def scaling(tmp: Path, quick: bool) -> None:
    print("## scaling: output formula cells vs build seconds vs peak MB")
    print(f"  {'target':>6} {'formulas':>10} {'seconds':>8} {'peak MB':>8} {'us/formula':>10}")
    for label, options in SCALING:
        if quick and label == "8e5":
            continue
        path = tmp / f"scale-{label}.xlsx"
        result = measure(convsheets("build", "--variant", "basic", *options, "-o", str(path)))
        formulas = _count_outputs(options)
        print(f"  {label:>6} {formulas:>10,} {result['seconds']:8.2f} {result['peak_mb']:8.0f} "
              f"{result['seconds'] / formulas * 1e6:10.1f}")


def _count_outputs(options: list[str]) -> int:
    from convsheets.options import parse_pair
    from convsheets.presets import preset
    from convsheets.spec import LayerSpec

    opts = dict(zip(options[::2], options[1::2], strict=True))
    given: dict[str, object] = {}
    for flag, value in opts.items():
        key = flag[2:].replace("-", "_")
        given[key] = parse_pair(value) if key in ("input_size", "kernel_size", "stride",
                                                   "padding") else int(value)
    spec = LayerSpec.create("basic", given, preset("basic"))
    oh, ow = spec.output_size
    return spec.out_channels * oh * ow


def verify_ratio(path: Path) -> None:
    from convsheets.engines import get_engine

    print("## verify vs LibreOffice's own recalculation (same workbook)")
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        get_engine("libreoffice").recalculate([path], Path(out), timeout=1800)
        lo = time.perf_counter() - start
    ours = measure(convsheets("verify", "--engine", "libreoffice", "-q", str(path)))
    print(f"  LibreOffice recalculation alone: {lo:6.1f} s")
    print(f"  convsheets verify (total):       {ours['seconds']:6.1f} s  "
          f"(peak {ours['peak_mb']:.0f} MB incl. LibreOffice)")
    print(f"  verify / LibreOffice = {ours['seconds'] / lo:.2f}  (target <= 2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"# convsheets bench on {platform.machine()}, {platform.python_version()}, "
          f"{_cpus()} CPU(s)")
    with tempfile.TemporaryDirectory(prefix="convsheets-bench-") as tmp_name:
        tmp = Path(tmp_name)
        presets(tmp)
        scaling(tmp, args.quick)
        if not args.quick:
            path = stem(tmp)
            opening(tmp)
            verify_ratio(path)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
