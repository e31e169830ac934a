"""The package version, in a module of its own so that any module may import it without
importing the package's API (and so without an import cycle)."""

__version__ = "0.1.0"
