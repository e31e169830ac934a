"""The `convsheets` command: a thin click layer over build and verify.

Errors are caught in exactly one place (`main`): every user error is one line on stderr and
exit status 2; a failed verification exits 1; success 0.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import click
from PIL import Image

from ._version import __version__
from .animate import DEFAULT_FPS
from .animate import DPI as ANIMATE_DPI
from .animate import FORMATS as ANIMATE_FORMATS
from .animate import VIEWS as ANIMATE_VIEWS
from .animate import animate as animate_file
from .build import build as build_workbook
from .build import build_exercise, check_target
from .errors import ConvsheetsError, OutputError, VerifyInputError, one_line
from .exercise import BLANK_KINDS, Exercise, parse_blank, read_roster, student_seed
from .grade import feedback_path, grade_files, table, write_csv, write_feedback
from .grade import write_json as write_grade_json
from .images import SAMPLES, sample_path
from .kernels import (
    KERNEL_NOTES,
    KERNELS,
    describe_kernel,
)
from .network import Network
from .networks import describe_network, shipped_networks
from .options import VALUE_KINDS, parse_pair
from .outputs import check_targets
from .plan import COLOUR_SCALES, VIEWS
from .presets import describe, preset
from .render import DEFAULT_DPI
from .render import FORMATS as RENDER_FORMATS
from .render import render as render_workbooks
from .request import CLI, OUTPUT_DIR, RequestError, every_preset, resolve
from .variants import VARIANTS
from .verify import (
    DEFAULT_TOLERANCE,
    ENGINE_CHOICES,
    TIMEOUT_PER_FILE,
    exit_status,
    format_report,
    verify_files,
    write_json,
)
from .walk_gallery import GALLERY_DPI
from .walk_gallery import gallery as make_gallery


class PairType(click.ParamType):
    """N or NxM (height x width)."""

    name = "N[xM]"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if isinstance(value, tuple):
            return value
        try:
            return parse_pair(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


PAIR = PairType()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="convsheets")
def cli() -> None:
    """Excel workbooks in which every CNN convolution variant is computed by live formulas."""


@cli.command("list")
def list_variants() -> None:
    """List the variants (two lines each: what it computes, then its preset's numbers) and
    the shipped network examples (one line each)."""
    width = max(len(name) for name in [*VARIANTS, *shipped_networks()])
    for name, variant in VARIANTS.items():
        click.echo(f"{name:<{width}}  {variant.summary}")
        click.echo(f"{'':<{width}}  preset: {describe(preset(name))}")
    click.echo("\nnetworks (convsheets build --template NAME):")
    for name, text in shipped_networks().items():
        click.echo(f"{name:<{width}}  {describe_network(tomllib.loads(text))}")


@cli.command()
@click.option("--variant", type=click.Choice(list(VARIANTS), case_sensitive=False),
              help="Which convolution to build (any case).")
@click.option("--all", "build_all", is_flag=True,
              help="Build every variant's preset and every shipped network (into output/ or "
              "-o DIR).")
@click.option("--template", help="A TOML file of layer options (same keys as the presets), a "
              "network ([[layers]] tables), or the name of a shipped network.")
@click.option("--input-size", type=PAIR, help="Input height x width, e.g. 7x5.")
@click.option("--in-channels", type=int)
@click.option("--out-channels", type=int)
@click.option("--kernel-size", type=PAIR)
@click.option("--stride", type=PAIR)
@click.option("--padding", type=PAIR)
@click.option("--dilation", type=PAIR)
@click.option("--output-padding", type=PAIR, help="Transposed only.")
@click.option("--groups", type=int, help="Grouped and transposed.")
@click.option("--depth-multiplier", type=int, help="Depthwise and separable.")
@click.option("--bias/--no-bias", default=None)
@click.option("--seed", type=int, help="Seed of the random input and weights.")
@click.option("--values", type=click.Choice(VALUE_KINDS),
              help="Small integers (default, checkable by head) or normal floats.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output .xlsx (default output/NAME.xlsx); a directory with --all.")
@click.option("--force", is_flag=True, help="Replace an existing file convsheets did not write.")
@click.option("--colour-scale", type=click.Choice(COLOUR_SCALES, case_sensitive=False),
              default="block", show_default=True,
              help="block: each block its own colour scale (the pattern inside one channel); "
              "tensor: one scale over all blocks of a tensor (all input channels, all outputs), "
              "so equal values get equal colours. The guide says which.")
@click.option("--no-explorer", is_flag=True,
              help="Leave out the Explorer sheets (one per convolution or pooling layer).")
@click.option("--no-overview", is_flag=True,
              help="Leave out the Overview sheet (input, kernel and output side by side).")
@click.option("--no-matrix", is_flag=True, help="Leave out the Matrix sheets (im2col for a "
              "convolution, C and Cᵀ·x for a transposed one).")
@click.option("--no-scatter", is_flag=True,
              help="Leave out the Scatter sheets (transposed convolutions).")
@click.option("--all-views", is_flag=True, help="Also draw the Explorer and Matrix sheets "
              "the default budget leaves out of large layers (too big to read, slow to "
              "verify); the guide's \"Views left out\" lists them.")
@click.option("--image", help="The input from a picture: a PNG/JPEG/GIF/BMP/WebP file or a "
              "bundled sample (convsheets samples); grey with --in-channels 1 (the default "
              "with an image), RGB with 3; resized to --input-size (default: its own size).")
@click.option("--kernel", "kernel_names", help="Classic kernels by name, one per output "
              "channel (or one for all), e.g. sobel-x,sobel-y (convsheets kernels); biases 0.")
@click.option("--weights", "weights_file", type=click.Path(path_type=Path, dir_okay=False),
              help="A safetensors file; network layers with weights = \"prefix\" take "
              "prefix.weight and prefix.bias from it.")
@click.option("--strict", is_flag=True, help="With --weights: a tensor of the file that no "
              "layer reads is an error (exit 2), not a warning.")
@click.option("--backward", is_flag=True, default=None, help="Add the backward pass: a loss "
              "(MSE, or cross-entropy with --loss) against an editable target, every layer's "
              "gradients as live formulas "
              "(grad_output, grad_weight, grad_bias, grad_input) and one SGD step (Update).")
@click.option("--lr", type=float, help="With --backward: the learning rate of the update step "
              "[default: 0.001].")
@click.option("--loss", type=click.Choice(["mse", "cross_entropy"]), help="With --backward: "
              "the loss [default: mse, F.mse_loss with the mean reduction; cross_entropy, "
              "F.cross_entropy, for class scores, against the editable cell target_class].")
@click.option("--exercise", is_flag=True, help="A handout: the --blank blocks (and everything "
              "downstream) are left empty for the student; grade it with convsheets grade.")
@click.option("--blank", "blank_kinds", help="With --exercise: which blocks are answers, "
              "comma-separated: " + ", ".join(BLANK_KINDS) + ", or a network layer's name "
              "[default: output].")
@click.option("--self-check", is_flag=True, help="With --exercise: ✓/✗ beside every answer "
              "cell (for self-study: the file then holds the answers).")
@click.option("--roster", type=click.Path(path_type=Path, dir_okay=False),
              help="With --exercise: a CSV with an id column (and optionally name); one "
              "handout per student, -o DIR/{id}.xlsx, each with its own numbers.")
def build(variant: str | None, build_all: bool, template: str | None, output: Path | None,
          force: bool, colour_scale: str, no_overview: bool, no_explorer: bool, no_matrix: bool,
          no_scatter: bool, all_views: bool, image: str | None, kernel_names: str | None,
          weights_file: Path | None, strict: bool, exercise: bool, blank_kinds: str | None,
          self_check: bool, roster: Path | None, **options: object) -> None:
    """Build a workbook that computes a layer, or a small network, with live formulas."""

    if not exercise and (blank_kinds or self_check or roster):
        flag = "--blank" if blank_kinds else "--self-check" if self_check else "--roster"
        raise click.UsageError(f"{flag} makes exercise handouts; add --exercise")
    if exercise and no_explorer and blank_kinds and "explore" in parse_blank(blank_kinds):
        raise click.UsageError("--blank explore asks about the Explorer sheet; leave out "
                               "--no-explorer")
    if exercise and build_all:
        raise click.UsageError("--exercise builds one handout (or one per student); give "
                               "--variant or --template instead of --all")
    try:
        if roster is not None and (output is None or output.suffix.lower() == ".xlsx"):
            raise click.BadParameter("with --roster give a folder for the handouts, e.g. -o "
                                     "handouts/", param_hint="'--output'")
        jobs = _jobs(variant, build_all, template, output, force, image, kernel_names,
                     weights_file, roster, options, strict)
    except RequestError as exc:  # a usage error, as click's own
        raise click.UsageError(str(exc)) from None
    left_out = {"overview": no_overview, "explorer": no_explorer, "matrix": no_matrix,
                "scatter": no_scatter}
    views = tuple(view for view in VIEWS if not left_out[view])
    if exercise:
        source, target, note = jobs[0]
        _build_exercises(source, target, note, Exercise(
            parse_blank(blank_kinds) if blank_kinds else ("output",), self_check),
            roster, force)
        return
    for network, target, note in jobs:
        hooks, finish = _progress_hooks()
        missing = [p for p in reversed(target.parents) if not p.exists()]
        try:
            result = build_workbook(network, target, force=force,
                                    views=views, colour_scale=colour_scale.lower(),
                                    all_views=all_views,
                                    **hooks)
        finally:
            finish()
        created = [str(p) for p in missing if p.is_dir()]
        if created:
            click.echo(f"created folder{'s' if len(created) > 1 else ''} "
                       + ", ".join(created))
        click.echo(f"wrote {result.path}: {result.cells:,} cells, {result.formulas:,} formulas, "
                   f"{result.size / 1024:,.1f} KiB")
        c, h, w = network.input_shape
        shape = f"({c}, {w})" if network.sequence else f"({c}, {h}, {w})"  # a sequence: C, L
        click.echo(f"  input {shape}" + _resized(network))
        for layer in network.layers:
            click.echo(f"  {layer.name or 'layer'}: {layer.describe(network.sequence)}")
        if network.training is not None:
            against = ("target_class" if network.training.loss == "cross_entropy"
                       else "target")
            click.echo(f"  backward: loss {network.training.loss} against {against}, learning "
                       f"rate {network.training.lr:g} (the Loss, Grad and Update sheets)")
        if note:
            click.echo(f"  {note}")


def _jobs(variant: str | None, build_all: bool, template: str | None, output: Path | None,
          force: bool, image: str | None, kernel_names: str | None, weights_file: Path | None,
          roster: Path | None, options: dict[str, object], strict: bool = False,
          ) -> list[tuple[Network, Path, str]]:
    """(what, where, its preset note) for each workbook to write: every preset and shipped
    network with --all, else the one the request layer resolves."""
    given = {k: v for k, v in options.items() if v is not None}
    if build_all:
        if variant or template or given or image or kernel_names or weights_file:
            raise click.UsageError("--all builds every variant's preset; give layer options "
                                   "with --variant instead")
        directory = output or OUTPUT_DIR
        if directory.exists() and not directory.is_dir():
            raise click.BadParameter(f"{directory} is not a directory", param_hint="'--output'")
        jobs = [(resolved.network, directory / f"{name}.xlsx", "")
                for name, resolved in every_preset().items()]
        for _source, target, _preset in jobs:  # refuse before writing any of them
            check_target(target, force)
        return jobs
    if output is not None and output.suffix.lower() != ".xlsx" and roster is None:
        raise click.BadParameter(f"{output}: give a file name ending in .xlsx",
                                 param_hint="'--output'")
    resolved = resolve(variant, template, weights_file, image, kernel_names, given, CLI,
                       strict=strict)
    for warning in resolved.warnings:
        click.echo(f"warning: {warning}", err=True)
    return [(resolved.network, output or resolved.default_output_path, resolved.preset_note)]


def _resized(network: Network) -> str:
    """", from the image digit, resized from 28x28 to 12x16 ... squashed ...": said where the
    input is, so a picture is never squashed without a word."""
    origin = network.origins.get("input", "")
    return f", from {origin}" if "resized from" in origin else ""


def _build_exercises(network: Network, target: Path, note: str, exercise: Exercise,
                     roster: Path | None, force: bool) -> None:
    """One handout, or one per student of a roster (every target checked before any is
    written, so a refused overwrite leaves nothing half done)."""
    if roster is None:
        result, answers = build_exercise(network, target, exercise, force=force)
        click.echo(f"wrote {result.path}: exercise, {answers:,} answer cells to fill in "
                   f"(blank: {', '.join(exercise.blank)}"
                   f"{', self-check' if exercise.self_check else ''}), seed {network.seed}"
                   + _resized(network))
        if note:
            click.echo(f"  {note}")
        return
    if target.exists() and not target.is_dir():
        raise click.BadParameter(f"{target} is not a directory", param_hint="'--output'")
    students = read_roster(roster)
    jobs = []
    for student in students:
        path = target / f"{student.id}.xlsx"
        check_target(path, force)
        one = dataclasses.replace(exercise, student=student.id, name=student.name,
                                  base_seed=network.seed)
        jobs.append((network.with_seed(student_seed(network.seed, student.id)), path, one))
    answers = 0
    for student_source, path, one in jobs:
        _result, answers = build_exercise(student_source, path, one, force=force)
    click.echo(f"wrote {_count(len(jobs), 'handout', 'handouts')} into {target}/ ({answers:,} "
               f"answer cells each; "
               f"blank: {', '.join(exercise.blank)}"
               f"{', self-check' if exercise.self_check else ''}; seeds from --seed "
               f"{network.seed} and each id)")


@cli.command("samples")
def list_samples() -> None:
    """List the bundled sample images (use them with --image NAME)."""
    for name, text in SAMPLES.items():
        with Image.open(sample_path(name)) as img:
            size = f"{img.height}x{img.width} {img.mode}"
        click.echo(f"{name:<8} {size:<10} {text}")


@cli.command("kernels")
def list_kernels() -> None:
    """List the classic kernels (use them with --kernel NAME[,NAME...])."""
    for name in KERNELS:
        click.echo(f"{name}: {KERNEL_NOTES.get(name, '')}")
        click.echo(describe_kernel(name))
        click.echo()


@cli.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False))
@click.option("--engine", type=click.Choice(ENGINE_CHOICES), default="auto", show_default=True,
              help="Who computes the formulas: a spreadsheet engine (libreoffice, gnumeric, "
              "ironcalc; all: every installed one), or the values cached in the file (what "
              "an application computed when it saved it). auto: cached values an application "
              "computed, else the first installed engine.")
@click.option("--tolerance", type=click.FloatRange(min=0), default=DEFAULT_TOLERANCE,
              show_default=True, help="Relative tolerance (absolute below 1).")
@click.option("--timeout", type=click.FloatRange(min=1), default=TIMEOUT_PER_FILE,
              show_default=True, help="Seconds a spreadsheet application may take per workbook.")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write a machine-readable report here.")
@click.option("-q", "--quiet", is_flag=True, help="Only failing blocks and the summary.")
@click.option("--force", is_flag=True, help="Replace an existing --json file convsheets did "
              "not write.")
def verify(files: tuple[Path, ...], engine: str, tolerance: float, timeout: float,
           json_path: Path | None, quiet: bool, force: bool) -> None:
    """Recalculate workbooks in a spreadsheet application and compare every block with NumPy.

    Exit status: 0 all match, 1 a mismatch, 2 a file or engine is unusable."""
    if not math.isfinite(tolerance):
        raise click.BadParameter(f"{tolerance} is not a finite number",
                                 param_hint="'--tolerance'")
    if json_path is not None:
        _check_report_path(json_path, files, force=force)

    def progress(message: str) -> None:
        click.echo(message, err=True)

    reports = verify_files(list(files), engine=engine, tolerance=tolerance, timeout=timeout,
                           progress=progress if sys.stderr.isatty() else None)
    for report in reports:
        if report.unusable:
            click.echo(f"Error: {one_line(report.unusable)}", err=True)
    click.echo(format_report(reports, tolerance, verbose=not quiet))
    if json_path is not None:
        try:  # (the report is printed already: one line says the file is not written)
            write_json(reports, json_path, tolerance, force)
        except OutputError as exc:
            raise OutputError(f"--json {exc}") from None
        click.echo(f"wrote {json_path}")
    status = exit_status(reports)
    if status:
        sys.exit(status)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--tolerance", type=click.FloatRange(min=0),
              help="Relative tolerance (absolute below 1) [default: 1e-6; 5e-4 for handouts "
              "built with --values normal, which show 3 decimals].")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the grades as CSV (for a gradebook).")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write every answer cell's verdict as JSON.")
@click.option("--feedback", type=click.Path(path_type=Path, file_okay=False),
              help="Write each student a copy with their answer cells marked "
              "(DIR/NAME.feedback.xlsx).")
@click.option("--roster", type=click.Path(path_type=Path, dir_okay=False),
              help="The class's roster (as for build): also list who returned nothing.")
@click.option("--timeout", type=click.FloatRange(min=1), default=TIMEOUT_PER_FILE,
              show_default=True, help="Seconds LibreOffice may take per workbook (only for "
              "files whose formulas have no stored values).")
@click.option("--force", is_flag=True, help="Replace existing --csv, --json or feedback files "
              "convsheets did not write.")
def grade(files: tuple[Path, ...], tolerance: float | None, csv_path: Path | None,
          json_path: Path | None, feedback: Path | None, roster: Path | None,
          timeout: float, force: bool) -> None:
    """Grade returned exercise handouts (convsheets build --exercise) against NumPy.

    Exit status: 0 every file graded (wrong answers are not an error), 2 a file is not an
    exercise or cannot be read (the others are still graded)."""
    if tolerance is not None and not math.isfinite(tolerance):
        raise click.BadParameter(f"{tolerance} is not a finite number",
                                 param_hint="'--tolerance'")
    for path, flag, kind in ((csv_path, "--csv", ".csv"), (json_path, "--json", ".json")):
        if path is not None:
            _check_report_path(path, files, flag, kind, force)
    if feedback is not None:
        if feedback.exists() and not feedback.is_dir():
            raise click.BadParameter(f"{feedback} is not a directory",
                                     param_hint="'--feedback'")
        check_targets([feedback_path(f, feedback) for f in dict.fromkeys(files)
                       if f.suffix.lower() == ".xlsx"], force)
        stems = [f.stem for f in dict.fromkeys(files)]
        twice = next((stem for stem in stems if stems.count(stem) > 1), None)
        if twice is not None:
            raise click.BadParameter(f"two files are named {twice}.xlsx; their feedback copies "
                                     "would overwrite each other", param_hint="'--feedback'")
        inputs = {f.resolve() for f in files}
        clash = [f for f in files if (feedback / f"{f.stem}.feedback.xlsx").resolve() in inputs]
        if clash:
            raise click.BadParameter(f"{clash[0]} would be overwritten by its own feedback",
                                     param_hint="'--feedback'")
    students = read_roster(roster) if roster is not None else None
    grades = grade_files(list(files), tolerance, timeout)
    for g in grades:
        if g.unusable:
            click.echo(f"Error: {one_line(g.unusable)}", err=True)
    click.echo(table(grades, students))
    problems: list[str] = []
    for path, flag, write in ((csv_path, "--csv", write_csv),
                              (json_path, "--json", write_grade_json)):
        if path is None:
            continue
        try:  # (the grades are printed already: one line says the file is not written)
            write(grades, path, students, force)
            click.echo(f"wrote {path}")
        except OutputError as exc:
            problems.append(str(exc))
            click.echo(f"Error: {flag} {one_line(str(exc))}", err=True)
    if feedback is not None:
        written, failed = write_feedback(grades, feedback, force)
        problems += failed
        for problem in failed:
            click.echo(f"Error: {one_line(problem)}", err=True)
        click.echo(f"wrote {_count(len(written), 'feedback copy', 'feedback copies')} into "
                   f"{feedback}/")
    if problems or any(g.unusable for g in grades):
        sys.exit(2)


@cli.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False))
@click.option("--to", "to", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the pictures (created if missing).")
@click.option("--format", "fmt", type=click.Choice(RENDER_FORMATS, case_sensitive=False),
              default="png", show_default=True,
              help="png: one picture per page, FILE-SHEET.png; pdf: FILE.pdf.")
@click.option("--sheet", help="Only the pages of this sheet (e.g. Output).")
@click.option("--dpi", type=click.IntRange(20, 600), default=DEFAULT_DPI, show_default=True,
              help="Resolution of the pictures.")
@click.option("--trim", is_flag=True, help="Cut each picture to what the page shows (no "
              "blank paper, no footer): for slides and documents.")
@click.option("--force", is_flag=True, help="Replace existing pictures or PDFs convsheets did "
              "not write.")
def render(files: tuple[Path, ...], to: Path, fmt: str, sheet: str | None, dpi: int,
           trim: bool, force: bool) -> None:
    """Render workbooks as LibreOffice prints them: one PNG per page, or a PDF.

    Needs LibreOffice (the same headless, private-profile run verify uses); pages are
    attributed to sheets by the footer convsheets prints on every page."""
    if trim and fmt.lower() == "pdf":
        raise click.UsageError("--trim cuts pictures; it has no effect with --format pdf")
    try:
        written = render_workbooks(list(files), to, fmt=fmt.lower(), sheet=sheet, dpi=dpi,
                                   trim=trim, force=force)
    except VerifyInputError as exc:  # (an unknown --sheet: named as the option it is)
        if sheet is not None and str(exc).startswith(f"sheet {sheet!r}: "):
            raise VerifyInputError(f"--sheet {sheet}: "
                                   + str(exc)[len(f"sheet {sheet!r}: "):]) from None
        raise
    for path in written:
        click.echo(f"wrote {path}")


@cli.command()
@click.argument("file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--layer", help="The layer to animate (default: the first with a Walk sheet).")
@click.option("--view", type=click.Choice(ANIMATE_VIEWS), default="explorer",
              show_default=True, help="explorer: the Walk sheet, one frame per output cell.")
@click.option("--frames", default="all", show_default=True,
              help="all, one step N, or a range A-B (0-based steps, inclusive).")
@click.option("--fps", type=float, default=DEFAULT_FPS, show_default=True,
              help="Frames per second.")
@click.option("--format", "fmt", type=click.Choice(ANIMATE_FORMATS), default="gif",
              show_default=True, help="gif, apng (an animated .png) or png (a folder of "
              "frames).")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="The animation (FILE-LAYER-walk.gif by default), or the folder of PNGs.")
@click.option("--gallery", type=click.Path(path_type=Path, file_okay=False),
              help="Instead of FILE: conv_arithmetic's table of animations, built from real "
              "workbooks, into this folder (NAME.gif and gallery.md).")
@click.option("--dpi", type=click.IntRange(40, 300), default=None,
              help=f"Resolution of the frames [default: {ANIMATE_DPI}; the gallery's "
              f"{GALLERY_DPI}].")
@click.option("--force", is_flag=True, help="Replace existing files convsheets did not write.")
def animate(file: Path | None, layer: str | None, view: str, frames: str, fps: float,
            fmt: str, output: Path | None, gallery: Path | None, dpi: int | None,
            force: bool) -> None:
    """Animate a layer's Walk sheet: one frame per output cell, as LibreOffice prints it.

    Every frame is the workbook's own Walk sheet with its step set (what typing the step
    in the Explorer's step cell shows), all printed in one LibreOffice start."""
    progress, finish = _frames_bar()
    try:
        if gallery is not None:
            if file is not None or output is not None:
                raise click.UsageError("--gallery makes its own workbooks: give no FILE "
                                       "and no -o")
            written = make_gallery(gallery, fps=fps, force=force, dpi=dpi or GALLERY_DPI,
                                   progress=progress)
        else:
            if file is None:
                raise click.UsageError("give a workbook FILE (or --gallery DIR)")
            written = animate_file(file, layer=layer, view=view, frames=frames, fps=fps,
                                   fmt=fmt, output=output, force=force,
                                   dpi=dpi or ANIMATE_DPI, progress=progress)
    finally:
        finish()
    if fmt == "png" and gallery is None:
        click.echo(f"wrote {len(written)} frames into {written[0].parent}/")
    else:
        for path in written:
            click.echo(f"wrote {path}")


def _frames_bar() -> tuple[Callable[[str, int, int], None], Callable[[], None]]:
    """A progress bar on stderr for animate: a line while LibreOffice works, then a bar over
    the frames rendered."""
    state: dict[str, object] = {}

    def progress(what: str, done: int, total: int) -> None:
        if done == 0:
            click.echo(f"{what} ({total:,} frames)...", err=True)
            return
        bar = state.get("bar")
        if bar is None:
            bar = click.progressbar(length=total, label=what, file=sys.stderr)
            bar.__enter__()
            state["bar"] = bar
        bar.update(1)  # type: ignore[attr-defined]

    def finish() -> None:
        bar = state.pop("bar", None)
        if bar is not None:
            bar.__exit__(None, None, None)  # type: ignore[attr-defined]

    return progress, finish


def _check_report_path(path: Path, files: tuple[Path, ...], flag: str = "--json",
                       kind: str = ".json", force: bool = False) -> None:
    """Fail before the (possibly long) verification, not after it: the rule of `outputs`
    (never over a file convsheets did not write, a folder that takes files)."""
    if path.resolve() in {f.resolve() for f in files}:
        raise click.BadParameter(f"{path} is one of the workbooks given",
                                 param_hint=f"'{flag}'")
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods"):
        raise click.BadParameter(f"{path} looks like a workbook; give a {kind} file name",
                                 param_hint=f"'{flag}'")
    try:
        check_targets([path], force)
    except OutputError as exc:
        raise OutputError(f"{flag} {exc}") from None


def _count(n: int, one: str, many: str) -> str:
    """"1 handout", "2 handouts"."""
    return f"{n:,} {one if n == 1 else many}"


def _progress_hooks() -> tuple[dict[str, object], Callable[[], None]]:
    """A progress bar on stderr for big builds, only when stderr is a terminal.
    Returns the build's hooks and a function that closes the bar."""
    state: dict[str, object] = {}

    def finish() -> None:
        bar = state.pop("bar", None)
        if bar is not None:
            bar.__exit__(None, None, None)  # type: ignore[attr-defined]

    if not sys.stderr.isatty():
        return {}, finish

    def on_start(plan, cells: int) -> None:  # type: ignore[no-untyped-def]
        if cells >= 200_000:
            rows = sum(sheet.max_row - sheet.first_row + 1 for sheet in plan.sheets)
            bar = click.progressbar(length=rows, label=f"writing {cells:,} cells",
                                    file=sys.stderr)
            bar.__enter__()
            state["bar"] = bar

    def progress(n: int) -> None:
        bar = state.get("bar")
        if bar is not None:
            bar.update(n)  # type: ignore[attr-defined]

    return {"on_start": on_start, "progress": progress}, finish


def _terminate(signum, frame):  # type: ignore[no-untyped-def]
    """SIGTERM behaves like Ctrl-C: unwind, so temporary files are removed."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; turn every error into one line and an exit status."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        cli.main(args=argv, prog_name="convsheets", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.MissingParameter as exc:  # e.g. `convsheets verify` with no files
        if exc.ctx is not None:
            click.echo(exc.ctx.get_usage(), err=True)
            click.echo(f"Try '{exc.ctx.command_path} --help' for help.\n", err=True)
        click.echo(f"Error: {one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"Error: {one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except ConvsheetsError as exc:
        click.echo(f"Error: {one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Aborted.", err=True)
        sys.exit(130)
    sys.exit(0)




__all__ = ["cli", "main"]
