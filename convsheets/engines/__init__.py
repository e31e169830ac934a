"""Registry of recalculation engines.

Adding an engine: write one module with a class satisfying `Engine` (see base.py), import
it here and add one line to ENGINES.
"""

from __future__ import annotations

from convsheets.engines.base import Engine, EngineError
from convsheets.engines.gnumeric import GnumericEngine
from convsheets.engines.ironcalc import IronCalcEngine
from convsheets.engines.libreoffice import LibreOfficeEngine

__all__ = ["ENGINES", "Engine", "EngineError", "get_engine", "installed_engines"]

ENGINES: dict[str, Engine] = {
    "libreoffice": LibreOfficeEngine(),
    "gnumeric": GnumericEngine(),
    "ironcalc": IronCalcEngine(),
}


def get_engine(name: str) -> Engine:
    """The named engine, checked to be installed, so failures happen before any work."""
    engine = ENGINES.get(name)
    if engine is None:
        choices = ", ".join(sorted(ENGINES))
        raise EngineError(f"unknown engine {name!r}: choose one of {choices}")
    if not engine.available():
        raise EngineError(f"{name} is not available: {engine.install_hint}, or use --engine cached")
    return engine


def installed_engines() -> list[str]:
    """Names of the engines whose application is installed, in registry order."""
    return [name for name, engine in ENGINES.items() if engine.available()]
