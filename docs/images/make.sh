#!/usr/bin/env bash
# Regenerate the README's pictures from the committed workbooks, as LibreOffice renders them
# (needs libreoffice-calc and poppler-utils): output/*.xlsx -> PDF -> the PNG of one page.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# an exercise handout with --self-check, some answers typed in (two of them wrong, a row blank)
"${PYTHON:-python}" -m convsheets build --variant basic --exercise --self-check -o "$tmp/exercise-empty.xlsx" \
    >/dev/null
"${PYTHON:-python}" - "$tmp" <<'EOF'
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
soffice -env:UserInstallation=file://"$tmp"/profile --headless --convert-to pdf \
    --outdir "$tmp" "$tmp/exercise.xlsx" >/dev/null 2>&1
for book in edges basic transposed digit_edges; do
    soffice -env:UserInstallation=file://"$tmp"/profile --headless --convert-to pdf \
        --outdir "$tmp" "output/$book.xlsx" >/dev/null 2>&1
done
page() {  # page BOOK TEXT: number of the first page of BOOK's PDF whose text contains TEXT
    for n in $(seq 1 "$(pdfinfo "$tmp/$1.pdf" | awk '/^Pages:/ {print $2}')"); do
        if pdftotext -f "$n" -l "$n" "$tmp/$1.pdf" - | grep -q "$2"; then echo "$n"; return; fi
    done
}
shot() {  # shot NAME BOOK TEXT: the page of BOOK showing TEXT as docs/images/NAME.png
    n=$(page "$2" "$3")
    pdftoppm -r 70 -png -singlefile -f "$n" -l "$n" "$tmp/$2.pdf" "docs/images/$1"
}
shot network-guide edges "convsheets: a network"
shot network-conv1 edges "conv1_output_c1"
shot explorer-basic basic "Output cell: channel"
shot explorer-padded basic "zero-padded"
shot explorer-transposed transposed "Output cell: channel"
shot digit-input digit_edges "(input channel)"
shot digit-sobel digit_edges "sobel_output_c1"
shot exercise-output exercise "your answer: output_c0"
