"""What every op module declares: the contract between an op and the rest of convsheets.

An op is configuration + geometry + reference, like a `torch.nn.Module` holds configuration
and forward: its options and PyTorch's defaults for them, the rules PyTorch enforces (as
`SpecError`s naming the option), its shape arithmetic and parameter count, how PyTorch prints
it (`extra_repr`), the guide's words for it, its NumPy reference, and its declared geometry
(`window`: which cells of which intermediate stage each output cell reads, with the reference
of that stage). It knows nothing of sheets: drawing (`convsheets.draw`) and the views
(`convsheets.views`) are passes over the network that read this interface, so no module here
imports the plan, the layout, a view or the guide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from ..errors import SpecError
from ..options import to_bool, to_float, to_float_pair, to_int, to_padding, to_pair, to_text

Shape = tuple[int, int, int]  # (channels, height, width) of one image, as PyTorch without batch
REQUIRED = object()  # an option PyTorch requires (no default)
_READERS: dict[str, Callable[[str, object], object]] = {
    "pair": to_pair, "int": to_int, "bool": to_bool, "float": to_float, "padding": to_padding,
    "str": to_text, "float_pair": to_float_pair}


@dataclass(frozen=True)
class Window:
    """An op's declared geometry: output cell (c, r, k) reads, from each of the `per_in`
    channels of its group in the op's *window source* (the stage the windows are cut from:
    the padded input of a convolution, the zero-inserted input of a transposed one, the raw
    input of a pooling), the taps ``position * stride + offset + tap * dilation`` along each
    axis; taps outside the source are padding that the op leaves out. The drawing and the
    explorer read this; the expected values come from `Op.window_source` and
    `Op.window_kernels`, which use the reference's own helpers."""

    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    offset: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    per_in: int = 1  # input channels one output channel reads (its group's)
    per_out: int = 1  # output channels per group
    kernels_by: str = ""  # "" no kernel; "out": weight[out][in/g]; "in": weight[in][out/g]
    reduce: str = "SUM"  # SUM (+ bias), MAX, MEAN (SUM / kH*kW), AVERAGE (of inside taps)
    source_label: str = "input"  # what the windows are cut from, in the explorer's words
    kernel_label: str = "kernel"
    overhang: bool = False  # a window may hang over the bottom / right edge (ceil_mode)


@dataclass(frozen=True)
class Op:
    """One configured layer of one kind. Subclasses are frozen dataclasses whose fields are the
    layer's options, PyTorch names and layout, every value resolved (no `None` left)."""

    op: ClassVar[str]  # the template spelling: "conv2d"
    module: ClassVar[str]  # the torch.nn class it equals: "Conv2d"
    default_prefix: ClassVar[str]  # default layer names count per op: conv1, conv2, ...
    summary: ClassVar[str]  # one line for the guide and `convsheets list`
    # option -> (kind, PyTorch default): kinds "pair", "int", "bool"; REQUIRED has no default
    options: ClassVar[dict[str, tuple[str, object]]]
    has_parameters: ClassVar[bool] = False
    # Vectors: a flatten or a linear gives a vector of features (held as (1, 1, N)); only
    # ops with `vector_ok` may follow one (a convolution over a feature vector means nothing)
    flattens: ClassVar[bool] = False
    vector_ok: ClassVar[bool] = False
    differentiable: ClassVar[bool] = False  # has a gradient rule (`backward`) and sheets
    # Sequences: a 1-D op (conv1d, ...) reads a (C, L) input, held as (C, 1, L) so the 2-D
    # machinery draws and checks it; 0: any input (element-wise ops), 2: images only
    dims: ClassVar[int] = 2

    def input_groups(self) -> int:
        """Groups its input channels fall into (a grouped convolution's), so the sheets that
        hold them can set each group apart."""
        return 1

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(cls, given: dict[str, object], in_shape: Shape) -> Op:
        """Validate `given` (template or preset values) against this op for an input of
        `in_shape`; unset options take PyTorch's defaults. Raises SpecError naming the key."""
        for key, value in given.items():
            if key not in cls.options:
                known = (f"its options: {', '.join(cls.options)}" if cls.options
                         else f"{cls.op} has no options")
                raise SpecError(key, value, f"is not an option of {cls.op} ({known})")
        values: dict[str, object] = {}
        for key, (kind, default) in cls.options.items():
            if key in given:
                values[key] = _READERS[kind](key, given[key])
            elif default is REQUIRED:
                raise SpecError(key, None, f"is required by {cls.op}")
            else:
                values[key] = default
        op = cls._resolve(values, in_shape)
        op.check(in_shape)
        return op

    @classmethod
    def _resolve(cls, values: dict[str, object], in_shape: Shape) -> Op:
        """Fill the options whose default depends on others (pooling's stride) or on the input
        (in_channels). The default: every option is a field as given."""
        return cls(**values)  # type: ignore[arg-type]

    def check(self, in_shape: Shape) -> None:
        """Every rule PyTorch enforces for this op on an input of `in_shape`."""

    def placed(self, in_shape: Shape, vector: bool) -> Op:
        """The op where it sits in the chain: `vector` when its input is a vector of features
        (after a flatten or a linear). Most ops are the same either way; softmax's dim=1
        means the channels of a map but the features of a vector."""
        return self

    # ------------------------------------------------------------------ what it is
    def output_shape(self, in_shape: Shape) -> Shape:
        raise NotImplementedError

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        """The op's editable tensors by local name ("weight", "bias"), PyTorch layout."""
        return {}

    def given_shapes(self) -> dict[str, tuple[int, ...]]:
        """The editable tensors' shapes as PyTorch holds them, so templates, weight files and
        modules give them so (a 1-D op's weight has no height axis); `tensor_shapes` is how
        convsheets holds them."""
        return self.tensor_shapes()

    def parameter_count(self) -> int:
        return sum(int(np.prod(shape)) for shape in self.tensor_shapes().values())

    def extra_repr(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        """As PyTorch prints the module: ``Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))``."""
        return f"{self.module}({self.extra_repr()})"

    def as_options(self) -> dict[str, object]:
        """JSON-ready, complete (recorded in the workbook, read back by verify)."""
        out: dict[str, object] = {"op": self.op}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def steps(self) -> tuple[str, ...]:
        """The seed's steps for this op, as the guide shows them."""
        raise NotImplementedError

    def zero_styles(self, in_shape: Shape) -> set[str]:
        """Which kinds of structural zero this layer draws (for the guide's colour legend)."""
        return set()

    # ------------------------------------------------------------------ the guide
    def size_formula(self, axis: int, size: str) -> str:
        """Excel expression of the output length along `axis` from the input length `size`
        (a cell reference); the layer's other parameters appear as numbers."""
        raise NotImplementedError

    def size_text(self, axis: int, size: int) -> str:
        """The same arithmetic written out for a reader, with this layer's numbers."""
        raise NotImplementedError

    # Variants draw their guide's arithmetic from the op of their (first) layer: the output
    # size and parameter count over the guide's parameter cells (keys as the guide names them).
    def size_expression(self, r: Callable[[str], str]) -> str:
        """The output length as an Excel expression of the parameters `r(key)` returns."""
        raise NotImplementedError

    def count_expression(self, r: Callable[[str], str]) -> str:
        """The parameter count as an Excel expression of the parameters `r(key)` returns."""
        raise NotImplementedError

    count_text: ClassVar[str] = ""  # that count written for a reader

    def parameter_count_formula(self, in_channels: str) -> str | None:
        """Excel expression of the parameter count from the input channel count (a cell
        reference), or None for an op without parameters."""
        return None

    def guide_shape(self, in_shape: Shape) -> Shape:
        """The output shape for an input of `in_shape` by the reference's size rules (the
        guide's what-if table): a layer with parameters fixes its channels."""
        c, h, w = in_shape
        return (self.output_shape(in_shape)[0] if self.has_parameters else c,
                self.reference_size(0, h), self.reference_size(1, w))

    def shape_formulas(self, refs: dict[str, str]) -> dict[str, str] | None:
        """Excel expressions of the output channels, height and width from the input's
        (`refs` by those keys), for an op whose sizes mix the axes (flatten); None: the
        per-axis `size_formula`."""
        return None

    # ------------------------------------------------------------------ the geometry
    def window(self) -> Window | None:
        """Which cells each output cell reads (None: an op without windows, e.g. ReLU)."""
        return None

    def window_source(self, x: np.ndarray) -> np.ndarray:
        """The stage the windows are cut from, for input `x`, by the reference's helpers."""
        return x

    def window_position(self, axis: int, index: int) -> int:
        """Where input cell `index` along `axis` sits in the window source (shifted by the
        zeros before it; spread out by a transposed convolution's zero insertion), so a view
        can follow a window back to the input cells it reads."""
        return index

    def stages(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The layer's intermediate stages by kind (padded, upsampled: (C, H, W); flipped,
        dilated: the kernels' (A, B, kH, kW)), by the reference's own helpers: the expected
        value of every stage block, never the drawing's index maps."""
        return {}

    def window_kernels(self, tensors: dict[str, np.ndarray]) -> np.ndarray | None:
        """The kernels output channel o multiplies its windows with, shape (O, per_in, kH,
        kW) before dilation, by the reference's helpers; None for an op without weights."""
        return None

    # ------------------------------------------------------------------ the oracle
    def reference(self, x: np.ndarray, tensors: dict[str, np.ndarray]) -> np.ndarray:
        """NumPy (PyTorch semantics, `reference.py`) output for input `x` of shape (C, H, W)."""
        raise NotImplementedError

    def reference_size(self, axis: int, size: int) -> int:
        """Output length along `axis` by `reference.py`'s own size rule (not `size_formula`)."""
        raise NotImplementedError

    def reference_parameter_count(self, in_channels: float) -> float:
        return 0.0

    # ------------------------------------------------------------------ the backward pass
    def backward(self, x: np.ndarray, tensors: dict[str, np.ndarray], grad_y: np.ndarray,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(grad_input, the gradient of each editable tensor by local name) for the upstream
        gradient `grad_y`: torch.autograd's, by `gradients.py` (the chain rule term by term)."""
        raise NotImplementedError(f"{self.op} has no gradient rule")

    def backward_stages(self, x: np.ndarray, tensors: dict[str, np.ndarray],
                        grad_y: np.ndarray) -> dict[str, np.ndarray]:
        """The backward pass's intermediate steps by kind (a convolution's zero-inserted
        grad_output and flipped kernels, a max pooling's winners), by the reference's helpers:
        the expected value of each such block, never the drawing's index maps."""
        return {}

    def backward_steps(self) -> tuple[str, ...]:
        """The chain rule for this op in the seed's numbered steps, as the guide shows them."""
        return ()


def pair_repr(value: tuple[int, int]) -> str:
    return f"({value[0]}, {value[1]})"


# ---------------------------------------------------------------------------- sliding windows
# conv2d and both poolings slide a (dilated) window over a padded input with a stride; the
# arithmetic of that window lives here once.
def sliding_lengths(in_shape: Shape, kernel: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    """Output height and width (PyTorch's floor formula, ceil_mode off)."""
    h, w = ((in_shape[1 + a] + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1)
            // stride[a] + 1 for a in (0, 1))
    return h, w


def check_window_fits(in_shape: Shape, kernel: tuple[int, int], padding: tuple[int, int],
                      dilation: tuple[int, int], what: str) -> None:
    """The (dilated) window must fit the padded input, or the output would be empty."""
    for axis in (0, 1):
        padded = in_shape[1 + axis] + 2 * padding[axis]
        span = dilation[axis] * (kernel[axis] - 1) + 1
        if span > padded:
            raise SpecError("kernel_size", kernel,
                            f"{what} spans {span} along {'height' if axis == 0 else 'width'} "
                            f"but the padded input is only {padded}: the output would be "
                            "empty")


def sliding_expression(r: Callable[[str], str]) -> str:
    """That floor formula in Excel, over what `r(key)` gives for input, kernel, stride,
    padding and dilation."""
    return (f"INT(({r('input')}+2*{r('padding')}-{r('dilation')}*({r('kernel')}-1)-1)"
            f"/{r('stride')})+1")


def sliding_text(size: int, kernel: int, stride: int, padding: int, dilation: int) -> str:
    """That floor formula written out with the layer's numbers, for the guide."""
    return (f"floor((H + 2p - d·(k-1) - 1) / s) + 1 = floor(({size} + 2·{padding} - "
            f"{dilation}·({kernel}-1) - 1) / {stride}) + 1")
