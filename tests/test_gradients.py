"""The backward pass's NumPy references (`convsheets/gradients.py`) equal torch.autograd.

Random layers of every op with gradient sheets (stride, padding, dilation, groups,
output_padding, no bias; max pooling on small integers, so windows tie often), float64, one
image in a batch of one: autograd's grad of the input, weight and bias for a random upstream
gradient, and ``F.mse_loss``'s value and gradient.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convsheets import gradients as G
from convsheets.ops import AvgPool2d, Conv2d, LeakyReLU, MaxPool2d, ReLU
from convsheets.reference import conv2d_output_size

TOL = {"rtol": 1e-12, "atol": 1e-12}


def _autograd(fn, x, *params, grad_y=None):
    """(output, grad of x, grads of params) by torch.autograd for upstream gradient grad_y."""
    xs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, *params)]
    y = fn(*xs)
    g = torch.tensor(grad_y, dtype=torch.float64) if grad_y is not None else None
    y.backward(g)
    return y.detach().numpy(), [t.grad.numpy() for t in xs]


@st.composite
def conv_layers(draw):
    groups = draw(st.integers(1, 2))
    c = groups * draw(st.integers(1, 2))
    o = groups * draw(st.integers(1, 2))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    h = draw(st.integers(max(1, d[0] * (k[0] - 1) + 1 - 2 * p[0]), 7))
    w = draw(st.integers(max(1, d[1] * (k[1] - 1) + 1 - 2 * p[1]), 7))
    return c, o, k, s, p, d, groups, (h, w)


@settings(max_examples=60, deadline=None)
@given(conv_layers(), st.integers(0, 2**31), st.booleans())
def test_conv2d_backward_is_autograd(layer, seed, bias):
    c, o, k, s, p, d, groups, (h, w) = layer
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c, h, w))
    weight = rng.standard_normal((o, c // groups, *k))
    b = rng.standard_normal(o)
    oh, ow = conv2d_output_size(h, k[0], s[0], p[0], d[0]), conv2d_output_size(w, k[1], s[1],
                                                                             p[1], d[1])
    grad_y = rng.standard_normal((o, oh, ow))
    op = Conv2d(c, o, k, s, p, d, groups, bias)
    tensors = {"weight": weight, **({"bias": b} if bias else {})}
    params = [weight] + ([b] if bias else [])

    def fn(xt, wt, bt=None):
        return F.conv2d(xt[None], wt, bt, s, p, d, groups)[0]

    _, grads = _autograd(fn, x, *params, grad_y=grad_y)
    grad_x, mine = op.backward(x, tensors, grad_y)
    np.testing.assert_allclose(grad_x, grads[0], **TOL)
    np.testing.assert_allclose(mine["weight"], grads[1], **TOL)
    if bias:
        np.testing.assert_allclose(mine["bias"], grads[2], **TOL)
    else:
        assert "bias" not in mine
    # grad_input is the transposed convolution of grad_output with the same weights
    twin = op.transposed_twin((c, h, w))
    np.testing.assert_allclose(twin.reference(grad_y, {"weight": weight}), grads[0], **TOL)
    assert twin.output_shape((o, oh, ow)) == (c, h, w)


def test_conv_transpose2d_backward_is_autograd():
    rng = np.random.default_rng(3)
    for _ in range(30):
        groups = int(rng.integers(1, 3))
        c, o = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        k = tuple(int(v) for v in rng.integers(1, 4, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        d = tuple(int(v) for v in rng.integers(1, 3, 2))
        p = tuple(int(rng.integers(0, d[a] * (k[a] - 1) + 1)) for a in (0, 1))
        op_ = tuple(int(rng.integers(0, max(s[a], d[a]))) for a in (0, 1))
        x = rng.standard_normal((c, int(rng.integers(1, 5)), int(rng.integers(1, 5))))
        weight = rng.standard_normal((c, o // groups, *k))

        def fn(xt, wt, s=s, p=p, op_=op_, groups=groups, d=d):
            return F.conv_transpose2d(xt[None], wt, None, s, p, op_, groups, d)[0]

        try:
            y, _ = _autograd(fn, x, weight)
        except RuntimeError:
            continue  # an empty output
        grad_y = rng.standard_normal(y.shape)
        _, grads = _autograd(fn, x, weight, grad_y=grad_y)
        gx, gw, gb = G.conv_transpose2d_backward(x, weight, grad_y, stride=s, padding=p,
                                                 output_padding=op_, dilation=d, groups=groups)
        np.testing.assert_allclose(gx, grads[0], **TOL)
        np.testing.assert_allclose(gw, grads[1], **TOL)
        np.testing.assert_allclose(gb, grad_y.sum(axis=(1, 2)), **TOL)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 1), st.integers(0, 1), st.integers(1, 2), st.integers(0, 2**31))
def test_max_pool2d_backward_routes_to_the_first_maximum(kh, kw, sh, sw, ph, pw, dh, seed):
    ph, pw = min(ph, kh // 2), min(pw, kw // 2)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, (2, 6, 5)).astype(float)  # few values: windows tie
    op = MaxPool2d((kh, kw), (sh, sw), (ph, pw), dilation=(dh, 1))
    try:
        op.check(x.shape)
    except Exception:  # a window of padding only: refused by the op, as the sheets refuse it
        return
    y = op.reference(x, {})
    grad_y = rng.standard_normal(y.shape)

    def fn(xt):
        return F.max_pool2d(xt[None], (kh, kw), (sh, sw), (ph, pw), (dh, 1))[0]

    out, grads = _autograd(fn, x, grad_y=grad_y)
    np.testing.assert_array_equal(out, y)
    np.testing.assert_allclose(op.backward(x, {}, grad_y)[0], grads[0], **TOL)


def test_max_pool2d_tie_goes_to_the_first_in_row_major_order():
    x = np.array([[[1.0, 5.0], [5.0, 5.0]]])
    winners = G.max_pool2d_winners(x, (2, 2), (2, 2), (0, 0), (1, 1))
    assert winners.tolist() == [[[1.0]]]  # tap (0, 1): the first 5 reading row by row
    _, grads = _autograd(lambda t: F.max_pool2d(t[None], 2)[0], x, grad_y=np.ones((1, 1, 1)))
    assert grads[0].tolist() == [[[0.0, 1.0], [0.0, 0.0]]]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 1), st.integers(0, 1), st.booleans(), st.integers(0, 2**31))
def test_avg_pool2d_backward_is_autograd(kh, kw, sh, sw, ph, pw, include, seed):
    ph, pw = min(ph, kh // 2), min(pw, kw // 2)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 5, 6))
    op = AvgPool2d((kh, kw), (sh, sw), (ph, pw), count_include_pad=include)
    y = op.reference(x, {})
    grad_y = rng.standard_normal(y.shape)

    def fn(xt):
        return F.avg_pool2d(xt[None], (kh, kw), (sh, sw), (ph, pw),
                            count_include_pad=include)[0]

    _, grads = _autograd(fn, x, grad_y=grad_y)
    np.testing.assert_allclose(op.backward(x, {}, grad_y)[0], grads[0], **TOL)


def test_relu_and_leaky_relu_backward_are_autograd():
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, (2, 4, 4)).astype(float)  # zeros included: PyTorch passes none
    grad_y = rng.standard_normal(x.shape)
    _, grads = _autograd(F.relu, x, grad_y=grad_y)
    np.testing.assert_allclose(ReLU().backward(x, {}, grad_y)[0], grads[0], **TOL)
    _, grads = _autograd(lambda t: F.leaky_relu(t, 0.1), x, grad_y=grad_y)
    np.testing.assert_allclose(LeakyReLU(0.1).backward(x, {}, grad_y)[0], grads[0], **TOL)


def test_mse_loss_and_its_gradient_are_pytorchs():
    rng = np.random.default_rng(1)
    y, t = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    loss, grads = _autograd(lambda a, b: F.mse_loss(a, b), y, t)
    assert abs(G.mse_loss(y, t) - float(loss)) < 1e-12
    np.testing.assert_allclose(G.mse_grad(y, t), grads[0], **TOL)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 5),
       st.booleans(), st.integers(0, 1000))
def test_linear_and_flatten_backward_are_autograd(c, h, w, out, bias, seed):
    """flatten then linear (torch.flatten(x, 1), F.linear) on a C×H×W image: grad of the
    image, the weight matrix and the bias, each op's reference alone."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, c, h, w))
    weight = rng.standard_normal((out, c * h * w))
    b = rng.standard_normal(out)
    g = rng.standard_normal((1, out))
    params = (weight, b) if bias else (weight,)
    _, grads = _autograd(lambda x_, w_, *b_: F.linear(torch.flatten(x_, 1), w_, *b_), x,
                         *params, grad_y=g)
    flat = x[0].reshape(1, 1, -1)
    grad_flat, grad_w, grad_b = G.linear_backward(flat, weight, g.reshape(1, 1, -1))
    np.testing.assert_allclose(G.flatten_backward(x[0], grad_flat), grads[0][0], **TOL)
    np.testing.assert_allclose(grad_w, grads[1], **TOL)
    if bias:
        np.testing.assert_allclose(grad_b, grads[2], **TOL)
    assert grad_flat.shape == flat.shape


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 3), st.booleans(), st.sampled_from([1e-5, 0.1]), st.integers(0, 1000))
def test_batch_norm2d_eval_backward_is_autograd(c, affine, eps, seed):
    """F.batch_norm(training=False): grad of the input, weight and bias (the running
    statistics, buffers, get none)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, c, 3, 4))
    mean, var = rng.standard_normal(c), 0.5 + rng.random(c)
    weight, bias = rng.standard_normal(c), rng.standard_normal(c)
    g = rng.standard_normal((1, c, 3, 4))
    params = (weight, bias) if affine else ()
    _, grads = _autograd(lambda x_, *p: F.batch_norm(
        x_, torch.tensor(mean), torch.tensor(var), *p, training=False, eps=eps), x, *params,
        grad_y=g)
    grad_x, grad_w, grad_b = G.batch_norm2d_backward(x[0], mean, var, weight if affine
                                                     else None, eps, g[0])
    np.testing.assert_allclose(grad_x, grads[0][0], **TOL)
    if affine:
        np.testing.assert_allclose(grad_w, grads[1], **TOL)
        np.testing.assert_allclose(grad_b, grads[2], **TOL)


# ---------------------------------------------------------------------------- joins (graphs)
def test_join_references_equal_autograd() -> None:
    """add (with alpha), mul (also of a tensor with itself: its two contributions summed by
    `reader_sum` equal autograd's one gradient) and cat of three inputs: each input's
    gradient by `Merge.backward_many` equals torch.autograd's."""
    from convsheets.ops import Add, Cat, Mul

    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    g = rng.normal(size=(2, 3, 4))
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    for op, fn in ((Add(alpha=-0.5), lambda x, y: torch.add(x, y, alpha=-0.5)),
                   (Mul(), torch.mul)):
        ta.grad = tb.grad = None
        fn(ta, tb).backward(torch.tensor(g))
        mine = op.backward_many([a, b], {}, g)
        np.testing.assert_allclose(mine[0], ta.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(mine[1], tb.grad.numpy(), rtol=1e-12, atol=1e-12)
    ta.grad = None
    torch.mul(ta, ta).backward(torch.tensor(g))
    np.testing.assert_allclose(G.reader_sum(Mul().backward_many([a, a], {}, g)),
                               ta.grad.numpy(), rtol=1e-12, atol=1e-12)
    xs = [rng.normal(size=(c, 3, 4)) for c in (1, 3, 2)]
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    gc = rng.normal(size=(6, 3, 4))
    torch.cat(ts, dim=0).backward(torch.tensor(gc))
    for mine, t in zip(Cat().backward_many(xs, {}, gc), ts, strict=True):
        np.testing.assert_array_equal(mine, t.grad.numpy())


# ---------------------------------------------------------------------------- activations
# Every element-wise op and softmax / log_softmax with gradient sheets (issue 25), every
# option; inputs on the kinks (0, ±3, 6, the hardtanh bounds, softplus's threshold), normal
# values and values where a naive formula overflows.
KINKS = (-800.0, -20.0, -6.0, -4.0, -3.0, -2.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0,
         3.0, 4.0, 6.0, 7.0, 10.0, 20.0, 21.0, 800.0)
ACTIVATIONS = [
    ("identity", {}, lambda t: t),
    ("dropout", {"p": 0.3}, lambda t: F.dropout(t, 0.3, training=False)),
    ("sigmoid", {}, torch.sigmoid),
    ("tanh", {}, torch.tanh),
    ("elu", {}, F.elu),
    ("elu", {"alpha": 0.5}, lambda t: F.elu(t, 0.5)),
    ("elu", {"alpha": -1.5}, lambda t: F.elu(t, -1.5)),
    ("gelu", {}, F.gelu),
    ("gelu", {"approximate": "tanh"}, lambda t: F.gelu(t, approximate="tanh")),
    ("hardswish", {}, F.hardswish),
    ("hardtanh", {}, F.hardtanh),
    ("hardtanh", {"min_val": -3.0, "max_val": 6.0}, lambda t: F.hardtanh(t, -3.0, 6.0)),
    ("hardtanh", {"min_val": 0.25, "max_val": 0.5}, lambda t: F.hardtanh(t, 0.25, 0.5)),
    ("relu6", {}, F.relu6),
    ("silu", {}, F.silu),
    ("softplus", {}, F.softplus),
    ("softplus", {"beta": 2.0, "threshold": 6.0}, lambda t: F.softplus(t, 2.0, 6.0)),
    ("softplus", {"beta": -1.0, "threshold": 1.0}, lambda t: F.softplus(t, -1.0, 1.0)),
    ("softplus", {"beta": 0.5, "threshold": 1.0}, lambda t: F.softplus(t, 0.5, 1.0)),
]


def _kinks() -> tuple[np.ndarray, np.ndarray]:
    x = np.array(KINKS).reshape(2, 1, -1)
    return x, np.random.default_rng(3).standard_normal(x.shape)


def test_activation_backward_is_autograd():
    from convsheets.ops import OPS

    x, grad_y = _kinks()
    for name, options, fn in ACTIVATIONS:
        op = OPS[name].create(options, x.shape)
        _, grads = _autograd(fn, x, grad_y=grad_y)
        np.testing.assert_allclose(op.backward(x, {}, grad_y)[0], grads[0], **TOL,
                                   err_msg=f"{name} {options}")


def test_the_kinks_follow_pytorch():
    """What the references (and the sheets' notes) say PyTorch does at each kink, against
    torch.autograd: hardtanh / relu6 / hardsigmoid pass nothing on their bounds, hardswish
    takes the outer slopes at ±3, elu's x = 0 takes alpha, softplus's threshold is strict."""
    def slope(fn, at: float) -> float:
        return _autograd(fn, np.array([at]))[1][0][0]

    assert [slope(F.relu6, v) for v in (0.0, 6.0)] == [0.0, 0.0]
    assert [slope(F.hardtanh, v) for v in (-1.0, 1.0)] == [0.0, 0.0]
    assert [slope(F.hardsigmoid, v) for v in (-3.0, 3.0)] == [0.0, 0.0]
    assert [slope(F.hardswish, v) for v in (-3.0, 3.0)] == [0.0, 1.0]
    assert slope(lambda t: F.elu(t, 0.5), 0.0) == 0.5
    assert slope(lambda t: F.softplus(t, 2.0, 6.0), 3.0) < 1.0  # 2·3 = 6 is not > 6


def test_hardsigmoid_backward_is_autograd_of_its_definition():
    """hardsigmoid's slope is 1/6 strictly inside (-3, 3): equal to autograd of relu6(x + 3)
    / 6 (the same function, to the last bit) to 1e-12. F.hardsigmoid's own float64 kernel
    multiplies by ``1.0f / 6.0f``, 1/6 rounded to float32: the same mask, values 3e-8
    relative off (the sheets and `gradients.py` use 1/6; tests/test_backward.py's oracle the
    definition)."""
    from convsheets.ops import Hardsigmoid

    x, grad_y = _kinks()
    mine = Hardsigmoid().backward(x, {}, grad_y)[0]
    _, grads = _autograd(lambda t: F.relu6(t + 3) / 6, x, grad_y=grad_y)
    np.testing.assert_allclose(mine, grads[0], **TOL)
    np.testing.assert_allclose(F.hardsigmoid(torch.tensor(x)).numpy(),
                               (F.relu6(torch.tensor(x) + 3) / 6).numpy(), rtol=0, atol=0)
    _, own = _autograd(F.hardsigmoid, x, grad_y=grad_y)
    assert np.array_equal(own[0] == 0, mine == 0)
    np.testing.assert_allclose(own[0], mine, rtol=5e-8, atol=0)
    assert not np.allclose(own[0], mine, rtol=1e-9, atol=0)  # (why the oracle is not it)


def test_softmax_and_log_softmax_backward_are_autograd():
    """Over a map's channels and a vector's features, with scores large enough that a naive
    EXP would overflow; and the Grad Sum stages (Σ g·y, Σ g) against their definitions."""
    from convsheets.ops import LogSoftmax, Softmax

    rng = np.random.default_rng(5)
    for scale in (1.0, 300.0):
        for vector, shape, dim in ((False, (3, 2, 4), 1), (False, (1, 2, 3), -3),
                                   (True, (1, 1, 6), -1), (True, (1, 1, 2), 1)):
            x = rng.standard_normal(shape) * scale
            grad_y = rng.standard_normal(shape)
            for cls, fn in ((Softmax, F.softmax), (LogSoftmax, F.log_softmax)):
                op = cls.create({"dim": dim}, shape).placed(shape, vector)
                axis = -1 if vector else 0

                def call(t, fn=fn, axis=axis):
                    return fn(t[None], dim=axis if axis < 0 else 1)[0]

                y, grads = _autograd(call, x, grad_y=grad_y)
                np.testing.assert_allclose(op.backward(x, {}, grad_y)[0], grads[0], **TOL)
                stages = op.backward_stages(x, {}, grad_y)
                if op.log:
                    np.testing.assert_allclose(stages["grad_sum"],
                                               grad_y.sum(axis=axis, keepdims=True), **TOL)
                else:
                    np.testing.assert_allclose(stages["grad_dot"], (grad_y * y).sum(
                        axis=axis, keepdims=True), **TOL)
