"""The Python API, for notebooks and scripts: what the command line does, as functions.

    import convsheets
    convsheets.build("transposed", stride=2, output="t.xlsx")     # a variant's preset + options
    convsheets.build(template="edges", seed=4)                     # a network (shipped or file)
    convsheets.build(template="net.toml", weights="model.safetensors", output="mine.xlsx")
    convsheets.build("basic", image="digit", kernel="sobel-x,sobel-y")  # a picture, edge kernels
    convsheets.from_module(torch_sequential, x, "mine.xlsx")       # your own PyTorch layers
    reports = convsheets.verify("t.xlsx", engine="libreoffice")    # recalculate and compare
    assert all(r.ok for r in reports)
    convsheets.build("basic", exercise=True, blank="padded,output", output="hw.xlsx")
    grades = convsheets.grade("returned/a.xlsx", "returned/b.xlsx")  # score returned handouts

Options take the command line's names with underscores (``input_size``, ``kernel_size``) and
its forms (``3``, ``(3, 2)``, ``"3x2"``); `build` resolves its request exactly as the command
line does (`convsheets.request`), so the same request writes the same bytes. Every error is a
`ConvsheetsError` subclass with a one-line message: the rule the command line states, with the
argument named as this call takes it (``kernel=``, not ``--kernel``; messages about a file's
contents, a template's, an image's or a weights file's, name it as the command line does);
nothing here exits the interpreter.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

import numpy as np

from .animate import DEFAULT_FPS, AnimateError
from .animate import DPI as ANIMATE_DPI
from .animate import animate as animate_file
from .build import BuildResult, build_exercise, progress_hooks
from .build import build as build_workbook
from .engines import ENGINES
from .errors import OutputError, SpecError, VerifyInputError
from .exercise import Exercise, parse_blank
from .grade import Grade, grade_files
from .plan import COLOUR_SCALES, VIEWS
from .readback import read_blocks
from .render import DEFAULT_DPI
from .render import FORMATS as RENDER_FORMATS
from .render import render as render_workbooks
from .request import API, resolve
from .request import OUTPUT_DIR as OUTPUT_DIR  # output/NAME.xlsx, as the command line
from .torch_module import from_module
from .verify import DEFAULT_TOLERANCE, ENGINE_CHOICES, TIMEOUT_PER_FILE, FileReport, verify_files
from .walk_gallery import GALLERY_DPI
from .walk_gallery import gallery as make_gallery

HERE = API.name  # names the call in messages about its own options


class UnusedWeightsWarning(UserWarning):
    """A weights file holds tensors that no layer of the template reads (a layer left out
    changes what the workbook computes); ``strict=True`` makes it an error."""

__all__ = ["UnusedWeightsWarning", "animate", "build", "from_module", "grade", "read",
           "render", "verify"]


def build(variant: str | None = None, *,
          template: str | Path | Mapping[str, object] | None = None,
          weights: str | Path | Mapping[str, np.ndarray] | None = None,
          image: str | Path | None = None, kernel: str | Sequence[str] | None = None,
          output: str | Path | None = None, force: bool = False,
          views: Collection[str] = VIEWS, colour_scale: str = "block", exercise: bool = False,
          blank: str = "output", self_check: bool = False, strict: bool = False,
          on_progress: Callable[[int, int], None] | None = None,
          all_views: bool = False, **options: object) -> BuildResult:
    """Build a workbook, as ``convsheets build`` does, and return what was written.

    - ``build("grouped", groups=2, in_channels=4)``: a variant (``convsheets list`` shows
      them) from its preset, with layer `options` (input_size, in_channels, out_channels,
      kernel_size, stride, padding, dilation, output_padding, groups, depth_multiplier, bias,
      seed, values) replacing the preset's.
    - ``build(template="net.toml")``: a template file, a shipped network's name (``"edges"``)
      or a parsed template (a dict). A network template (``[[layers]]``) takes only
      input_size, in_channels, seed and values as options; `weights` (a ``.safetensors``
      path, or a mapping of name -> array) supplies the tensors its layers name with
      ``weights = "features.0"``.
    - `image` (``--image``): the input from a picture, a PNG/JPEG/GIF/BMP/WebP file or a
      bundled sample (``"digit"``, ``"scene"``, ``"colour"``; ``convsheets samples``); grey
      with in_channels 1 (the default with an image), RGB with 3; resized to input_size
      (default: its own size). For a variant or a network.
    - `kernel` (``--kernel``): a variant's weights from classic kernels by name, one per output
      channel or one for all (``"sobel-x,sobel-y"`` or ``["sobel-x", "sobel-y"]``;
      ``convsheets kernels``); biases 0; kernel_size (and, for several, out_channels) follow
      from them unless given. In a network template a layer says ``kernel = "sobel-x"``.

    - ``backward=True`` (``--backward``): the loss, every layer's gradients and one SGD step
      (``lr=0.001``, ``loss="mse"`` or ``loss="cross_entropy"`` for a network ending in class
      scores; a template may also give ``target``: a tensor for mse, a class for cross_entropy).

    The same request gives the same file as the command line (``build("basic",
    image="digit", kernel="sobel-x,sobel-y")`` is ``convsheets build --variant basic --image
    digit --kernel sobel-x,sobel-y``): both go through `convsheets.request.resolve`.

    `output` defaults to ``output/NAME.xlsx`` (relative to the working directory); an existing
    file convsheets did not write is replaced only with ``force=True``. `views` chooses the
    optional sheets (``convsheets.plan.VIEWS``: "overview", "explorer", "matrix", "scatter"; all by
    default), within a default budget per layer: an explorer or matrix view too large to read
    or too slow to verify on a model-sized layer is left out, and the guide's "Views left out"
    says which and why; ``all_views=True`` (``--all-views``) draws them all
    (`convsheets.budget`). `colour_scale`: ``"block"`` (each block its own) or ``"tensor"``
    (one over all blocks of a tensor). Options given as None are ignored (as options left off
    the command line). ``exercise=True`` writes a handout (``--exercise``): `blank` names the
    answer blocks' kinds, `self_check` adds ✓/✗ cells (a handout shows no other views: they would
    give the answers away; its numbers come from its seed, so not with image, kernel or
    weights). A tensor of `weights` that no layer reads is reported by `warnings.warn`
    (`UnusedWeightsWarning`); ``strict=True`` makes it a `WeightsError` (``--strict``).
    ``on_progress(done, total)`` hears how many rows of cells are written, of how many
    (`convsheets.build.progress_hooks`), for a progress bar on a big model."""
    if colour_scale not in COLOUR_SCALES:
        raise SpecError("colour_scale", colour_scale, "must be one of "
                        + ", ".join(COLOUR_SCALES), HERE)
    unknown = sorted(set(views) - set(VIEWS))
    if unknown:
        raise SpecError("views", unknown[0], "is not a view (" + ", ".join(VIEWS) + ")", HERE)
    if not exercise and (blank != "output" or self_check):
        raise SpecError("exercise", False, "blank= and self_check= make an exercise handout; "
                        "add exercise=True", HERE)
    target = Path(output) if output is not None else None
    if target is not None and target.suffix.lower() != ".xlsx":
        raise OutputError(f"{target}: give a file name ending in .xlsx")
    try:
        resolved = resolve(variant, template, weights, image, kernel, options, API,
                           strict=strict)
    except SpecError as exc:  # a layer option's error, named as this call's argument
        raise (exc.located(HERE) if not exc.where else exc) from None
    for text in resolved.warnings:
        warnings.warn(text, UnusedWeightsWarning, stacklevel=2)
    if exercise:
        return build_exercise(resolved.network, target or resolved.default_output_path,
                              Exercise(parse_blank(blank), self_check), force=force)[0]
    hooks = progress_hooks(on_progress) if on_progress is not None else {}
    return build_workbook(resolved.network, target or resolved.default_output_path,
                          force=force, views=views, colour_scale=colour_scale,
                          all_views=all_views, **hooks)  # type: ignore[arg-type]


def read(path: str | Path, name: str, *, engine: str | None = None,
         timeout: float = 300.0) -> np.ndarray:
    """One block of a workbook as a float64 NumPy array.

    `name` is a block's defined name (``"input_c0"``, ``"fc1_output"``, ``"probabilities"``:
    a 2-D array, rows x columns as on the sheet) or the common prefix of a stage's channel
    blocks (``"conv1_output"`` for ``conv1_output_c0`` ...: a (C, H, W) array). With
    ``engine=None`` the values the file holds are read (what convsheets stored when it built
    the file, or what the application that last saved it calculated); with ``engine=
    "libreoffice"``, ``"gnumeric"`` or ``"ironcalc"`` a copy is recalculated by that engine
    first (the file is not touched). Text and empty cells read as NaN. Raises a
    `ConvsheetsError` subclass (an unknown name: `SpecError`, listing the file's blocks)."""
    if engine is not None and engine not in ENGINES:
        raise SpecError("engine", engine, "must be None (the stored values) or one of "
                        "libreoffice, gnumeric, ironcalc", "convsheets.read")
    return read_blocks(path, [name], engine, timeout)[name]


def grade(*paths: str | Path, tolerance: float | None = None) -> list[Grade]:
    """Grade returned exercise handouts, as ``convsheets grade`` does; one `Grade` per file
    (``correct``, ``total``, ``score``, ``edited``, ``blocks``; ``unusable`` says why a file
    could not be graded). `tolerance`: relative, absolute below 1; by default 1e-6 (5e-4 for
    handouts with decimal values, shown with 3 digits). LibreOffice starts once, only if a
    file's formulas have no stored values."""
    if not paths:
        raise VerifyInputError("convsheets.grade: give at least one workbook")
    if tolerance is not None and (
            isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
            or not (math.isfinite(tolerance) and tolerance >= 0)):
        raise SpecError("tolerance", tolerance, "must be a finite number, at least 0",
                        "convsheets.grade")
    return grade_files([Path(p) for p in paths],
                       None if tolerance is None else float(tolerance))


def render(*paths: str | Path, to: str | Path, format: str = "png",  # noqa: A002
           sheet: str | None = None, dpi: int = DEFAULT_DPI, trim: bool = False,
           force: bool = False) -> list[Path]:
    """Render workbooks as LibreOffice prints them, as ``convsheets render`` does: one PNG
    per page (``STEM-SHEET.png``) or the PDF, into the folder `to`; returns the files
    written. An existing file is replaced only when convsheets wrote it, or with
    ``force=True``. Needs LibreOffice (EngineError otherwise)."""
    where = "convsheets.render"
    if not paths:
        raise VerifyInputError(f"{where}: give at least one workbook")
    if format not in RENDER_FORMATS:
        raise SpecError("format", format, "must be one of " + ", ".join(RENDER_FORMATS), where)
    if isinstance(dpi, bool) or not isinstance(dpi, int) or not 20 <= dpi <= 600:
        raise SpecError("dpi", dpi, "must be a whole number from 20 to 600", where)
    if trim and format == "pdf":
        raise SpecError("trim", trim, "cuts pictures; it has no effect with format='pdf'",
                        where)
    return render_workbooks([Path(p) for p in paths], Path(to), fmt=format, sheet=sheet,
                            dpi=dpi, trim=trim, force=force)


def animate(workbook: str | Path | None = None, *, layer: str | None = None,
            view: str = "explorer", frames: str | int = "all", fps: float = DEFAULT_FPS,
            format: str = "gif", output: str | Path | None = None,  # noqa: A002
            gallery: str | Path | None = None, dpi: int | None = None,
            force: bool = False) -> list[Path]:
    """Animate a layer's Walk sheet, as ``convsheets animate`` does: one frame per output
    cell (`frames`: ``"all"``, a step ``N`` or a range ``"A-B"``), each the workbook's own
    Walk with its step set, printed by LibreOffice in one start; written as an animated GIF,
    an APNG (``format="apng"``) or a folder of PNGs (``format="png"``). `output` defaults to
    ``WORKBOOK-LAYER-walk.gif`` beside the workbook. ``gallery="DIR"`` instead makes
    conv_arithmetic's table of animations from workbooks it builds. Returns the files
    written (show a GIF in a notebook with ``IPython.display.Image(filename=...)``)."""
    where = "convsheets.animate"
    try:
        if gallery is not None:
            if workbook is not None or output is not None:
                raise SpecError("gallery", str(gallery), "makes its own workbooks: give no "
                                "workbook and no output", where)
            return make_gallery(Path(gallery), fps=fps, force=force,
                                dpi=GALLERY_DPI if dpi is None else dpi)
        if workbook is None:
            raise VerifyInputError(f"{where}: give a workbook (or gallery=DIR)")
        dpi = ANIMATE_DPI if dpi is None else dpi
        if isinstance(dpi, bool) or not isinstance(dpi, int) or not 40 <= dpi <= 300:
            raise SpecError("dpi", dpi, "must be a whole number from 40 to 300", where)
        return animate_file(Path(workbook), layer=layer, view=view, frames=str(frames),
                            fps=fps, fmt=format,
                            output=Path(output) if output is not None else None,
                            force=force, dpi=dpi)
    except AnimateError as exc:
        raise exc.located(where) from None


def verify(*paths: str | Path, engine: str = "auto", tolerance: float = DEFAULT_TOLERANCE,
           timeout: float = TIMEOUT_PER_FILE) -> list[FileReport]:
    """Recalculate each workbook in a spreadsheet application and compare every named block
    with NumPy, as ``convsheets verify`` does; one report per file, in order.

    `engine`: ``"libreoffice"``, ``"gnumeric"``, ``"ironcalc"``, ``"all"`` (every installed
    one), ``"cached"`` (the values stored in the file: not a proof) or ``"auto"``. A report's
    ``ok`` is true when every block matched (relative `tolerance`, absolute below 1); a file
    that cannot be verified at all has ``ok`` false and says why in ``unusable``. Every
    engine starts once for the whole batch (`timeout`: seconds per workbook)."""
    if not paths:
        raise VerifyInputError("convsheets.verify: give at least one workbook")
    if engine not in ENGINE_CHOICES:
        raise SpecError("engine", engine, "must be one of " + ", ".join(ENGINE_CHOICES),
                        "convsheets.verify")
    for key, value, low in (("tolerance", tolerance, 0.0), ("timeout", timeout, 1.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and value >= low):
            raise SpecError(key, value, f"must be a finite number, at least {low:g}",
                            "convsheets.verify")
    return verify_files([Path(p) for p in paths], engine=engine, tolerance=float(tolerance),
                        timeout=float(timeout))
