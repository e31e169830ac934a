"""LeNet-5 on a 28x28 input, from `from_module`: build time, then verify time per engine,
with the default views (the budget of `convsheets/budget.py` leaves c1's and c3's Matrix
sheets out) and with every view (``all_views=True``, ``--all-views``).

    python bench/lenet28.py [engine ...]      (default: gnumeric libreoffice ironcalc)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import convsheets


class LeNet5(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.s2 = nn.AvgPool2d(2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.s4 = nn.AvgPool2d(2)
        self.c5 = nn.Linear(400, 120)
        self.f6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.s4(F.relu(self.c3(self.s2(F.relu(self.c1(x))))))
        x = torch.flatten(x, 1)
        return self.output(F.relu(self.f6(F.relu(self.c5(x)))))


def main(engines: list[str]) -> None:
    torch.manual_seed(0)
    model = LeNet5().double().eval()
    x = torch.rand(1, 1, 28, 28, dtype=torch.float64)
    with tempfile.TemporaryDirectory() as folder:
        for all_views in (False, True):
            views = "every view (--all-views)" if all_views else "default views"
            path = Path(folder) / f"lenet5_{all_views}.xlsx"
            start = time.perf_counter()
            result = convsheets.from_module(model, x, path, all_views=all_views)
            print(f"{views}: build {time.perf_counter() - start:.1f} s, {result.cells:,} "
                  f"cells, {result.size / 1e6:.1f} MB")
            for engine in engines:
                start = time.perf_counter()
                (report,) = convsheets.verify(path, engine=engine)
                print(f"  verify {engine}: {'ok' if report.ok else 'FAILED'}, "
                      f"{time.perf_counter() - start:.1f} s")
        print(f"predicted class (PyTorch): {int(model(x).argmax())}")

if __name__ == "__main__":
    main(sys.argv[1:] or ["gnumeric", "libreoffice", "ironcalc"])
