"""What every computed block of a workbook should hold, from NumPy alone.

Given a layer and its editable tensors (as read back from a workbook), this computes the expected
value of every named computed block, using only `reference` (the PyTorch-semantics NumPy ops).
It shares block *names* with the layout (the public contract). The final outputs come straight
from `reference.conv2d` / `reference.conv_transpose2d` (the scatter definition), independent of
the layout's index arithmetic, so a wrong formula anywhere upstream shows up at the output. (The
expected *intermediate* upsampled block uses the same padding amounts as the layout,
d*(k-1)-p and +output_padding, as the seed's recipe defines them; an error there would still
show at the output.)

Each entry is `Expected(value, structural)`: `structural` marks cells that are constant zeros by
construction (padding, inserted zeros, dilation holes) and so need not be formulas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import reference as ref
from .spec import LayerSpec


@dataclass
class Expected:
    value: np.ndarray  # 2-D, as the block shows it
    structural: np.ndarray | None = None  # bool mask of constant-zero cells


def expected_blocks(spec: LayerSpec, t: dict[str, np.ndarray], scalars: dict[str, float],
                    guide_spec: LayerSpec | None = None) -> dict[str, Expected]:
    """Expected values of every computed block, by defined name.

    `t` holds the tensors by tensor name ("input", "weight", "bias", "depthwise_weight", ...);
    `scalars` the editable guide cells (the pointwise bottleneck figures); `guide_spec` the
    layer whose numbers the guide's parameter cells hold, when a probe changed them."""
    x = t["input"]
    out: dict[str, Expected] = {}
    if spec.variant == "separable":
        mid = _direct(out, spec, x, t["depthwise_weight"], t.get("depthwise_bias"),
                      groups=spec.in_channels, prefix="depthwise_", dilation=spec.dilation,
                      padding=spec.padding, stride=spec.stride, out_prefix="depthwise_")
        _direct(out, spec, mid, t["pointwise_weight"], t.get("pointwise_bias"), groups=1,
                prefix="pointwise_", dilation=(1, 1), padding=(0, 0), stride=(1, 1),
                out_prefix="", pad_name=None)
    elif spec.is_transposed:
        _transposed(out, spec, x, t["weight"], t.get("bias"))
    else:
        _direct(out, spec, x, t["weight"], t.get("bias"), groups=spec.conv_groups, prefix="",
                dilation=spec.dilation, padding=spec.padding, stride=spec.stride,
                out_prefix="")
    _guide(out, guide_spec or spec, scalars)
    return out


def _direct(out: dict[str, Expected], spec: LayerSpec, x: np.ndarray, w: np.ndarray,
            b: np.ndarray | None, *, groups: int, prefix: str, dilation: tuple[int, int],
            padding: tuple[int, int], stride: tuple[int, int], out_prefix: str,
            pad_name: str | None = "padded") -> np.ndarray:
    if padding != (0, 0) and pad_name:
        padded = ref.pad2d(x, padding)
        mask = ref.pad2d(np.ones_like(x), padding) == 0
        for c in range(x.shape[0]):
            out[f"{pad_name}_c{c}"] = Expected(padded[c], mask[c])
    if dilation != (1, 1):
        _kernels(out, f"dilated_{prefix}weight", ref.dilate_kernel(w, dilation),
                 ref.dilate_kernel(np.ones_like(w), dilation) == 0)
    y = ref.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    for o in range(y.shape[0]):
        out[f"{out_prefix}output_c{o}"] = Expected(y[o])
    return y


def _transposed(out: dict[str, Expected], spec: LayerSpec, x: np.ndarray, w: np.ndarray,
                b: np.ndarray | None) -> None:
    # The upsampled volume: zeros inserted, then padded by d*(k-1)-p (+output_padding).
    amounts = []
    for axis in (0, 1):
        edge = spec.dilation[axis] * (spec.kernel_size[axis] - 1) - spec.padding[axis]
        amounts += [edge, edge + spec.output_padding[axis]]
    top, bottom, left, right = amounts
    up = ref.pad_or_crop(ref.zero_insert(x, spec.stride), top, bottom, left, right)
    ones = ref.pad_or_crop(ref.zero_insert(np.ones_like(x), spec.stride), top, bottom, left,
                           right)
    for c in range(x.shape[0]):
        out[f"upsampled_c{c}"] = Expected(up[c], ones[c] == 0)
    flipped = ref.flip_kernel(w)
    _kernels(out, "flipped_weight", flipped, None)
    if spec.dilation != (1, 1):
        _kernels(out, "dilated_flipped_weight", ref.dilate_kernel(flipped, spec.dilation),
                 ref.dilate_kernel(np.ones_like(w), spec.dilation) == 0)
    y = ref.conv_transpose2d(x, w, b, stride=spec.stride, padding=spec.padding,
                             output_padding=spec.output_padding, groups=spec.groups,
                             dilation=spec.dilation)
    for o in range(y.shape[0]):
        out[f"output_c{o}"] = Expected(y[o])


def _kernels(out: dict[str, Expected], name: str, w: np.ndarray,
             structural: np.ndarray | None) -> None:
    for a in range(w.shape[0]):
        for b in range(w.shape[1]):
            out[f"{name}_{a}_{b}"] = Expected(w[a, b],
                                              None if structural is None else structural[a, b])


def _guide(out: dict[str, Expected], spec: LayerSpec, scalars: dict[str, float]) -> None:
    """The guide's live arithmetic: output size, parameter counts, bottleneck figures."""
    sizes = []
    for a in (0, 1):
        if spec.is_transposed:
            sizes.append(ref.conv_transpose2d_output_size(
                spec.input_size[a], spec.kernel_size[a], spec.stride[a], spec.padding[a],
                spec.output_padding[a], spec.dilation[a]))
        else:
            sizes.append(ref.conv2d_output_size(spec.input_size[a], spec.kernel_size[a],
                                                spec.stride[a], spec.padding[a],
                                                spec.dilation[a]))
    out["output_height"] = _scalar(sizes[0])
    out["output_width"] = _scalar(sizes[1])
    out["parameter_count"] = _scalar(sum(int(np.prod(shape)) for k, shape in
                                         spec.source_shapes().items() if k != "input"))
    if spec.variant == "separable":
        kh, kw = spec.kernel_size
        out["basic_parameter_count"] = _scalar(
            spec.in_channels * spec.out_channels * kh * kw + spec.out_channels * spec.bias)
    if spec.variant == "pointwise" and scalars:
        k, cin, cout, mid = (scalars[f"bottleneck_{n}"] for n in
                             ("kernel", "in_channels", "out_channels", "mid_channels"))
        direct, reduce, conv = k * k * cin * cout, cin * mid, k * k * mid * cout
        out["bottleneck_direct_weights"] = _scalar(direct)
        out["bottleneck_reduce_weights"] = _scalar(reduce)
        out["bottleneck_conv_weights"] = _scalar(conv)
        out["bottleneck_total_weights"] = _scalar(reduce + conv)
        out["bottleneck_reduction"] = _scalar(direct / (reduce + conv))


def _scalar(value: float) -> Expected:
    return Expected(np.array([[float(value)]]))


BOTTLENECK_INPUTS = ("bottleneck_in_channels", "bottleneck_out_channels", "bottleneck_kernel",
                     "bottleneck_mid_channels")
