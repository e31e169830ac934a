"""Classic image kernels by name (`--kernel sobel-x,sobel-y`) and the weights they make.

Every kernel is written the way PyTorch applies it: `conv2d` is a cross-correlation (the kernel
is not flipped), so ``sobel-x`` = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] is positive where the
picture gets brighter to the right and ``sobel-y`` (its transpose) where it gets brighter
downwards. Integer kernels are int64 arrays (a cell shows 3, not 3.0); the blurs are exact
float64 multiples of 1/9, 1/16 and 1/256, shown as "1/16 ×" a matrix of whole numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import SpecError
from .options import Pair

_BINOMIAL_5 = [1, 4, 6, 4, 1]

# name -> (whole-number matrix, divisor, what it does)
_TABLE: dict[str, tuple[list[list[int]], int, str]] = {
    "identity": ([[0, 0, 0], [0, 1, 0], [0, 0, 0]], 1, "copies the picture unchanged"),
    "box-blur": ([[1, 1, 1], [1, 1, 1], [1, 1, 1]], 9, "the mean of the 3x3 neighbourhood"),
    "gaussian-blur": ([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 16,
                      "a weighted mean, the nearer pixels counting more"),
    "gaussian-blur-5x5": ([[a * b for b in _BINOMIAL_5] for a in _BINOMIAL_5], 256,
                          "a wider Gaussian blur (binomial 1 4 6 4 1 in each direction)"),
    "sharpen": ([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], 1,
                "the picture plus its difference from its neighbours"),
    "laplacian": ([[0, 1, 0], [1, -4, 1], [0, 1, 0]], 1,
                  "second derivative: nonzero at edges and lines, 0 on flat areas"),
    "sobel-x": ([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], 1,
                "vertical edges: positive where it gets brighter to the right"),
    "sobel-y": ([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], 1,
                "horizontal edges: positive where it gets brighter downwards"),
    "prewitt-x": ([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], 1,
                  "vertical edges, like sobel-x without the centre weighting"),
    "prewitt-y": ([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], 1,
                  "horizontal edges, like sobel-y without the centre weighting"),
    "emboss": ([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], 1,
               "a relief lit from the top left"),
    "outline": ([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], 1,
                "edges in every direction (8-neighbour Laplacian)"),
}


def _make(matrix: list[list[int]], divisor: int) -> np.ndarray:
    whole = np.array(matrix, dtype=np.int64)
    array = whole if divisor == 1 else whole / divisor  # exact float64 multiples of 1/divisor
    array.flags.writeable = False  # shared by every caller: nobody may edit the table
    return array


KERNELS: dict[str, np.ndarray] = {
    name: _make(matrix, divisor) for name, (matrix, divisor, _) in _TABLE.items()}
KERNEL_NOTES: dict[str, str] = {name: note for name, (_, _, note) in _TABLE.items()}


def describe_kernel(name: str) -> str:
    """The kernel as text, one matrix row per line; a blur shows its divisor before the matrix
    (``1/16 ×  [ 2  4  2 ]`` on the middle row) so every entry is a whole number."""
    name = _canonical(name)
    if name not in KERNELS:
        raise _unknown(name, name)
    matrix, divisor, _ = _TABLE[name]
    width = max(len(str(v)) for row in matrix for v in row)
    rows = ["[ " + "  ".join(str(v).rjust(width) for v in row) + " ]" for row in matrix]
    prefix = "" if divisor == 1 else f"1/{divisor} ×  "
    middle = len(rows) // 2
    return "\n".join((prefix if i == middle else " " * len(prefix)) + row
                     for i, row in enumerate(rows))


def parse_names(names: str | Sequence[str]) -> list[str]:
    """``"sobel-x, sobel-y"`` or ``["sobel-x", "sobel-y"]`` -> the known names, in order.

    Case and ``_`` for ``-`` do not matter; an unknown or empty name is a SpecError("kernel")
    that lists the known ones."""
    given = names.split(",") if isinstance(names, str) else list(names)
    shown = ",".join(str(n).strip() for n in given)
    if not given or any(not isinstance(n, str) or not n.strip() for n in given):
        raise SpecError("kernel", shown, "give one kernel name per output channel, separated "
                        "by commas; the kernels are: " + ", ".join(KERNELS))
    result = [_canonical(n) for n in given]
    for name in result:
        if name not in KERNELS:
            raise _unknown(shown, name)
    return result


def kernel_size_of(names: str | Sequence[str]) -> Pair:
    """The (kH, kW) all the named kernels share (e.g. to default ``--kernel-size``)."""
    known = parse_names(names)
    sizes = {KERNELS[n].shape for n in known}
    if len(sizes) > 1:
        listed = ", ".join(f"{n} is {KERNELS[n].shape[0]}x{KERNELS[n].shape[1]}" for n in known)
        raise SpecError("kernel", ",".join(known),
                        f"the kernels of one layer must have one size ({listed})")
    kh, kw = sizes.pop()
    return (int(kh), int(kw))


def named_weight(names: str | Sequence[str], out_channels: int, in_per_group: int,
                 kernel_size: Pair, transposed: bool = False, groups: int = 1) -> np.ndarray:
    """The 4-D weight in which output channel ``o`` applies kernel ``names[o]`` to every input
    channel it sees (``weight[o][c] = K_o``); one name stands for all `out_channels`.

    `in_per_group` is C/groups, the input channels each output channel sees.

    - ``transposed=False`` (conv2d): shape (O, C/g, kH, kW), ``weight[o][i] = K[names[o]]``.
      `groups` does not change this layout (each filter already holds only its group's inputs).
    - ``transposed=True`` (conv_transpose2d): shape (C, O/g, kH, kW) with C = g * C/g. Input
      channel ``c`` is in group ``g = c // (C/g)`` and ``weight[c][j]`` feeds output channel
      ``g * (O/g) + j``, so ``weight[c][j] = K[names[g * (O/g) + j]]``. The kernel is stored as
      named; a transposed convolution scatters it, which is a plain convolution with the kernel
      flipped by 180° (so an edge kernel there answers to edges of the opposite sign).

    int64 when every chosen kernel is whole-numbered, else float64. Raises SpecError("kernel")
    for an unknown name, a count that is neither 1 nor `out_channels`, or a kernel whose size
    is not `kernel_size`.
    """
    known = parse_names(names)
    shown = ",".join(known)
    if len(known) == 1:
        known = known * out_channels
    elif len(known) != out_channels:
        raise SpecError("kernel", shown, f"gives {len(known)} kernels for {out_channels} output "
                        "channels; give one name per output channel, or one name for all")
    if groups < 1 or out_channels % groups:
        raise SpecError("groups", groups, f"must divide out_channels={out_channels}")
    kh, kw = kernel_size
    for name in dict.fromkeys(known):
        if KERNELS[name].shape != (kh, kw):
            nh, nw = KERNELS[name].shape
            raise SpecError("kernel", shown, f"{name} is {nh}x{nw} but the kernel size is "
                            f"{kh}x{kw}; set the kernel size to {nh}x{nw} or use {kh}x{kw} "
                            "kernels")
    dtype = np.int64 if all(KERNELS[n].dtype == np.int64 for n in known) else np.float64
    stack = np.stack([KERNELS[n] for n in known]).astype(dtype)  # (O, kH, kW)
    if not transposed:
        return np.ascontiguousarray(np.broadcast_to(
            stack[:, np.newaxis], (out_channels, in_per_group, kh, kw)))
    per_group = out_channels // groups
    # weight[c][j] = stack[(c // in_per_group) * per_group + j]
    by_group = stack.reshape(groups, 1, per_group, kh, kw)
    return np.ascontiguousarray(np.broadcast_to(
        by_group, (groups, in_per_group, per_group, kh, kw))).reshape(
        groups * in_per_group, per_group, kh, kw)


def _canonical(name: str) -> str:
    return str(name).strip().lower().replace("_", "-")


def _unknown(shown: str, name: str) -> SpecError:
    return SpecError("kernel", shown, f"unknown kernel {name!r}; the kernels are: "
                     + ", ".join(KERNELS))
