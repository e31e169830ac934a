#!/usr/bin/env bash
# Regenerate the README's pictures from the committed workbooks, as LibreOffice renders them
# (needs libreoffice-calc and poppler-utils): output/*.xlsx -> PDF -> the PNG of one page.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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
