"""The `convsheets` command: a thin click layer over build and verify.

Errors are caught in exactly one place (`main`): every user error is one line on stderr and
exit status 2; a failed verification exits 1; success 0.
"""

from __future__ import annotations

import math
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import click

from . import __version__
from .build import build as build_workbook
from .build import check_target
from .errors import ConvsheetsError
from .presets import describe, load_template, preset
from .spec import VALUE_KINDS, VARIANTS, LayerSpec, parse_pair
from .verify import (
    DEFAULT_TOLERANCE,
    ENGINE_CHOICES,
    TIMEOUT_PER_FILE,
    exit_status,
    format_report,
    verify_files,
    write_json,
)

OUTPUT_DIR = Path("output")


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
    """List the variants, one line each, with their presets."""
    from .variants import VARIANTS as REGISTRY

    width = max(len(name) for name in REGISTRY)
    for name, variant in REGISTRY.items():
        click.echo(f"{name:<{width}}  {variant.summary}")
        click.echo(f"{'':<{width}}  preset: {describe(preset(name))}")


@cli.command()
@click.option("--variant", type=click.Choice(VARIANTS), help="Which convolution to build.")
@click.option("--all", "build_all", is_flag=True,
              help="Build every variant's preset (into output/ or -o DIR).")
@click.option("--template", type=click.Path(path_type=Path, dir_okay=False),
              help="A TOML file of layer options (same keys as the presets).")
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
              help="Output .xlsx (default output/VARIANT.xlsx); a directory with --all.")
@click.option("--force", is_flag=True, help="Replace an existing file convsheets did not write.")
def build(variant: str | None, build_all: bool, template: Path | None, output: Path | None,
          force: bool, **options: object) -> None:
    """Build a workbook that computes one convolution layer with live formulas."""

    given = {k: v for k, v in options.items() if v is not None}
    if build_all:
        if variant or template or given:
            raise click.UsageError("--all builds every variant's preset; give layer options "
                                   "with --variant instead")
        directory = output or OUTPUT_DIR
        if directory.exists() and not directory.is_dir():
            raise click.BadParameter(f"{directory} is not a directory", param_hint="'--output'")
        specs = [LayerSpec.create(name, {}, preset(name)) for name in VARIANTS]
        targets = [directory / f"{spec.variant}.xlsx" for spec in specs]
        for target in targets:  # refuse before writing any of them
            check_target(target, force)
    else:
        from_template: dict[str, object] = load_template(template) if template else {}
        variant = variant or from_template.pop("variant", None)  # type: ignore[assignment]
        from_template.pop("variant", None)
        if variant is None:
            raise click.UsageError("give --variant (one of " + ", ".join(VARIANTS) +
                                   "), --template FILE or --all")
        spec = LayerSpec.create(variant, {**from_template, **given}, preset(variant))
        if output is not None and output.suffix.lower() != ".xlsx":
            raise click.BadParameter(f"{output}: give a file name ending in .xlsx",
                                     param_hint="'--output'")
        specs = [spec]
        targets = [output or OUTPUT_DIR / f"{variant}.xlsx"]
    for spec, target in zip(specs, targets, strict=True):
        hooks, finish = _progress_hooks()
        try:
            result = build_workbook(spec, target, force=force, **hooks)
        finally:
            finish()
        click.echo(f"wrote {result.path}: {result.cells:,} cells, {result.formulas:,} formulas, "
                   f"{result.size / 1024:,.1f} KiB")


@cli.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False))
@click.option("--engine", type=click.Choice(ENGINE_CHOICES), default="auto", show_default=True,
              help="Who computes the formulas: a spreadsheet application, or the values "
              "cached in the file (what Excel/LibreOffice computed when it was saved). "
              "auto: cached if every formula has a value, else libreoffice.")
@click.option("--tolerance", type=click.FloatRange(min=0), default=DEFAULT_TOLERANCE,
              show_default=True, help="Relative tolerance (absolute below 1).")
@click.option("--timeout", type=click.FloatRange(min=1), default=TIMEOUT_PER_FILE,
              show_default=True, help="Seconds a spreadsheet application may take per workbook.")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write a machine-readable report here.")
@click.option("-q", "--quiet", is_flag=True, help="Only failing blocks and the summary.")
def verify(files: tuple[Path, ...], engine: str, tolerance: float, timeout: float,
           json_path: Path | None, quiet: bool) -> None:
    """Recalculate workbooks in a spreadsheet application and compare every block with NumPy.

    Exit status: 0 all match, 1 a mismatch, 2 a file or engine is unusable."""
    if not math.isfinite(tolerance):
        raise click.BadParameter(f"{tolerance} is not a finite number",
                                 param_hint="'--tolerance'")
    if json_path is not None:
        _check_report_path(json_path, files)

    def progress(message: str) -> None:
        click.echo(message, err=True)

    reports = verify_files(list(files), engine=engine, tolerance=tolerance, timeout=timeout,
                           progress=progress if sys.stderr.isatty() else None)
    for report in reports:
        if report.unusable:
            click.echo(f"Error: {_one_line(report.unusable)}", err=True)
    click.echo(format_report(reports, tolerance, verbose=not quiet))
    if json_path is not None:
        write_json(reports, json_path, tolerance)
    status = exit_status(reports)
    if status:
        sys.exit(status)


def _check_report_path(path: Path, files: tuple[Path, ...]) -> None:
    """Fail before the (possibly long) verification, not after it."""
    if path.resolve() in {f.resolve() for f in files}:
        raise click.BadParameter(f"{path} is one of the workbooks to verify",
                                 param_hint="'--json'")
    if path.is_dir() or not path.parent.is_dir():
        raise click.BadParameter(f"{path}: its folder does not exist or it is a directory",
                                 param_hint="'--json'")
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods"):
        raise click.BadParameter(f"{path} looks like a workbook; give a .json file name",
                                 param_hint="'--json'")


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
    except click.ClickException as exc:
        click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except ConvsheetsError as exc:
        click.echo(f"Error: {_one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Aborted.", err=True)
        sys.exit(130)
    sys.exit(0)


def _one_line(message: str) -> str:
    return " ".join(message.split())


__all__ = ["cli", "main"]
