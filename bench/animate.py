"""How long `convsheets animate` takes, end to end (LibreOffice's start included).

    python bench/animate.py [--repeat N]

Cases (issue 26): the basic preset's first 9 frames (target <= 15 s on 2 cores), the
transposed preset's first 36 frames (target <= 30 s), 16 frames of its scatter (--view
scatter: one per input pixel), and the whole conv_arithmetic gallery (15 animations, 322 frames,
one LibreOffice start). Each time is the best of --repeat runs of `convsheets.animate`
(building the workbook is not timed: animate starts from a workbook).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import convsheets  # noqa: E402

CASES = [  # (label, variant, view, frames, target seconds)
    ("basic, 9 frames", "basic", "explorer", "0-8", 15.0),
    ("transposed scatter, 16 frames", "transposed", "scatter", "0-15", 30.0),
    ("transposed, 36 frames", "transposed", "explorer", "0-35", 30.0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-gallery", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for label, variant, view, frames, target in CASES:
            book = convsheets.build(variant, output=tmp / f"{variant}.xlsx").path
            best = float("inf")
            for n in range(args.repeat):
                start = time.perf_counter()
                convsheets.animate(book, view=view, frames=frames,
                                   output=tmp / f"{variant}-{view}-{n}.gif")
                best = min(best, time.perf_counter() - start)
            verdict = "ok" if best <= target else "OVER"
            print(f"{label:30s} {best:6.1f} s   (target <= {target:.0f} s: {verdict})")
        if not args.no_gallery:
            start = time.perf_counter()
            convsheets.animate(gallery=tmp / "gallery")
            print(f"{'gallery, 15 GIFs, 322 frames':30s} {time.perf_counter() - start:6.1f} s"
                  "   (workbooks built, one LibreOffice start)")


if __name__ == "__main__":
    main()
