#!/usr/bin/env bash
# Regenerate output/ and every picture in the README, as LibreOffice renders them (needs
# LibreOffice): every page of every workbook in output/, cut to what it shows, into
# docs/images/gallery/ (FILE-SHEET.png), with convsheets' own `render` command.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-python3}
"$python" -m convsheets build --all
rm -rf docs/images/gallery
"$python" -m convsheets render output/*.xlsx --to docs/images/gallery --dpi 70 --trim
"$python" docs/images/gallery.py  # the README's gallery section, from the pictures made

# Pictures of workbooks that are not in output/ (into docs/images/, as FILE-SHEET.png)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# an exercise handout with --self-check, some answers typed in (two of them wrong, a row blank)
"$python" -m convsheets build --variant basic --exercise --self-check \
    -o "$tmp/exercise-empty.xlsx" >/dev/null
"$python" - "$tmp" <<'EOF'
import sys
from pathlib import Path
sys.path.insert(0, ".")
from tests.exercise_fill import fill, typed
tmp = Path(sys.argv[1])
fill(tmp / "exercise-empty.xlsx", tmp / "exercise.xlsx",
     lambda b, i, j, right: None if (b == "output_c1" and i == 2) else
     typed(right + 1 if (b == "output_c0" and i == 0 and j == 1) or
           (b == "output_c1" and i == 1 and j == 0) else right))
EOF
"$python" -m convsheets render "$tmp/exercise.xlsx" --sheet Output --to docs/images --dpi 70 --force \
    --trim >/dev/null
# a transposed layer small enough for its matrix C to be read on one page
"$python" -m convsheets build --variant transposed --input-size 2x2 --in-channels 1 \
    --out-channels 1 --kernel-size 2 --stride 2 --padding 0 --output-padding 0 \
    -o "$tmp/matrix-small.xlsx" >/dev/null
"$python" -m convsheets render "$tmp/matrix-small.xlsx" --sheet Matrix --to docs/images --force \
    --dpi 80 --trim >/dev/null
# conv_arithmetic's table of animations, each from a workbook built for it (one LibreOffice
# start for all), and a still of the Walk sheet the frames are cut from
rm -rf docs/images/animate
"$python" -m convsheets animate --gallery docs/images/animate >/dev/null
"$python" -m convsheets build --variant basic -o "$tmp/walk.xlsx" >/dev/null
"$python" -m convsheets animate "$tmp/walk.xlsx" --frames 0-8 --dpi 80 \
    -o docs/images/animate-basic.gif --force >/dev/null
"$python" -m convsheets animate output/transposed.xlsx --view scatter --dpi 80 \
    -o docs/images/animate-stamps.gif --force >/dev/null
