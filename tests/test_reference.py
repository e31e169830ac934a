"""Tests for convsheets.reference, the NumPy oracle the spreadsheet formulas are checked against.

The oracle is only worth something if it is right, so it is checked three independent ways:

1. against naive nested-loop implementations written here straight from the definitions in
   the PyTorch docs (one Python loop per index, explicit bounds checks, output sizes found by
   counting rather than by the closed-form formula) -- sharing no code with reference.py;
2. against torch.nn.functional itself, in float64;
3. against small cases worked out by hand (expected values derived in the comments, never
   pasted from reference.py output).

On top of that, the zero-insertion identity the formula generator relies on is checked with the
helper functions, so a mistake in either view of transposed convolution shows up here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convsheets.reference import (
    conv2d,
    conv2d_output_size,
    conv_transpose2d,
    conv_transpose2d_output_size,
    dilate_kernel,
    flip_kernel,
    pad2d,
    pad_or_crop,
    zero_insert,
)

TOL = {"rtol": 1e-12, "atol": 1e-12}


# ============================================================================================
# Naive loop implementations (independent of reference.py)
# ============================================================================================


def naive_conv2d(x, weight, bias, stride, padding, dilation, groups):
    """conv2d straight from the torch.nn.Conv2d definition.

    out(o, y, x) = bias(o) + sum_{c in group(o)} sum_{i,j} w(o, c, i, j) * in(c, y*s - p + i*d, ...)
    with zero outside the input.  The output size is found by counting the window positions
    whose last tap still lands inside the padded input, not via the closed-form formula.
    """
    c_in, h, w = x.shape
    c_out, c_per_group, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    o_per_group = c_out // groups

    oh = 0
    while oh * sh + (kh - 1) * dh <= h + 2 * ph - 1:
        oh += 1
    ow = 0
    while ow * sw + (kw - 1) * dw <= w + 2 * pw - 1:
        ow += 1

    out = np.zeros((c_out, oh, ow))
    for o in range(c_out):
        g = o // o_per_group
        for y in range(oh):
            for xx in range(ow):
                acc = 0.0 if bias is None else float(bias[o])
                for c in range(c_per_group):
                    for i in range(kh):
                        iy = y * sh - ph + i * dh
                        if iy < 0 or iy >= h:
                            continue
                        for j in range(kw):
                            ix = xx * sw - pw + j * dw
                            if ix < 0 or ix >= w:
                                continue
                            acc += weight[o, c, i, j] * x[g * c_per_group + c, iy, ix]
                out[o, y, xx] = acc
    return out


def naive_conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation):
    """conv_transpose2d as a scatter: every input pixel adds w * x at y*s - p + i*d.

    Output size from the torch.nn.ConvTranspose2d docs:
    H_out = (H_in - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1.
    """
    c_in, h, w = x.shape
    _, o_per_group, kh, kw = weight.shape
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    c_per_group = c_in // groups
    c_out = o_per_group * groups
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    ow = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1

    out = np.zeros((c_out, oh, ow))
    if bias is not None:
        for o in range(c_out):
            out[o, :, :] = bias[o]
    for c in range(c_in):
        g = c // c_per_group
        for y in range(h):
            for xx in range(w):
                for o in range(o_per_group):
                    for i in range(kh):
                        oy = y * sh - ph + i * dh
                        if oy < 0 or oy >= oh:
                            continue
                        for j in range(kw):
                            ox = xx * sw - pw + j * dw
                            if ox < 0 or ox >= ow:
                                continue
                            out[g * o_per_group + o, oy, ox] += x[c, y, xx] * weight[c, o, i, j]
    return out


def torch_conv2d(x, weight, bias, stride, padding, dilation, groups):
    t_bias = None if bias is None else torch.tensor(bias, dtype=torch.float64)
    return F.conv2d(
        torch.tensor(x, dtype=torch.float64).unsqueeze(0),
        torch.tensor(weight, dtype=torch.float64),
        t_bias,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    )[0].numpy()


def torch_conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation):
    t_bias = None if bias is None else torch.tensor(bias, dtype=torch.float64)
    return F.conv_transpose2d(
        torch.tensor(x, dtype=torch.float64).unsqueeze(0),
        torch.tensor(weight, dtype=torch.float64),
        t_bias,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        groups=groups,
        dilation=dilation,
    )[0].numpy()


# ============================================================================================
# Hypothesis strategies (only valid configurations, built constructively so nothing is filtered)
# ============================================================================================


@st.composite
def conv2d_cases(draw):
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    size = []
    for ax in range(2):
        # Smallest input for which the dilated kernel fits inside the padded input.
        smallest = max(1, dilation[ax] * (kernel[ax] - 1) + 1 - 2 * padding[ax])
        size.append(smallest + draw(st.integers(0, 4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((c_in, *size))
    weight = rng.standard_normal((c_out, c_in // groups, *kernel))
    bias = rng.standard_normal(c_out) if draw(st.booleans()) else None
    return {
        "x": x,
        "weight": weight,
        "bias": bias,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "groups": groups,
    }


@st.composite
def conv_transpose2d_cases(draw):
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 2))
    o_per_group = draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    size = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    # PyTorch's rule: output_padding < max(stride, dilation) on each axis.
    output_padding = tuple(
        draw(st.integers(0, max(stride[ax], dilation[ax]) - 1)) for ax in range(2)
    )
    padding = []
    for ax in range(2):
        # Largest padding that still leaves an output of at least one pixel.
        uncropped = (size[ax] - 1) * stride[ax] + dilation[ax] * (kernel[ax] - 1)
        padding.append(draw(st.integers(0, min(3, (uncropped + output_padding[ax]) // 2))))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((c_in, *size))
    weight = rng.standard_normal((c_in, o_per_group, *kernel))
    bias = rng.standard_normal(o_per_group * groups) if draw(st.booleans()) else None
    return {
        "x": x,
        "weight": weight,
        "bias": bias,
        "stride": stride,
        "padding": tuple(padding),
        "output_padding": output_padding,
        "groups": groups,
        "dilation": dilation,
    }


# ============================================================================================
# Property tests: reference vs naive loops vs torch
# ============================================================================================


@settings(max_examples=150, deadline=None)
@given(conv2d_cases())
def test_conv2d_matches_naive_and_torch(case):
    got = conv2d(**case)
    naive = naive_conv2d(**case)
    expected_torch = torch_conv2d(**case)
    assert got.dtype == np.float64
    assert got.shape == naive.shape == expected_torch.shape
    np.testing.assert_allclose(got, naive, **TOL)
    np.testing.assert_allclose(got, expected_torch, **TOL)


@settings(max_examples=150, deadline=None)
@given(conv_transpose2d_cases())
def test_conv_transpose2d_matches_naive_and_torch(case):
    got = conv_transpose2d(**case)
    naive = naive_conv_transpose2d(**case)
    expected_torch = torch_conv_transpose2d(**case)
    assert got.dtype == np.float64
    assert got.shape == naive.shape == expected_torch.shape
    np.testing.assert_allclose(got, naive, **TOL)
    np.testing.assert_allclose(got, expected_torch, **TOL)


@settings(max_examples=100, deadline=None)
@given(conv_transpose2d_cases())
def test_conv_transpose2d_equals_zero_insertion_view(case):
    """The generator's view: zero-insert, pad/crop, conv2d with the flipped, regrouped kernel.

    Per side the stride-1 conv needs d*(k-1) - p zeros (negative = crop), plus output_padding
    at the bottom/right.  The weight (C, O/G, kH, kW) becomes (O, C/G, kH, kW) per group.
    """
    x, weight, bias = case["x"], case["weight"], case["bias"]
    g = case["groups"]
    (sh, sw), (ph, pw) = case["stride"], case["padding"]
    (oph, opw), (dh, dw) = case["output_padding"], case["dilation"]
    c_in, o_per_group, kh, kw = weight.shape
    c_per_group = c_in // g

    regrouped = (
        weight.reshape(g, c_per_group, o_per_group, kh, kw)
        .transpose(0, 2, 1, 3, 4)
        .reshape(g * o_per_group, c_per_group, kh, kw)
    )
    top, left = dh * (kh - 1) - ph, dw * (kw - 1) - pw
    prepared = pad_or_crop(zero_insert(x, (sh, sw)), top, top + oph, left, left + opw)
    via_zero_insertion = conv2d(prepared, flip_kernel(regrouped), bias, dilation=(dh, dw), groups=g)
    # Same again with the dilation baked into the kernel instead of passed to conv2d.
    via_dilated_kernel = conv2d(
        prepared, dilate_kernel(flip_kernel(regrouped), (dh, dw)), bias, groups=g
    )
    scatter = conv_transpose2d(**case)
    np.testing.assert_allclose(via_zero_insertion, scatter, **TOL)
    np.testing.assert_allclose(via_dilated_kernel, scatter, **TOL)


@settings(max_examples=60, deadline=None)
@given(conv2d_cases())
def test_conv_transpose2d_is_adjoint_of_conv2d(case):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)>: transposed conv is the adjoint.

    output_padding is chosen to recover x's size exactly; it is always < stride.
    """
    x, weight = case["x"], case["weight"]
    stride, padding, dilation, g = (case[k] for k in ("stride", "padding", "dilation", "groups"))
    y_shape = conv2d(x, weight, None, stride, padding, dilation, g).shape
    rng = np.random.default_rng(0)
    y = rng.standard_normal(y_shape)
    kh, kw = weight.shape[2:]
    op = tuple(
        (x.shape[1 + ax] + 2 * padding[ax] - dilation[ax] * ((kh, kw)[ax] - 1) - 1) % stride[ax]
        for ax in range(2)
    )
    # conv2d weight (O, C/G, ...) is conv_transpose2d weight (C_in=O, C_out/G=C/G, ...).
    back = conv_transpose2d(y, weight, None, stride, padding, op, g, dilation)
    assert back.shape == x.shape
    lhs = float(np.sum(conv2d(x, weight, None, stride, padding, dilation, g) * y))
    rhs = float(np.sum(x * back))
    assert lhs == pytest.approx(rhs, rel=1e-11, abs=1e-11)


# ============================================================================================
# Hand-checked conv2d cases
# ============================================================================================

X3 = np.arange(1.0, 10.0).reshape(1, 3, 3)  # [[1,2,3],[4,5,6],[7,8,9]]
K2 = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])  # (1,1,2,2): [[1,2],[3,4]]


def test_conv2d_hand_3x3_input_2x2_kernel():
    # Cross-correlation (no kernel flip), window top-left at (y, x):
    #   (0,0): 1*1 + 2*2 + 4*3 + 5*4 = 1 + 4 + 12 + 20 = 37
    #   (0,1): 2*1 + 3*2 + 5*3 + 6*4 = 2 + 6 + 15 + 24 = 47
    #   (1,0): 4*1 + 5*2 + 7*3 + 8*4 = 4 + 10 + 21 + 32 = 67
    #   (1,1): 5*1 + 6*2 + 8*3 + 9*4 = 5 + 12 + 24 + 36 = 77
    expected = np.array([[[37.0, 47.0], [67.0, 77.0]]])
    np.testing.assert_allclose(conv2d(X3, K2), expected, **TOL)
    # Bias is added once per output pixel.
    np.testing.assert_allclose(conv2d(X3, K2, np.array([0.5])), expected + 0.5, **TOL)


def test_conv2d_hand_stride_and_padding():
    # Pad 1 -> 5x5 with the 3x3 block in the middle; stride 2 -> floor((3+2-1-1)/2)+1 = 2.
    #   (0,0) sees padded rows 0-1, cols 0-1 = [[0,0],[0,1]]  -> 1*4             = 4
    #   (0,1) sees rows 0-1, cols 2-3       = [[0,0],[2,3]]  -> 2*3 + 3*4       = 18
    #   (1,0) sees rows 2-3, cols 0-1       = [[0,4],[0,7]]  -> 4*2 + 7*4       = 36
    #   (1,1) sees rows 2-3, cols 2-3       = [[5,6],[8,9]]  -> 5+12+24+36      = 77
    expected = np.array([[[4.0, 18.0], [36.0, 77.0]]])
    np.testing.assert_allclose(conv2d(X3, K2, stride=(2, 2), padding=(1, 1)), expected, **TOL)


def test_conv2d_hand_dilation():
    # Dilation 2 spreads the 2x2 kernel over a 3x3 window -> single output pixel using the
    # corners 1, 3, 7, 9: 1*1 + 3*2 + 7*3 + 9*4 = 1 + 6 + 21 + 36 = 64.
    np.testing.assert_allclose(conv2d(X3, K2, dilation=(2, 2)), [[[64.0]]], **TOL)


def test_conv2d_hand_rectangular_stride():
    # 1x2 kernel [[1,10]] with stride (2,1) on the 3x3 block: rows 0 and 2, every column pair.
    #   row 0: 1+20=21, 2+30=32; row 2: 7+80=87, 8+90=98
    k = np.array([[[[1.0, 10.0]]]])
    np.testing.assert_allclose(conv2d(X3, k, stride=(2, 1)), [[[21.0, 32.0], [87.0, 98.0]]], **TOL)


def test_conv2d_hand_channels_and_groups():
    # Channel 0 = [[1..9]], channel 1 = all ones.
    x = np.stack([X3[0], np.ones((3, 3))])
    pick_top_left = [[1.0, 0.0], [0.0, 0.0]]
    box = [[1.0, 1.0], [1.0, 1.0]]
    # groups=2: output 0 sees only channel 0 (top-left of each window: 1,2,4,5),
    #           output 1 sees only channel 1 (sum of a 2x2 box of ones: 4).
    w_grouped = np.array([[pick_top_left], [box]])  # (2, 1, 2, 2)
    expected = np.array([[[1.0, 2.0], [4.0, 5.0]], [[4.0, 4.0], [4.0, 4.0]]])
    np.testing.assert_allclose(conv2d(x, w_grouped, groups=2), expected, **TOL)
    # groups=1 with kernel (pick_top_left on ch0, box on ch1): channels are summed -> 5,6,8,9.
    w_dense = np.array([[pick_top_left, box]])  # (1, 2, 2, 2)
    np.testing.assert_allclose(conv2d(x, w_dense), [[[5.0, 6.0], [8.0, 9.0]]], **TOL)


# ============================================================================================
# Hand-checked conv_transpose2d cases
# ============================================================================================

# Dumoulin & Visin, "A guide to convolution arithmetic", fig. 4.5 geometry: 2x2 input, 3x3
# kernel, stride 2, no padding -> (2-1)*2 + 3 = 5x5 output.  Input values 1, 10, 100, 1000 make
# every decimal digit of an output cell name the kernel tap that input pixel contributed:
# input (i, j) stamps k * x[i, j] with its top-left at output (2i, 2j).
XT = np.array([[[1.0, 10.0], [100.0, 1000.0]]])
KT = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1,2,3],[4,5,6],[7,8,9]]
# Row 0: only x00 (taps k[0,:]) and x01 (taps k[0,:] shifted 2 right):
#   [1, 2, 3 + 10*1, 10*2, 10*3] = [1, 2, 13, 20, 30]
# Row 1: [4, 5, 6 + 40, 50, 60]
# Row 2: both rows of inputs overlap: x00 uses k[2,:], x10 uses k[0,:]:
#   c0: 7 + 100*1 = 107; c1: 8 + 100*2 = 208;
#   c2: 9 + 10*7 + 100*3 + 1000*1 = 1379; c3: 10*8 + 1000*2 = 2080; c4: 10*9 + 1000*3 = 3090
# Row 3: [100*4, 100*5, 100*6 + 1000*4, 1000*5, 1000*6]
# Row 4: [100*7, 100*8, 100*9 + 1000*7, 1000*8, 1000*9]
DV_EXPECTED = np.array(
    [
        [1.0, 2.0, 13.0, 20.0, 30.0],
        [4.0, 5.0, 46.0, 50.0, 60.0],
        [107.0, 208.0, 1379.0, 2080.0, 3090.0],
        [400.0, 500.0, 4600.0, 5000.0, 6000.0],
        [700.0, 800.0, 7900.0, 8000.0, 9000.0],
    ]
)


def test_conv_transpose2d_hand_dumoulin_visin():
    got = conv_transpose2d(XT, KT, stride=(2, 2))
    assert got.shape == (1, 5, 5)
    np.testing.assert_allclose(got[0], DV_EXPECTED, **TOL)


def test_conv_transpose2d_hand_padding_crops():
    # padding=1 removes one row/column from every side of the 5x5 above -> 3x3 centre.
    got = conv_transpose2d(XT, KT, stride=(2, 2), padding=(1, 1))
    np.testing.assert_allclose(got[0], DV_EXPECTED[1:4, 1:4], **TOL)


def test_conv_transpose2d_hand_output_padding():
    # padding=1, output_padding=1: crop 1 at top/left only -> rows/cols 1..4 (4x4).
    got = conv_transpose2d(XT, KT, stride=(2, 2), padding=(1, 1), output_padding=(1, 1))
    np.testing.assert_allclose(got[0], DV_EXPECTED[1:5, 1:5], **TOL)
    # padding=0, output_padding=1: 6x6, the extra last row/column is past every stamp -> 0,
    # and with a bias it holds just the bias.
    got = conv_transpose2d(XT, KT, np.array([0.25]), stride=(2, 2), output_padding=(1, 1))
    expected = np.zeros((6, 6))
    expected[:5, :5] = DV_EXPECTED
    np.testing.assert_allclose(got[0], expected + 0.25, **TOL)


def test_conv_transpose2d_hand_dilation():
    # 1x2 input [1, 10], 1x2 kernel [1, 2], dilation (1, 2): width (2-1)*1 + 2*1 + 1 = 4.
    # x0 stamps 1 at col 0 and 2 at col 2; x1 stamps 10 at col 1 and 20 at col 3.
    got = conv_transpose2d(np.array([[[1.0, 10.0]]]), np.array([[[[1.0, 2.0]]]]), dilation=(1, 2))
    np.testing.assert_allclose(got, [[[1.0, 10.0, 2.0, 20.0]]], **TOL)


def test_conv_transpose2d_hand_weight_layout_and_groups():
    # x: two 1x1 channels, values 1 and 10.  Weight layout is (C_in, C_out/groups, kH, kW).
    x = np.array([[[1.0]], [[10.0]]])
    # groups=1, weight (2, 3, 1, 1) = [[1,2,3],[4,5,6]]: out[o] = 1*w[0,o] + 10*w[1,o]
    #   = [1+40, 2+50, 3+60] = [41, 52, 63]
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).reshape(2, 3, 1, 1)
    np.testing.assert_allclose(conv_transpose2d(x, w).ravel(), [41.0, 52.0, 63.0], **TOL)
    # groups=2, weight (2, 2, 1, 1) = [[1,2],[3,4]]: channel 0 feeds outputs 0,1 only,
    # channel 1 feeds outputs 2,3 only -> [1*1, 1*2, 10*3, 10*4] = [1, 2, 30, 40]
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)
    np.testing.assert_allclose(
        conv_transpose2d(x, w, groups=2).ravel(), [1.0, 2.0, 30.0, 40.0], **TOL
    )


# ============================================================================================
# Helpers
# ============================================================================================


def test_pad2d():
    x = np.array([[[1.0, 2.0]]])  # (1, 1, 2)
    got = pad2d(x, (1, 2))
    assert got.shape == (1, 3, 6)
    np.testing.assert_array_equal(
        got[0], [[0, 0, 0, 0, 0, 0], [0, 0, 1, 2, 0, 0], [0, 0, 0, 0, 0, 0]]
    )
    # Leading axes (e.g. a kernel's O and C) are not padded.
    assert pad2d(np.ones((2, 3, 4, 5)), (1, 0)).shape == (2, 3, 6, 5)


def test_zero_insert():
    x = np.arange(1.0, 7.0).reshape(1, 2, 3)  # [[1,2,3],[4,5,6]]
    got = zero_insert(x, (2, 3))
    # rows: (2-1)*2+1 = 3, cols: (3-1)*3+1 = 7; two zeros between columns, one zero row.
    assert got.shape == (1, 3, 7)
    np.testing.assert_array_equal(
        got[0],
        [
            [1, 0, 0, 2, 0, 0, 3],
            [0, 0, 0, 0, 0, 0, 0],
            [4, 0, 0, 5, 0, 0, 6],
        ],
    )
    np.testing.assert_array_equal(zero_insert(x, (1, 1)), x)
    assert zero_insert(np.ones((3, 1, 1)), (4, 4)).shape == (3, 1, 1)


def test_pad_or_crop():
    x = np.arange(1.0, 13.0).reshape(1, 3, 4)  # [[1,2,3,4],[5,6,7,8],[9,10,11,12]]
    # Pad 1 row on top, crop the bottom row, crop 2 columns on the left, pad 2 on the right:
    # keep rows 0-1 and columns 2-3 -> [[3,4],[7,8]], then add the zeros.
    got = pad_or_crop(x, 1, -1, -2, 2)
    np.testing.assert_array_equal(
        got[0],
        [
            [0, 0, 0, 0],
            [3, 4, 0, 0],
            [7, 8, 0, 0],
        ],
    )
    # All-crop and all-pad; zeros are a no-op.
    np.testing.assert_array_equal(pad_or_crop(x, -1, -1, -1, -1)[0], [[6, 7]])
    assert pad_or_crop(x, 2, 0, 0, 3).shape == (1, 5, 7)
    np.testing.assert_array_equal(pad_or_crop(x, 0, 0, 0, 0), x)
    with pytest.raises(ValueError):
        pad_or_crop(x, -2, -2, 0, 0)


def test_flip_kernel():
    w = np.array([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]], [[[7.0, 8.0, 9.0], [10.0, 11.0, 12.0]]]])
    got = flip_kernel(w)  # (2, 1, 2, 3): each 2x3 slice rotated 180 degrees, order of O kept
    np.testing.assert_array_equal(got[0, 0], [[6, 5, 4], [3, 2, 1]])
    np.testing.assert_array_equal(got[1, 0], [[12, 11, 10], [9, 8, 7]])
    # Returns a copy: mutating it leaves the input alone.
    got[0, 0, 0, 0] = -1.0
    assert w[0, 0, 1, 2] == 6.0


def test_dilate_kernel():
    w = K2  # [[1,2],[3,4]]
    got = dilate_kernel(w, (2, 3))
    # rows (2-1)*2+1 = 3, cols (2-1)*3+1 = 4
    assert got.shape == (1, 1, 3, 4)
    np.testing.assert_array_equal(got[0, 0], [[1, 0, 0, 2], [0, 0, 0, 0], [3, 0, 0, 4]])
    np.testing.assert_array_equal(dilate_kernel(w, (1, 1)), w)


# ============================================================================================
# Output sizes vs torch's actual output shapes
# ============================================================================================


def test_output_size_known_values():
    assert conv2d_output_size(224, 7, 2, 3, 1) == 112  # ResNet stem
    assert conv2d_output_size(5, 3, 1, 0, 2) == 1  # dilated 3x3 covers 5 pixels
    assert conv2d_output_size(6, 3, 2, 0, 1) == 2  # floor((6-3)/2)+1
    assert conv_transpose2d_output_size(2, 3, 2, 0, 0, 1) == 5  # Dumoulin & Visin
    assert conv_transpose2d_output_size(3, 4, 2, 1, 0, 1) == 6  # DCGAN-style 2x upsample
    assert conv_transpose2d_output_size(3, 4, 2, 1, 1, 1) == 7


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(1, 12),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 4),
    padding=st.integers(0, 4),
    dilation=st.integers(1, 3),
)
def test_conv2d_output_size_matches_torch(size, kernel, stride, padding, dilation):
    x = torch.zeros(1, 1, size, 1, dtype=torch.float64)
    w = torch.zeros(1, 1, kernel, 1, dtype=torch.float64)
    try:
        torch_size = F.conv2d(
            x, w, stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1)
        ).shape[2]
    except RuntimeError:
        torch_size = None  # torch rejects the configuration: so must we
    if torch_size is None:
        with pytest.raises(ValueError):
            conv2d_output_size(size, kernel, stride, padding, dilation)
    else:
        assert conv2d_output_size(size, kernel, stride, padding, dilation) == torch_size


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(1, 8),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 4),
    padding=st.integers(0, 6),
    output_padding=st.integers(0, 4),
    dilation=st.integers(1, 3),
)
def test_conv_transpose2d_output_size_matches_torch(
    size, kernel, stride, padding, output_padding, dilation
):
    x = torch.zeros(1, 1, size, 1, dtype=torch.float64)
    w = torch.zeros(1, 1, kernel, 1, dtype=torch.float64)
    try:
        torch_size = F.conv_transpose2d(
            x,
            w,
            stride=(stride, 1),
            padding=(padding, 0),
            output_padding=(output_padding, 0),
            dilation=(dilation, 1),
        ).shape[2]
    except RuntimeError:
        torch_size = None
    args = (size, kernel, stride, padding, output_padding, dilation)
    if torch_size is None:
        with pytest.raises(ValueError):
            conv_transpose2d_output_size(*args)
    else:
        assert conv_transpose2d_output_size(*args) == torch_size


# ============================================================================================
# Errors
# ============================================================================================


def test_conv2d_rejects_inconsistent_shapes():
    x = np.ones((3, 5, 5))
    with pytest.raises(ValueError, match="divisible by groups"):
        conv2d(x, np.ones((2, 1, 3, 3)), groups=2)  # 3 input channels, 2 groups
    with pytest.raises(ValueError, match="divisible by groups"):
        conv2d(x, np.ones((4, 1, 3, 3)), groups=3)  # 4 outputs, 3 groups
    with pytest.raises(ValueError, match="input channels"):
        conv2d(x, np.ones((2, 2, 3, 3)))  # weight expects 2 channels
    with pytest.raises(ValueError, match="< 1"):
        conv2d(x, np.ones((1, 3, 6, 6)))  # kernel larger than input
    with pytest.raises(ValueError, match="bias"):
        conv2d(x, np.ones((2, 3, 3, 3)), np.ones(3))
    with pytest.raises(ValueError, match="3-D"):
        conv2d(np.ones((1, 3, 5, 5)), np.ones((2, 3, 3, 3)))  # batched input
    with pytest.raises(ValueError, match="stride"):
        conv2d(x, np.ones((2, 3, 3, 3)), stride=(0, 1))


def test_conv_transpose2d_rejects_inconsistent_shapes():
    x = np.ones((4, 3, 3))
    with pytest.raises(ValueError, match="divisible by groups"):
        conv_transpose2d(x, np.ones((4, 1, 3, 3)), groups=3)
    with pytest.raises(ValueError, match="input channels"):
        conv_transpose2d(x, np.ones((2, 4, 3, 3)))  # conv2d layout by mistake
    with pytest.raises(ValueError, match="output_padding"):
        conv_transpose2d(x, np.ones((4, 1, 3, 3)), stride=(2, 2), output_padding=(2, 0))
    with pytest.raises(ValueError, match="< 1"):
        conv_transpose2d(x, np.ones((4, 1, 1, 1)), padding=(2, 0))  # crops everything
    with pytest.raises(ValueError, match="bias"):
        conv_transpose2d(x, np.ones((4, 2, 3, 3)), np.ones(2), groups=2)  # O = 2*2 = 4
