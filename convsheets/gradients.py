"""NumPy references of the backward pass, with the semantics of ``torch.autograd``.

The backward sheets compute gradients with live formulas drawn the way a student learns them
(grad_input of a convolution as the transposed convolution of grad_output, grad_weight as the
correlation of the padded input with the stride-dilated grad_output). These references are the
oracle they are checked against, so they are written from the *other* definition, the chain
rule applied term by term to the forward sum, tap by tap:

* conv2d: every output cell ``y[o, r, k] = Σ w[o, c', i, j] · xpad[c, r·s + i·d, k·s + j·d]``
  passes ``grad_y[o, r, k] · w`` back to each input tap it read and ``grad_y · xpad`` to each
  weight (a scatter into grad_input, never a transposed convolution);
* conv_transpose2d: the scatter definition read backwards (each input pixel's gradient gathers
  ``w · grad_y`` from the output cells it wrote into);
* max_pool2d: the whole gradient to the window's first maximum in row-major order (PyTorch's
  CPU kernel keeps the first ``val > max``); padding (-inf) never wins;
* avg_pool2d: the gradient shared evenly by the window's cells, divided by the same divisor
  as the forward pass (kH·kW with count_include_pad, else the cells inside the input);
* relu / leaky_relu: passed where the input is > 0 (else 0 / negative_slope times it);
* the other element-wise activations and softmax / log_softmax: their own section below,
  each derivative from its definition (softmax by its whole Jacobian per pixel);
* mse loss (``F.mse_loss``, mean): ``2 (y - t) / N``.

All in float64, one image (no batch), as `reference.py`.
"""

from __future__ import annotations

import numpy as np

from .reference import pool2d_output_size

Pair = tuple[int, int]


def mse_loss(y: np.ndarray, target: np.ndarray) -> float:
    """``F.mse_loss(y, target)`` with the mean reduction."""
    d = np.asarray(y, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return float(np.mean(d * d))


def mse_grad(y: np.ndarray, target: np.ndarray) -> np.ndarray:
    """d mse_loss / d y: ``2 (y - t) / N``."""
    y = np.asarray(y, dtype=np.float64)
    return 2.0 * (y - np.asarray(target, dtype=np.float64)) / y.size


def conv2d_backward(x: np.ndarray, weight: np.ndarray, grad_y: np.ndarray, *, stride: Pair,
                    padding: Pair | tuple[Pair, Pair], dilation: Pair, groups: int,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grad_input, grad_weight, grad_bias) of ``F.conv2d`` for upstream gradient `grad_y`.
    `padding` is (rows, columns) on both sides, or ((top, bottom), (left, right)) zeros for
    uneven padding (``F.pad`` then ``F.conv2d``: a causal conv1d, an odd "same")."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    g = np.asarray(grad_y, dtype=np.float64)
    (sh, sw), (dh, dw) = stride, dilation
    sides = [p if isinstance(p, tuple) else (p, p) for p in padding]
    (ph, _), (pw, _) = sides
    xp = np.pad(x, ((0, 0), *sides))
    grad_xp = np.zeros_like(xp)
    grad_w = np.zeros_like(w)
    out_c, per_in, kh, kw = w.shape
    _, oh, ow = g.shape
    per_out = out_c // groups
    for o in range(out_c):
        channels = slice((o // per_out) * per_in, (o // per_out + 1) * per_in)
        for i in range(kh):
            rows = i * dh + sh * np.arange(oh)
            for j in range(kw):
                cols = j * dw + sw * np.arange(ow)
                taps = xp[channels][:, rows][:, :, cols]  # (per_in, oh, ow): what tap (i, j) read
                grad_w[o, :, i, j] = (taps * g[o]).sum(axis=(1, 2))
                grad_xp[channels, rows[:, None], cols[None, :]] += \
                    w[o, :, i, j][:, None, None] * g[o]
    h, wd = x.shape[1:]
    return grad_xp[:, ph:ph + h, pw:pw + wd], grad_w, g.sum(axis=(1, 2))


def conv_transpose2d_backward(x: np.ndarray, weight: np.ndarray, grad_y: np.ndarray, *,
                              stride: Pair, padding: Pair, output_padding: Pair,
                              dilation: Pair, groups: int,
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grad_input, grad_weight, grad_bias) of ``F.conv_transpose2d``: input pixel (c, r, k)
    wrote ``x · w[c, o', i, j]`` into output cell (o, r·s - p + i·d, k·s - p + j·d); its
    gradient gathers ``w · grad_y`` back from there, and the weight's ``x · grad_y``."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    g = np.asarray(grad_y, dtype=np.float64)
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    in_c, per_out, kh, kw = w.shape
    _, h, wd = x.shape
    per_in = in_c // groups
    # grad_y on a canvas wide enough that every written position (even the cropped ones) exists
    big_h, big_w = (h - 1) * sh + (kh - 1) * dh + 1, (wd - 1) * sw + (kw - 1) * dw + 1
    canvas = np.zeros((g.shape[0], big_h + g.shape[1], big_w + g.shape[2]))
    canvas[:, ph:ph + g.shape[1], pw:pw + g.shape[2]] = g
    grad_x = np.zeros_like(x)
    grad_w = np.zeros_like(w)
    for c in range(in_c):
        outs = slice((c // per_in) * per_out, (c // per_in + 1) * per_out)
        for i in range(kh):
            rows = i * dh + sh * np.arange(h)
            for j in range(kw):
                cols = j * dw + sw * np.arange(wd)
                read = canvas[outs][:, rows][:, :, cols]  # (per_out, h, w)
                grad_x[c] += np.tensordot(w[c, :, i, j], read, axes=(0, 0))
                grad_w[c, :, i, j] = (read * x[c]).sum(axis=(1, 2))
    return grad_x, grad_w, g.sum(axis=(1, 2))


def max_pool2d_winners(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair,
                       dilation: Pair) -> np.ndarray:
    """For each output cell, the tap ``i·kW + j`` of its window that holds the first maximum
    in row-major order (padding never wins), as PyTorch's CPU kernel picks it."""
    x = np.asarray(x, dtype=np.float64)
    c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    oh, ow = pool2d_output_size(h, kh, sh, ph, dh), pool2d_output_size(w, kw, sw, pw, dw)
    winners = np.zeros((c, oh, ow))
    for ch in range(c):
        for r in range(oh):
            for k in range(ow):
                best, where = -np.inf, -1
                for i in range(kh):
                    for j in range(kw):
                        y, xx = r * sh - ph + i * dh, k * sw - pw + j * dw
                        if 0 <= y < h and 0 <= xx < w and (where < 0 or x[ch, y, xx] > best):
                            best, where = x[ch, y, xx], i * kw + j
                winners[ch, r, k] = where
    return winners


def max_pool2d_backward(x: np.ndarray, grad_y: np.ndarray, kernel: Pair, stride: Pair,
                        padding: Pair, dilation: Pair) -> np.ndarray:
    """grad_input of ``F.max_pool2d``: each window's gradient to its first maximum."""
    winners = max_pool2d_winners(x, kernel, stride, padding, dilation)
    grad_x = np.zeros_like(np.asarray(x, dtype=np.float64))
    (_kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    for ch, r, k in np.ndindex(*winners.shape):
        i, j = divmod(int(winners[ch, r, k]), kw)
        grad_x[ch, r * sh - ph + i * dh, k * sw - pw + j * dw] += grad_y[ch, r, k]
    return grad_x


def avg_pool2d_backward(x: np.ndarray, grad_y: np.ndarray, kernel: Pair, stride: Pair,
                        padding: Pair, count_include_pad: bool) -> np.ndarray:
    """grad_input of ``F.avg_pool2d``: each window's gradient over its divisor, to every
    cell of the window inside the input."""
    x = np.asarray(x, dtype=np.float64)
    _, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    grad_x = np.zeros_like(x)
    for ch, r, k in np.ndindex(*np.shape(grad_y)):
        cells = [(y, xx) for y in range(r * sh - ph, r * sh - ph + kh)
                 for xx in range(k * sw - pw, k * sw - pw + kw) if 0 <= y < h and 0 <= xx < w]
        divisor = kh * kw if count_include_pad else len(cells)
        for y, xx in cells:
            grad_x[ch, y, xx] += grad_y[ch, r, k] / divisor
    return grad_x


def relu_backward(x: np.ndarray, grad_y: np.ndarray, negative_slope: float = 0.0) -> np.ndarray:
    """grad_input of relu (slope 0) and leaky_relu: grad_y where x > 0, else slope·grad_y."""
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(grad_y, dtype=np.float64)
    return np.where(x > 0, g, g * negative_slope if negative_slope else 0.0)


def cross_entropy_loss(scores: np.ndarray, target: int) -> float:
    """``F.cross_entropy(scores[None], [target])`` (mean over a batch of one): the log of the
    sum of every score's exponential minus the target's score, by log-sum-exp (the largest
    score taken out first, so no exponential overflows)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    top = s.max()
    return float(np.log(np.exp(s - top).sum()) + top - s[int(target)])


def cross_entropy_grad(scores: np.ndarray, target: int) -> np.ndarray:
    """d cross_entropy / d scores: ``softmax(scores) - one_hot(target)``, shaped as `scores`."""
    s = np.asarray(scores, dtype=np.float64)
    flat = s.reshape(-1)
    e = np.exp(flat - flat.max())
    g = e / e.sum()
    g[int(target)] -= 1.0
    return g.reshape(s.shape)


def linear_backward(x: np.ndarray, weight: np.ndarray, grad_y: np.ndarray,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grad_input, grad_weight, grad_bias) of ``F.linear`` (y = W x + b) on a flat input,
    term by term: output j read ``W[j, i] · x[i]``, so input i gathers ``W[j, i] · g[j]`` over
    the outputs and weight (j, i) gets ``g[j] · x[i]``. grad_input has `x`'s shape."""
    v = np.asarray(x, dtype=np.float64).reshape(-1)
    w = np.asarray(weight, dtype=np.float64)
    g = np.asarray(grad_y, dtype=np.float64).reshape(-1)
    grad_x = np.zeros_like(v)
    grad_w = np.zeros_like(w)
    for j in range(w.shape[0]):
        grad_x += w[j] * g[j]
        grad_w[j] = g[j] * v
    return grad_x.reshape(np.shape(x)), grad_w, g.copy()


def flatten_backward(x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """grad_input of ``torch.flatten(x, 1)``: feature n came from channel n // (H·W), row
    (n % (H·W)) // W, column n % W; its gradient goes back there."""
    x = np.asarray(x, dtype=np.float64)
    c, h, w = x.shape
    g = np.asarray(grad_y, dtype=np.float64).reshape(-1)
    grad_x = np.zeros_like(x)
    for n in range(g.size):
        channel, rest = divmod(n, h * w)
        grad_x[channel, rest // w, rest % w] = g[n]
    return grad_x


def batch_norm2d_backward(x: np.ndarray, mean: np.ndarray, var: np.ndarray,
                          weight: np.ndarray | None, eps: float, grad_y: np.ndarray,
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grad_input, grad_weight, grad_bias) of ``F.batch_norm(training=False)``: each cell
    ``y = (x - mean) · w / sqrt(var + eps) + b`` passes ``g · w / sqrt(var + eps)`` back to
    its input; the weight of channel c gathers ``g · (x - mean) / sqrt(var + eps)`` over the
    channel's cells, the bias ``g``. The running statistics are not trained (no gradient)."""
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(grad_y, dtype=np.float64)
    root = np.sqrt(np.asarray(var, dtype=np.float64) + eps)
    w = np.ones_like(root) if weight is None else np.asarray(weight, dtype=np.float64)
    grad_x = np.empty_like(x)
    grad_w = np.empty_like(root)
    for c in range(x.shape[0]):
        grad_x[c] = g[c] * (w[c] / root[c])
        grad_w[c] = float((g[c] * (x[c] - mean[c])).sum()) / root[c]
    return grad_x, grad_w, g.sum(axis=(1, 2))


# ---------------------------------------------------------------------------- graphs (joins)
def add_backward(grad_y: np.ndarray, alpha: float = 1.0) -> list[np.ndarray]:
    """(grad of the first input, grad of the second) of ``torch.add(a, b, alpha=alpha)``:
    each output cell is ``a + alpha · b`` of the same cell, so ``a`` gets ``g`` and ``b``
    gets ``alpha · g``."""
    g = np.asarray(grad_y, dtype=np.float64)
    return [g.copy(), alpha * g]


def mul_backward(a: np.ndarray, b: np.ndarray, grad_y: np.ndarray) -> list[np.ndarray]:
    """(grad of ``a``, grad of ``b``) of ``torch.mul(a, b)``: each output cell is ``a · b``
    of the same cell, so ``a`` gets ``g · b`` and ``b`` gets ``g · a``."""
    g = np.asarray(grad_y, dtype=np.float64)
    return [g * np.asarray(b, dtype=np.float64), g * np.asarray(a, dtype=np.float64)]


def cat_backward(channels: list[int], grad_y: np.ndarray) -> list[np.ndarray]:
    """The grad of each input of ``torch.cat(xs, dim=1)`` (`channels`: each input's channel
    count): output channel ``o`` is channel ``o - start`` of the input whose channels start at
    ``start``, so each input gets the gradient of its own channels, one by one."""
    g = np.asarray(grad_y, dtype=np.float64)
    grads = [np.zeros((count, *g.shape[1:])) for count in channels]
    o = 0
    for k, count in enumerate(channels):
        for c in range(count):
            grads[k][c] = g[o]
            o += 1
    return grads


def reader_sum(contributions: list[np.ndarray]) -> np.ndarray:
    """The gradient of a tensor several layers read: by the multivariable chain rule, the sum
    of what each reader passes back (``torch.autograd`` accumulates them the same way)."""
    total = np.zeros_like(np.asarray(contributions[0], dtype=np.float64))
    for part in contributions:
        total = total + np.asarray(part, dtype=np.float64)
    return total


# ---------------------------------------------------------------------------- resampling
# adaptive pooling and upsample (issue 25, resample). Their windows and source positions are
# written here again from ATen's definitions (`AdaptivePooling.h`, `UpSample.h`,
# `UpSampleKernel.cpp`), not taken from the ops' `bounds` / `taps` the sheets are drawn from,
# and the gradients are scattered output cell by output cell (the sheets gather per input
# cell).
def _adaptive_window(out: int, n_out: int, size: int) -> range:
    """Input indices output `out` of `n_out` reduces: ATen's start_index = floor(out·size /
    n_out) to end_index = (out + 1)·size / n_out rounded up (exclusive)."""
    return range((out * size) // n_out, ((out + 1) * size + n_out - 1) // n_out)


def adaptive_avg_pool2d_shares(x_shape: tuple[int, ...], grad_y: np.ndarray) -> np.ndarray:
    """Each output cell's gradient over its window's cell count: what each cell of that window
    receives from it (``F.adaptive_avg_pool2d`` divides by the window's own size)."""
    g = np.asarray(grad_y, dtype=np.float64)
    _, h, w = x_shape
    _, oh, ow = g.shape
    counts = np.array([[len(_adaptive_window(i, oh, h)) * len(_adaptive_window(j, ow, w))
                        for j in range(ow)] for i in range(oh)], dtype=np.float64)
    return g / counts


def adaptive_avg_pool2d_backward(x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """grad_input of ``F.adaptive_avg_pool2d``: every cell of each (possibly overlapping,
    unequal) window gets that window's gradient over its cell count; overlaps add up."""
    x = np.asarray(x, dtype=np.float64)
    shares = adaptive_avg_pool2d_shares(x.shape, grad_y)
    _, h, w = x.shape
    grad_x = np.zeros_like(x)
    for ch, i, j in np.ndindex(*shares.shape):
        for r in _adaptive_window(i, shares.shape[1], h):
            for c in _adaptive_window(j, shares.shape[2], w):
                grad_x[ch, r, c] += shares[ch, i, j]
    return grad_x


def adaptive_max_pool2d_winners(x: np.ndarray, output_size: Pair) -> np.ndarray:
    """For each output cell, the flat input index ``row·W + column`` of its window's maximum
    (what ``return_indices=True`` gives): ATen's CPU kernel walks the window row by row and
    keeps a cell when ``val > maxval || isnan(val)``, so the first of equal maxima wins."""
    x = np.asarray(x, dtype=np.float64)
    c, h, w = x.shape
    oh, ow = output_size
    winners = np.zeros((c, oh, ow))
    for ch, i, j in np.ndindex(c, oh, ow):
        best, where = -np.inf, -1
        for r in _adaptive_window(i, oh, h):
            for k in _adaptive_window(j, ow, w):
                value = x[ch, r, k]
                if where < 0 or value > best or np.isnan(value):
                    best, where = value, r * w + k
        winners[ch, i, j] = where
    return winners


def adaptive_max_pool2d_backward(x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """grad_input of ``F.adaptive_max_pool2d``: each window's gradient to its winner."""
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(grad_y, dtype=np.float64)
    winners = adaptive_max_pool2d_winners(x, g.shape[1:])
    grad_x = np.zeros_like(x)
    flat = grad_x.reshape(x.shape[0], -1)
    for ch, i, j in np.ndindex(*g.shape):
        flat[ch, int(winners[ch, i, j])] += g[ch, i, j]
    return grad_x


def upsample_axis_weights(n_in: int, n_out: int, mode: str, align_corners: bool | None,
                          scale_factor: float | None) -> np.ndarray:
    """(n_in, n_out): how much output position d reads input position s along one axis of
    ``F.interpolate`` (`scale_factor` the one ATen's kernel receives: None when a size was
    given or recompute_scale_factor is set). ATen: nearest reads floor(d · scale) in float32
    (d >> 1 when doubling), at most n_in - 1, scale = 1/scale_factor or n_in/n_out;
    nearest-exact floor((d + 0.5) · scale); bilinear the source position d·(n_in-1)/(n_out-1)
    (align_corners) or max((d + 0.5)·scale - 0.5, 0), split between its floor (1 - λ) and
    the next cell (λ, the fraction; the last cell keeps both). nearest and bilinear copy an
    axis whose length does not change."""
    weights = np.zeros((n_in, n_out))
    for d in range(n_out):
        if n_in == n_out and mode != "nearest-exact":
            weights[d, d] = 1.0
        elif mode in ("nearest", "nearest-exact"):
            scale = (np.float32(1.0 / scale_factor) if scale_factor
                     else np.float32(n_in) / np.float32(n_out))
            half = np.float32(0.5 if mode == "nearest-exact" else 0.0)
            if mode == "nearest" and n_out == 2 * n_in:
                source = d >> 1
            else:
                source = int(np.floor(np.float32(np.float32(d) + half) * scale))
            weights[min(source, n_in - 1), d] += 1.0
        else:
            if align_corners:
                position = d * ((n_in - 1) / (n_out - 1)) if n_out > 1 else 0.0
            else:
                scale = 1.0 / scale_factor if scale_factor else n_in / n_out
                position = max(scale * (d + 0.5) - 0.5, 0.0)
            low = int(position)
            high = low + 1 if low < n_in - 1 else low
            fraction = min(max(position - low, 0.0), 1.0)
            weights[low, d] += 1.0 - fraction
            weights[high, d] += fraction
    return weights


def upsample2d_backward(x_shape: tuple[int, ...], grad_y: np.ndarray, rows: np.ndarray,
                        cols: np.ndarray) -> np.ndarray:
    """grad_input of ``F.interpolate`` from its per-axis weights (`upsample_axis_weights`):
    output cell (d, e) read input cell (s, t) with weight rows[s, d] · cols[t, e], so it
    scatters ``g · rows[s, d] · cols[t, e]`` back to it, cell by cell."""
    g = np.asarray(grad_y, dtype=np.float64)
    grad_x = np.zeros(x_shape)
    for d in range(g.shape[1]):
        for s in np.flatnonzero(rows[:, d]):
            for e in range(g.shape[2]):
                for t in np.flatnonzero(cols[:, e]):
                    grad_x[:, s, t] += g[:, d, e] * rows[s, d] * cols[t, e]
    return grad_x


# ---------------------------------------------------------------------------- activations
# The element-wise activations and softmax / log_softmax (issue 25, act): each derivative
# written from the function's definition, with PyTorch's choice at every kink (aten's
# ``*_backward`` kernels; tests/test_gradients.py checks each against torch.autograd on
# integers that hit the kinks). x is the layer's input, g its upstream gradient.
def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # e^800 is inf: 1 / (1 + inf) = 0, as it should be
        return 1.0 / (1.0 + np.exp(-x))


def _pair(x: np.ndarray, grad_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(x, dtype=np.float64), np.asarray(grad_y, dtype=np.float64)


def identity_backward(x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """identity, and dropout in evaluation mode: y = x, so dL/dx = g."""
    return _pair(x, grad_y)[1].copy()


def sigmoid_backward(x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """d/dx 1 / (1 + e^-x) = e^-x / (1 + e^-x)² = s·(1 - s)."""
    x, g = _pair(x, grad_y)
    s = _sigmoid(x)
    return g * s * (1.0 - s)


def tanh_backward(x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """d/dx tanh x = 1 - tanh² x."""
    x, g = _pair(x, grad_y)
    return g * (1.0 - np.tanh(x) ** 2)


def elu_backward(x: np.ndarray, grad_y: np.ndarray, alpha: float) -> np.ndarray:
    """d/dx alpha·(e^x - 1) = alpha·e^x for x <= 0 (PyTorch takes that side at 0: alpha·g),
    1 for x > 0."""
    x, g = _pair(x, grad_y)
    return np.where(x > 0, g, g * alpha * np.exp(np.minimum(x, 0.0)))


def gelu_backward(x: np.ndarray, grad_y: np.ndarray, approximate: str) -> np.ndarray:
    """'none': d/dx x·Φ(x) = Φ(x) + x·φ(x), φ the standard normal density e^(-x²/2) / √(2π).
    'tanh': d/dx ½x(1 + tanh u), u = √(2/π)·(x + 0.044715x³), is ½(1 + tanh u) +
    ½x·(1 - tanh² u)·√(2/π)·(1 + 3·0.044715x²)."""
    import math

    x, g = _pair(x, grad_y)
    if approximate == "tanh":
        k = math.sqrt(2.0 / math.pi)
        t = np.tanh(k * (x + 0.044715 * x ** 3))
        return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3 * 0.044715 * x * x))
    cdf = 0.5 * (1.0 + np.vectorize(math.erf, otypes=[np.float64])(x / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return g * (cdf + x * pdf)


def hardtanh_backward(x: np.ndarray, grad_y: np.ndarray, low: float, high: float,
                      ) -> np.ndarray:
    """clamp(x, low, high) has slope 1 strictly between the bounds and 0 outside; at the
    bounds themselves PyTorch passes 0 (``hardtanh_backward``: x <= min or x >= max)."""
    x, g = _pair(x, grad_y)
    return np.where((x > low) & (x < high), g, 0.0)


def hardsigmoid_backward(x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """clamp(x + 3, 0, 6) / 6 has slope 1/6 strictly inside (-3, 3), 0 elsewhere (at ±3 too,
    as PyTorch). The exact 1/6: PyTorch's float64 kernel multiplies by the float32 constant
    ``1.0f / 6.0f`` (0.1666666716...), 3e-8 relative off; tests/test_gradients.py says so."""
    x, g = _pair(x, grad_y)
    return np.where((x > -3.0) & (x < 3.0), g / 6.0, 0.0)


def hardswish_backward(x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """x·clamp(x + 3, 0, 6) / 6 is 0 below -3, x(x + 3)/6 (slope (2x + 3)/6) from -3 to 3,
    x above 3. At the kinks PyTorch (2.x, ``hardswish_backward``) takes the outer pieces:
    0 at x = -3, 1 at x = 3 (torch.autograd, checked in tests/test_gradients.py)."""
    x, g = _pair(x, grad_y)
    return np.where(x <= -3.0, 0.0, np.where(x < 3.0, g * (2.0 * x + 3.0) / 6.0, g))


def silu_backward(x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """d/dx x·s(x) = s + x·s·(1 - s), s the sigmoid."""
    x, g = _pair(x, grad_y)
    s = _sigmoid(x)
    return g * (s + x * s * (1.0 - s))


def softplus_backward(x: np.ndarray, grad_y: np.ndarray, beta: float, threshold: float,
                      ) -> np.ndarray:
    """d/dx ln(1 + e^(βx)) / β = e^(βx) / (1 + e^(βx)) = sigmoid(βx); where βx > threshold
    the layer passed x itself, slope 1 (PyTorch's ``softplus_backward``)."""
    x, g = _pair(x, grad_y)
    bx = beta * x
    return np.where(bx > threshold, g, g * _sigmoid(bx))


def softmax_backward(x: np.ndarray, grad_y: np.ndarray, axis: int, log: bool) -> np.ndarray:
    """softmax / log_softmax over `axis`, by the Jacobian of each slice along it: with p =
    softmax(x), dp_i/dx_j = p_i·(δ_ij - p_j) and d log p_i / dx_j = δ_ij - p_j; dL/dx_j =
    Σ_i g_i · (that), a matrix product per pixel (the sheets use the shorter y·(g - Σ g·y) and
    g - e^y·Σ g instead)."""
    x, g = _pair(x, grad_y)
    xs, gs = np.moveaxis(x, axis, -1), np.moveaxis(g, axis, -1)
    out = np.empty_like(xs)
    for at in np.ndindex(*xs.shape[:-1]):
        v = xs[at]
        e = np.exp(v - v.max())
        p = e / e.sum()
        eye = np.eye(p.size)
        jacobian = eye - p[None, :] if log else p[:, None] * (eye - p[None, :])
        out[at] = gs[at] @ jacobian
    return np.moveaxis(out, -1, axis)
