"""The floor for issue 5: bare openpyxl write_only writing the same output formulas and the
input/kernel values as the ResNet-50 stem workbook, with no layout logic, no styles, no names.

    python bench/floor.py OUT.xlsx [H W C O K S P]
"""

import sys

import numpy as np
from openpyxl import Workbook
from openpyxl.utils.cell import get_column_letter

col = get_column_letter  # openpyxl's own: the floor uses nothing of convsheets


def main() -> None:
    out = sys.argv[1]
    h, w, c, o, k, s, p = (int(v) for v in (sys.argv[2:] or [224, 224, 3, 64, 7, 2, 3]))
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, (c, h, w))
    weight = rng.integers(-2, 3, (o, c, k, k))
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Input")
    for ch in range(c):
        for row in x[ch].tolist():
            ws.append(row)
    ws = wb.create_sheet("Kernels")
    for f in range(o):
        for i in range(k):
            ws.append([v for ch in range(c) for v in weight[f, ch, i].tolist()])
    ws = wb.create_sheet("Output")
    hp = h + 2 * p
    for f in range(o):
        kern = [f"Kernels!${col(1 + ch * k)}${1 + f * k}:${col(k + ch * k)}${k + f * k}"
                for ch in range(c)]
        for y in range(oh):
            ws.append(["=" + "+".join(
                f"SUMPRODUCT(Padded!{col(1 + xx * s)}{1 + ch * hp + y * s}:"
                f"{col(k + xx * s)}{k + ch * hp + y * s},{kern[ch]})" for ch in range(c))
                for xx in range(ow)])
    wb.save(out)


if __name__ == "__main__":
    main()
