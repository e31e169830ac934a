"""`convsheets animate --gallery DIR`: conv_arithmetic's table of animations (Dumoulin and
Visin, "A guide to convolution arithmetic for deep learning": its README's convolutions, their
transposed counterparts and dilation, at its sizes), each made from a real workbook built
here: one channel in, one out, no bias, the preset's integer values.

Every workbook is built into a temporary folder, and all animations come out of ONE
LibreOffice start (`animate.render_jobs`). DIR receives NAME.gif per case and ``gallery.md``,
the table (each GIF under the layer as PyTorch prints it) that the README shows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .animate import (
    DEFAULT_FPS,
    Job,
    Progress,
    find_walk,
    parse_frames,
    render_jobs,
    write_frames,
)
from .build import build
from .outputs import atomic_write, check_folder, check_targets
from .request import API, resolve


@dataclass(frozen=True)
class Case:
    """One of conv_arithmetic's animations: its name, title and the layer's options."""

    name: str
    title: str
    variant: str  # "basic" (Conv2d) or "transposed" (ConvTranspose2d)
    options: dict[str, object] = field(default_factory=dict)


def _conv(name: str, title: str, size: int, kernel: int, stride: int = 1, padding: int = 0,
          dilation: int = 1) -> Case:
    return Case(name, title, "basic", {"input_size": size, "kernel_size": kernel,
                                       "stride": stride, "padding": padding,
                                       "dilation": dilation})


def _transposed(name: str, title: str, size: int, kernel: int, stride: int = 1,
                padding: int = 0, output_padding: int = 0) -> Case:
    return Case(name, title, "transposed", {"input_size": size, "kernel_size": kernel,
                                            "stride": stride, "padding": padding,
                                            "output_padding": output_padding, "dilation": 1,
                                            "groups": 1})


# conv_arithmetic's README, in its order: convolutions, transposed convolutions, dilation
CASES: tuple[Case, ...] = (
    _conv("no_padding_no_strides", "No padding, no strides", 4, 3),
    _conv("arbitrary_padding_no_strides", "Arbitrary padding, no strides", 5, 4, padding=2),
    _conv("same_padding_no_strides", "Half padding, no strides", 5, 3, padding=1),
    _conv("full_padding_no_strides", "Full padding, no strides", 5, 3, padding=2),
    _conv("no_padding_strides", "No padding, strides", 5, 3, stride=2),
    _conv("padding_strides", "Padding, strides", 5, 3, stride=2, padding=1),
    _conv("padding_strides_odd", "Padding, strides (odd)", 6, 3, stride=2, padding=1),
    _transposed("no_padding_no_strides_transposed", "No padding, no strides, transposed", 2, 3),
    _transposed("arbitrary_padding_no_strides_transposed",
                "Arbitrary padding, no strides, transposed", 6, 4, padding=2),
    _transposed("same_padding_no_strides_transposed", "Half padding, no strides, transposed",
                5, 3, padding=1),
    _transposed("full_padding_no_strides_transposed", "Full padding, no strides, transposed",
                7, 3, padding=2),
    _transposed("no_padding_strides_transposed", "No padding, strides, transposed", 2, 3,
                stride=2),
    _transposed("padding_strides_transposed", "Padding, strides, transposed", 3, 3, stride=2,
                padding=1),
    _transposed("padding_strides_odd_transposed", "Padding, strides, transposed (odd)", 3, 3,
                stride=2, padding=1, output_padding=1),
    _conv("dilation", "Dilation", 7, 3, dilation=2),
)
COLUMNS = 4  # GIFs per row of the README's table
GALLERY_DPI = 80  # small frames: the whole table weighs about 1.5 MB


def build_case(case: Case, folder: Path) -> tuple[Path, str]:
    """The case's workbook in `folder` (one channel in and out, no bias; the Walk needs only
    the explorer, so no matrix or scatter sheets), and the layer as PyTorch prints it."""
    options = {**case.options, "in_channels": 1, "out_channels": 1, "bias": False}
    resolved = resolve(case.variant, None, None, None, None, options, API)
    path = folder / f"{case.name}.xlsx"
    build(resolved.network, path, force=True, views=("explorer",))
    return path, str(resolved.network.layers[0].op)


def gallery(folder: Path, cases: Sequence[Case] = CASES, *, fps: float = DEFAULT_FPS,
            force: bool = False, dpi: int = GALLERY_DPI, progress: Progress | None = None,
            ) -> list[Path]:
    """The animations of `cases` into `folder` (NAME.gif, and the table gallery.md);
    returns the files written."""
    check_folder(folder)
    targets = [folder / f"{case.name}.gif" for case in cases]
    check_targets([*targets, folder / "gallery.md"], force)
    with tempfile.TemporaryDirectory(prefix="convsheets-gallery-") as tmp:
        jobs, reprs = [], []
        for case in cases:
            path, text = build_case(case, Path(tmp))
            walk = find_walk(path)
            jobs.append(Job(path, walk, parse_frames("all", walk.count)))
            reprs.append(text)
        frames = render_jobs(jobs, dpi, progress)
    written = []
    for images, target in zip(frames, targets, strict=True):
        written += write_frames(images, target, "gif", fps, force)
    table = markdown(cases, reprs, [t.name for t in targets])
    with atomic_write(folder / "gallery.md", force) as fh:
        fh.write(table.encode("utf-8"))
    written.append(folder / "gallery.md")
    return written


def markdown(cases: Sequence[Case], reprs: Sequence[str], files: Sequence[str],
             prefix: str = "") -> str:
    """The table: a row of titles and layers (as PyTorch prints them) over a row of GIFs."""
    lines = []
    for start in range(0, len(cases), COLUMNS):
        part = range(start, min(start + COLUMNS, len(cases)))
        width = len(part)
        heads = [f"{cases[i].title}<br>`{reprs[i]}`" for i in part]
        cells = [f"![{cases[i].title}]({prefix}{files[i]})" for i in part]
        lines += ["| " + " | ".join(heads) + " |", "|" + "---|" * width,
                  "| " + " | ".join(cells) + " |", ""]
    return "\n".join(lines)
