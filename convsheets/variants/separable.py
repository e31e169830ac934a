"""Depth-wise separable convolution: depth-wise, then point-wise (1x1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..network import LayerNames
from .base import CONV, Entry, Variant, conv_options

if TYPE_CHECKING:
    from ..guide import GuideWriter
    from ..spec import LayerSpec


def _layers(spec: LayerSpec) -> list[Entry]:
    """A depth-wise conv2d (groups = channels) then a 1x1 conv2d, with the first release's
    names: depthwise_weight_*, depthwise_output_c*, pointwise_weight_*, output_c*."""
    mid = spec.in_channels * spec.depth_multiplier
    depthwise = LayerNames("depthwise_", "depthwise_", sheets=(
        ("Kernels", "DepthwiseKernels"), ("Output", "DepthwiseOutput"),
        ("Explorer", "DepthwiseExplorer"), ("Matrix", "DepthwiseMatrix"),
        ("Walk", "DepthwiseWalk")))
    pointwise = LayerNames("pointwise_", "", sheets=(("Kernels", "PointwiseKernels"),
                                                     ("Explorer", "PointwiseExplorer"),
                                                     ("Matrix", "PointwiseMatrix"),
                                                     ("Walk", "PointwiseWalk")))
    return [("depthwise", "conv2d", conv_options(spec, out_channels=mid, groups=spec.in_channels),
             depthwise),
            ("pointwise", "conv2d", {"out_channels": spec.out_channels, "kernel_size": 1,
                                     "bias": spec.bias}, pointwise)]


def _count(r: Callable[[str], str]) -> tuple[str, str]:
    c, m, o, kh, kw, b = (r(k) for k in ("in_channels", "depth_multiplier", "out_channels",
                                          "kernel_height", "kernel_width", "bias"))
    return (f"{c}*{m}*{kh}*{kw}+{c}*{m}*{o}+{b}*({c}*{m}+{o})",
            "depth-wise C·m·kH·kW + point-wise C·m·O (+ biases C·m + O)")


def _mult_adds(r: Callable[[str], str]) -> tuple[str, str]:
    c, m, o, kh, kw, oh, ow = (r(k) for k in ("in_channels", "depth_multiplier", "out_channels",
                                              "kernel_height", "kernel_width", "output_height",
                                              "output_width"))
    return (f"{oh}*{ow}*({c}*{m}*{kh}*{kw}+{c}*{m}*{o})",
            "OH·OW·(C·m·kH·kW + C·m·O), each weight once at every output pixel")


def _basic_count(cur: GuideWriter, r: Callable[[str], str]) -> None:
    from ..guide import COL_TEXT, COL_VALUE

    c, o, kh, kw, b, oh, ow = (r(k) for k in ("in_channels", "out_channels", "kernel_height",
                                              "kernel_width", "bias", "output_height",
                                              "output_width"))
    cur.label(COL_TEXT, "same shape as a basic conv")
    cur.place(cur.formula("basic_parameter_count", lambda h: f"{o}*{c}*{kh}*{kw}+{b}*{o}",
                          "cs_count"), COL_VALUE)
    cur.place(cur.formula("basic_mult_adds", lambda h: f"{oh}*{ow}*{o}*{c}*{kh}*{kw}",
                          "cs_count"), COL_VALUE + 1)
    cur.row += 1


def _expected(spec: LayerSpec, scalars: dict[str, float]) -> dict[str, float]:
    kh, kw = spec.kernel_size
    network = spec.network()
    _c, oh, ow = network.output_shape
    mid = spec.in_channels * spec.depth_multiplier
    return {"basic_parameter_count":
            spec.in_channels * spec.out_channels * kh * kw + spec.out_channels * spec.bias,
            "basic_mult_adds": oh * ow * spec.out_channels * spec.in_channels * kh * kw,
            "mult_adds": oh * ow * (mid * kh * kw + mid * spec.out_channels)}


VARIANT = Variant(
    name="separable",
    torch="conv2d(conv2d(x, dw_weight, dw_bias, stride, padding, dilation, groups=C), "
    "pw_weight, pw_bias)",
    summary="depth-wise separable convolution: depth-wise conv, then a 1x1 point-wise conv",
    steps=(
        "Depth-wise: one depth-1 kernel per input channel, each channel convolved separately "
        "(DepthwiseKernels, DepthwiseOutput).",
        "Stack the per-channel feature maps: the intermediate volume (DepthwiseOutput).",
        "Point-wise: a 1x1 convolution with as many filters as output channels wanted, "
        "applied to the depth-wise output (PointwiseKernels, Output).",
        "Far fewer weights and multiply-adds than a simple convolution of the same shape: see "
        "the counts below.",
    ),
    honoured=CONV | {"depth_multiplier"},
    layers=_layers,
    fixed=lambda fields: {**fields, "groups": 1},
    groups_label=" (depth-wise stage)",
    count=_count,
    guide_more=_basic_count,
    mult_adds=_mult_adds,
    mult_adds_notes=("A simple convolution of the same shape needs O·C·kH·kW (+ O) weights "
                     "and OH·OW·O·C·kH·kW multiply-adds.",),
    expected_more=_expected,
)
