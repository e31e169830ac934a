"""Tests for the relu / pooling part of convsheets.reference (the NumPy oracle).

Same three independent checks as tests/test_reference.py:

1. naive per-output-pixel loops written here from the PyTorch docs' definitions (explicit
   bounds checks, output sizes found by counting window positions, not by the closed form),
   sharing no code with reference.py;
2. torch.nn.functional itself, float64, batch dimension of 1;
3. small cases worked out by hand in the comments.

Plus the argument checks PyTorch 2.13 makes for pooling, mirrored as ValueErrors, and the one
geometry in which a max-pooling window sees only padding (PyTorch returns -inf there).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convsheets.reference import avg_pool2d, max_pool2d, pool2d_output_size, relu

TOL = {"rtol": 1e-12, "atol": 1e-12}


# ============================================================================================
# Naive loop implementations (independent of reference.py)
# ============================================================================================


def count_outputs(size, kernel, stride, padding, dilation):
    """Number of window positions whose last tap still lands inside the padded input."""
    n = 0
    while n * stride + (kernel - 1) * dilation <= size + 2 * padding - 1:
        n += 1
    return n


def naive_max_pool2d(x, kernel, stride, padding, dilation):
    """out(c, y, x) = max over taps (i, j) of in(c, y*s - p + i*d, x*s - p + j*d).

    Taps outside the input are skipped (PyTorch pads with -inf).  Returns the output and a
    boolean map of output pixels whose window saw no input pixel at all (left at -inf).
    """
    c_in, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    oh = count_outputs(h, kh, sh, ph, dh)
    ow = count_outputs(w, kw, sw, pw, dw)
    out = np.full((c_in, oh, ow), -math.inf)
    empty = np.zeros((oh, ow), dtype=bool)
    for y in range(oh):
        for xx in range(ow):
            seen = False
            for i in range(kh):
                iy = y * sh - ph + i * dh
                if iy < 0 or iy >= h:
                    continue
                for j in range(kw):
                    ix = xx * sw - pw + j * dw
                    if ix < 0 or ix >= w:
                        continue
                    seen = True
                    for c in range(c_in):
                        out[c, y, xx] = max(out[c, y, xx], x[c, iy, ix])
            empty[y, xx] = not seen
    return out, empty


def naive_avg_pool2d(x, kernel, stride, padding, count_include_pad):
    """out(c, y, x) = (1/N) * sum over taps (i, j) of in(c, y*s - p + i, x*s - p + j).

    Padding contributes zero; N = kH*kW if count_include_pad else the number of taps that
    landed on the input (counted in the loop).
    """
    c_in, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh = count_outputs(h, kh, sh, ph, 1)
    ow = count_outputs(w, kw, sw, pw, 1)
    out = np.zeros((c_in, oh, ow))
    for c in range(c_in):
        for y in range(oh):
            for xx in range(ow):
                acc = 0.0
                inside = 0
                for i in range(kh):
                    iy = y * sh - ph + i
                    for j in range(kw):
                        ix = xx * sw - pw + j
                        if 0 <= iy < h and 0 <= ix < w:
                            acc += x[c, iy, ix]
                            inside += 1
                out[c, y, xx] = acc / (kh * kw if count_include_pad else inside)
    return out


def naive_relu(x):
    out = np.empty_like(x)
    for idx, v in np.ndenumerate(x):
        out[idx] = v if v > 0 else 0.0
    return out


def torch_max_pool2d(x, kernel, stride, padding, dilation):
    t = torch.tensor(x, dtype=torch.float64).unsqueeze(0)
    return F.max_pool2d(t, kernel, stride, padding, dilation)[0].numpy()


def torch_avg_pool2d(x, kernel, stride, padding, count_include_pad):
    t = torch.tensor(x, dtype=torch.float64).unsqueeze(0)
    return F.avg_pool2d(
        t, kernel, stride, padding, ceil_mode=False, count_include_pad=count_include_pad
    )[0].numpy()


# ============================================================================================
# Hypothesis strategies (valid configurations built constructively)
# ============================================================================================


@st.composite
def pool_cases(draw, with_dilation):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    # PyTorch: padding at most half the kernel (kernel // 2), on each axis separately.
    padding = tuple(draw(st.integers(0, kernel[ax] // 2)) for ax in range(2))
    if with_dilation:
        dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    else:
        dilation = (1, 1)
    size = []
    for ax in range(2):
        smallest = max(1, dilation[ax] * (kernel[ax] - 1) + 1 - 2 * padding[ax])
        size.append(smallest + draw(st.integers(0, 5)))
    channels = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((channels, *size))
    if draw(st.booleans()):
        # All-negative inputs: zero padding would wrongly win the max.
        x = -np.abs(x) - 1.0
    return {"x": x, "kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}


# ============================================================================================
# Property tests: reference vs naive loops vs torch
# ============================================================================================


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda ndim: st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)
    ),
    st.integers(0, 2**32 - 1),
)
def test_relu_matches_naive_and_torch(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    got = relu(x)
    assert got.dtype == np.float64
    assert got.shape == x.shape
    np.testing.assert_array_equal(got, naive_relu(x))
    np.testing.assert_array_equal(got, F.relu(torch.tensor(x, dtype=torch.float64)).numpy())


@settings(max_examples=200, deadline=None)
@given(pool_cases(with_dilation=True))
def test_max_pool2d_matches_naive_and_torch(case):
    x, kernel, stride, padding, dilation = case.values()
    naive, empty = naive_max_pool2d(x, kernel, stride, padding, dilation)
    expected_torch = torch_max_pool2d(x, kernel, stride, padding, dilation)
    assert naive.shape == expected_torch.shape
    if empty.any():
        # The rare geometry where dilation jumps over the whole input (see the dedicated test):
        # torch gives -inf exactly where the naive loop saw no pixel; the reference refuses.
        np.testing.assert_array_equal(np.isneginf(expected_torch).any(axis=0), empty)
        with pytest.raises(ValueError, match="only padding"):
            max_pool2d(x, kernel, stride, padding, dilation)
        return
    got = max_pool2d(x, kernel, stride, padding, dilation)
    assert got.dtype == np.float64
    assert got.shape == naive.shape
    # A max selects one of the inputs, so all three must agree exactly.
    np.testing.assert_array_equal(got, naive)
    np.testing.assert_array_equal(got, expected_torch)


@settings(max_examples=200, deadline=None)
@given(pool_cases(with_dilation=False), st.booleans())
def test_avg_pool2d_matches_naive_and_torch(case, count_include_pad):
    x, kernel, stride, padding, _ = case.values()
    got = avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad)
    naive = naive_avg_pool2d(x, kernel, stride, padding, count_include_pad)
    expected_torch = torch_avg_pool2d(x, kernel, stride, padding, count_include_pad)
    assert got.dtype == np.float64
    assert got.shape == naive.shape == expected_torch.shape
    np.testing.assert_allclose(got, naive, **TOL)
    np.testing.assert_allclose(got, expected_torch, **TOL)


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(1, 12),
    kernel=st.integers(1, 6),
    stride=st.integers(1, 4),
    padding=st.integers(0, 4),
    dilation=st.integers(1, 4),
)
def test_pool2d_output_size_matches_torch(size, kernel, stride, padding, dilation):
    """Valid or not, pool2d_output_size and torch agree (a number, or an error)."""
    x = torch.zeros((1, 1, size, 1), dtype=torch.float64)
    try:
        torch_out = F.max_pool2d(x, (kernel, 1), (stride, 1), (padding, 0), (dilation, 1))
    except RuntimeError:
        with pytest.raises(ValueError):
            pool2d_output_size(size, kernel, stride, padding, dilation)
        return
    assert pool2d_output_size(size, kernel, stride, padding, dilation) == torch_out.shape[2]
    assert pool2d_output_size(size, kernel, stride, padding, dilation) == count_outputs(
        size, kernel, stride, padding, dilation
    )
    if dilation == 1:
        t_avg = F.avg_pool2d(x, (kernel, 1), (stride, 1), (padding, 0))
        assert pool2d_output_size(size, kernel, stride, padding) == t_avg.shape[2]


# ============================================================================================
# Hand-checked cases
# ============================================================================================

X4 = np.arange(1.0, 17.0).reshape(1, 4, 4)
# [[ 1,  2,  3,  4],
#  [ 5,  6,  7,  8],
#  [ 9, 10, 11, 12],
#  [13, 14, 15, 16]]


def test_relu_hand():
    # Negatives -> 0, positives unchanged, NaN propagates (as in torch), -0.0 stays -0.0
    # (torch passes it through too: -0.0 < 0 is false).
    got = relu(np.array([-2.5, -0.0, 0.0, 3.0, np.nan]))
    np.testing.assert_array_equal(got, [0.0, 0.0, 0.0, 3.0, np.nan])
    assert np.signbit(got[1]) == bool(torch.signbit(torch.relu(torch.tensor(-0.0))))
    # The input is not modified.
    x = np.array([-1.0, 1.0])
    relu(x)
    np.testing.assert_array_equal(x, [-1.0, 1.0])


def test_max_pool2d_hand_2x2_default_stride():
    # stride defaults to the kernel: non-overlapping 2x2 blocks, max = bottom-right of each:
    #   rows 0-1/cols 0-1 -> 6, cols 2-3 -> 8; rows 2-3/cols 0-1 -> 14, cols 2-3 -> 16.
    np.testing.assert_array_equal(max_pool2d(X4, 2), [[[6.0, 8.0], [14.0, 16.0]]])
    np.testing.assert_array_equal(max_pool2d(X4, 2, None), max_pool2d(X4, 2, 2))


def test_max_pool2d_hand_padding_never_wins():
    # -X4 is all negative; 3x3 kernel, stride 2, padding 1 -> floor((4+2-2-1)/2)+1 = 2.
    # Windows (top-left in padded coords) cover input rows/cols {-1,0,1} and {1,2,3}.
    #   (0,0): rows 0-1, cols 0-1 of -X4 -> max(-1,-2,-5,-6)                = -1
    #   (0,1): rows 0-1, cols 1-3        -> max(-2,-3,-4,-6,-7,-8)          = -2
    #   (1,0): rows 1-3, cols 0-1        -> max(-5,-6,-9,-10,-13,-14)       = -5
    #   (1,1): rows 1-3, cols 1-3        -> -6
    # With zero padding the first row would be 0, which is what this guards against.
    got = max_pool2d(-X4, 3, 2, 1)
    np.testing.assert_array_equal(got, [[[-1.0, -2.0], [-5.0, -6.0]]])


def test_max_pool2d_hand_dilation_rectangular():
    # kernel (1, 2), dilation (1, 2): taps at columns x and x+2; stride (2, 1).
    # Output: rows 0 and 2 (floor((4-1)/2)+1 = 2), columns 0 and 1 (4 - 2 - 1 + 1 = 2).
    #   row 0: max(1,3)=3, max(2,4)=4; row 2: max(9,11)=11, max(10,12)=12
    got = max_pool2d(X4, (1, 2), (2, 1), 0, (1, 2))
    np.testing.assert_array_equal(got, [[[3.0, 4.0], [11.0, 12.0]]])


def test_avg_pool2d_hand_2x2():
    # Non-overlapping 2x2 means: (1+2+5+6)/4 = 3.5, (3+4+7+8)/4 = 5.5,
    #                            (9+10+13+14)/4 = 11.5, (11+12+15+16)/4 = 13.5
    np.testing.assert_allclose(avg_pool2d(X4, 2), [[[3.5, 5.5], [11.5, 13.5]]], **TOL)


def test_avg_pool2d_hand_count_include_pad():
    # 3x3 block [[1,2,3],[4,5,6],[7,8,9]], kernel 2, stride 2, padding 1 -> 2x2 output.
    # Windows in input coords: rows {-1,0} / {1,2}, cols {-1,0} / {1,2}.
    #   (0,0): only pixel 1 is real             -> sum 1
    #   (0,1): row 0, cols 1-2: 2+3             -> sum 5
    #   (1,0): rows 1-2, col 0: 4+7             -> sum 11
    #   (1,1): rows 1-2, cols 1-2: 5+6+8+9      -> sum 28
    x = np.arange(1.0, 10.0).reshape(1, 3, 3)
    # count_include_pad=True divides every sum by 4: 0.25, 1.25, 2.75, 7
    np.testing.assert_allclose(avg_pool2d(x, 2, 2, 1), [[[0.25, 1.25], [2.75, 7.0]]], **TOL)
    # count_include_pad=False divides by the real pixels (1, 2, 2, 4): 1, 2.5, 5.5, 7
    np.testing.assert_allclose(
        avg_pool2d(x, 2, 2, 1, count_include_pad=False), [[[1.0, 2.5], [5.5, 7.0]]], **TOL
    )


def test_pool2d_output_size_hand():
    # (224 + 2 - 2 - 1)//2 + 1 = 112: ResNet stem max pool, kernel 3, stride 2, padding 1.
    assert pool2d_output_size(224, 3, 2, 1) == 112
    # (5 + 0 - 2*(3-1) - 1)//1 + 1 = 1: the dilated kernel exactly spans the input.
    assert pool2d_output_size(5, 3, 1, 0, 2) == 1
    # (7 - 2 - 1)//3 + 1 = 2: the last column is not covered (ceil_mode=False drops it).
    assert pool2d_output_size(7, 2, 3, 0) == 2


# ============================================================================================
# Errors
# ============================================================================================


@pytest.mark.parametrize(
    "args",
    [
        (0, 2, 1, 0, 1),  # size < 1
        (4, 0, 1, 0, 1),  # kernel < 1
        (4, 2, 0, 0, 1),  # stride < 1
        (4, 2, 1, -1, 1),  # padding < 0
        (4, 2, 1, 0, 0),  # dilation < 1
        (4, 3, 1, 2, 1),  # padding 2 > 3 // 2
        (4, 1, 1, 1, 1),  # padding 1 > 1 // 2 = 0
        (4, 2, 1, 2, 3),  # padding 2 > 2 // 2 although the dilated extent 4 would allow it
        (4, 5, 1, 0, 1),  # output 0
        (4, 2, 1, 1, 6),  # output (4 + 2 - 6 - 1)//1 + 1 = 0
    ],
)
def test_pool2d_output_size_rejects(args):
    with pytest.raises(ValueError) as err:
        pool2d_output_size(*args)
    size, kernel, stride, padding, dilation = args
    # The message names the offending values.
    named = f"size={size}, kernel={kernel}, stride={stride}, padding={padding}, dilation={dilation}"
    assert named in str(err.value)
    if size >= 1:  # torch rejects the same configuration (along the height axis)
        x = torch.zeros((1, 1, size, 4), dtype=torch.float64)
        with pytest.raises(RuntimeError):
            F.max_pool2d(x, (kernel, 1), (stride, 1), (padding, 0), (dilation, 1))


def test_padding_rule_matches_torch_messages():
    """Document the two PyTorch 2.13 checks the reference mirrors with padding <= kernel // 2."""
    x = torch.zeros((1, 1, 5, 5), dtype=torch.float64)
    # kernel 3, padding 2: fails the effective-kernel check ((3-1)*1 + 1) // 2 = 1 first.
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel"):
        F.max_pool2d(x, 3, 1, 2)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel"):
        F.avg_pool2d(x, 3, 1, 2)
    # kernel 2, padding 2, dilation 3: effective extent 4 allows pad 2, but kernel // 2 = 1
    # does not -- dilation does not relax the limit.
    with pytest.raises(RuntimeError, match="pad should be smaller than or equal to half of kernel"):
        F.max_pool2d(x, 2, 1, 2, 3)
    for call in (
        lambda: max_pool2d(x[0].numpy(), 3, 1, 2),
        lambda: avg_pool2d(x[0].numpy(), 3, 1, 2),
        lambda: max_pool2d(x[0].numpy(), 2, 1, 2, 3),
        lambda: max_pool2d(x[0].numpy(), (3, 1), 1, (1, 1)),  # width: padding 1 > 1 // 2
    ):
        with pytest.raises(ValueError, match="at most half the kernel size"):
            call()


@pytest.mark.parametrize("h", [1, 2, 3])
def test_max_pool2d_window_of_only_padding(h):
    # Kernel 2, padding 1, dilation h + 1 along the rows: the only window's taps sit at rows
    # -1 and h, both padding (output rows: (h + 2 - (h+1) - 1)//1 + 1 = 1).  torch accepts
    # this and returns -inf; the reference refuses.
    x = np.arange(1.0, 3.0 * h + 1).reshape(1, h, 3)
    args = ((2, 1), 1, (1, 0), (h + 1, 1))
    t_out = F.max_pool2d(torch.tensor(x).unsqueeze(0), *args)
    assert t_out.shape == (1, 1, 1, 3)
    assert torch.isneginf(t_out).all()
    with pytest.raises(ValueError, match="only padding"):
        max_pool2d(x, *args)


def test_max_pool2d_genuine_neg_inf_is_not_padding():
    # An input that really contains -inf is pooled normally (no false "only padding" error).
    x = np.full((1, 2, 2), -np.inf)
    x[0, 1, 1] = 5.0
    np.testing.assert_array_equal(
        max_pool2d(x, 2, 1, 1),
        [[[-np.inf, -np.inf, -np.inf], [-np.inf, 5.0, 5.0], [-np.inf, 5.0, 5.0]]],
    )


def test_max_pool2d_nan_propagates_like_torch():
    x = np.array([[[1.0, np.nan], [3.0, 4.0]]])
    t_out = F.max_pool2d(torch.tensor(x).unsqueeze(0), 2)[0].numpy()
    np.testing.assert_array_equal(max_pool2d(x, 2), t_out)
    assert np.isnan(t_out).all()


@pytest.mark.parametrize(
    "call",
    [
        lambda x: max_pool2d(x, 0),
        lambda x: max_pool2d(x, 2, 0),
        lambda x: max_pool2d(x, 2, 1, -1),
        lambda x: max_pool2d(x, 2, 1, 0, 0),
        lambda x: max_pool2d(x, 5),  # output 0
        lambda x: max_pool2d(x, 2.5),
        lambda x: max_pool2d(x, (2, 2, 2)),
        lambda x: max_pool2d(x[0], 2),  # 2-D input
        lambda x: avg_pool2d(x, 0),
        lambda x: avg_pool2d(x, 2, 0),
        lambda x: avg_pool2d(x, 2, 1, -1),
        lambda x: avg_pool2d(x, 2, 1, 2),
        lambda x: avg_pool2d(x, 5),
        lambda x: avg_pool2d(x, 2, count_include_pad="no"),
    ],
)
def test_pool_argument_errors(call):
    with pytest.raises(ValueError):
        call(X4)


def test_avg_pool2d_count_include_pad_is_keyword_only():
    # In torch the fifth positional argument is ceil_mode; a positional port must fail loudly.
    with pytest.raises(TypeError):
        avg_pool2d(X4, 2, 2, 1, False)  # type: ignore[misc]
