#!/usr/bin/env bash
# Regenerate the README's network pictures from the committed workbooks, as LibreOffice renders
# them (needs libreoffice-calc and poppler-utils): output/edges.xlsx -> PDF -> one PNG per page.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
soffice -env:UserInstallation=file://"$tmp"/profile --headless --convert-to pdf \
    --outdir "$tmp" output/edges.xlsx >/dev/null
page() {  # page number of the first PDF page whose text contains $1
    for n in $(seq 1 "$(pdfinfo "$tmp/edges.pdf" | awk '/^Pages:/ {print $2}')"); do
        if pdftotext -f "$n" -l "$n" "$tmp/edges.pdf" - | grep -q "$1"; then echo "$n"; return; fi
    done
}
shot() {  # shot NAME TEXT: the page showing TEXT as docs/images/NAME.png
    n=$(page "$2")
    pdftoppm -r 70 -png -singlefile -f "$n" -l "$n" "$tmp/edges.pdf" "docs/images/$1"
}
shot network-guide "convsheets: a network"
shot network-conv1 "conv1_output_c0"
