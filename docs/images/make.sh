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
