"""convsheets: Excel workbooks that compute every CNN convolution variant with live formulas."""

__version__ = "0.1.0"
