"""convsheets: Excel workbooks that compute every CNN convolution variant with live formulas.

The Python API (see `convsheets.api`) mirrors the command line::

    convsheets.build(variant=None, *, template=None, weights=None, output=None, force=False,
                     **options) -> BuildResult
    convsheets.verify(*paths, engine="auto", tolerance=1e-9, timeout=300.0) -> list[FileReport]
    convsheets.from_module(module, x, path, *, force=False, **build_options) -> BuildResult
    convsheets.grade(*paths, tolerance=1e-6) -> list[Grade]
    convsheets.read(path, name, engine=None) -> numpy.ndarray
    convsheets.render(*paths, to, format="png", sheet=None, dpi=110, trim=False) -> list[Path]
    convsheets.animate(workbook, *, layer=None, frames="all", fps=2, format="gif", output=None,
                       gallery=None) -> list[Path]
"""

from ._version import __version__
from .api import animate, build, from_module, grade, read, render, verify

__all__ = ["__version__", "animate", "build", "from_module", "grade", "read", "render", "verify"]
