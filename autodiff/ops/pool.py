"""Max and average pooling over the windows of (N, C, L) or (N, C, H, W) inputs.

No padding; the stride defaults to the kernel and a remainder that fills no window is dropped, as
in PyTorch. Both are loops over the kernel taps. Max pooling passes each window's gradient to one
element: the first maximum in row-major window order (NumPy's argmax convention), on both back
ends; a NaN counts as the largest value, so it propagates as in PyTorch. Its rule is a scatter
by the window's winning tap, whose adjoint is a gather by the same taps, so second derivatives
work (they are zero). Average pooling is linear; its rule is its adjoint, and vice versa.
"""

from __future__ import annotations

import numpy as np

from autodiff._engine import Op
from autodiff.ops._windows import ntuple, out_size, shape_of, tap_slices
from autodiff.ops.shape import _reshape
from autodiff.scalar import Scalar
from autodiff.tensor import Tensor

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d"]


def _taps(shape, ksize, stride):
    out = tuple(out_size(n, k, s, 1) for n, k, s in zip(shape[2:], ksize, stride))
    return tap_slices(ksize, stride, (1,) * len(ksize), out)


def _max_forward(x, ksize, stride):
    best = None
    for _, index in _taps(x.shape, ksize, stride):
        best = x[index].copy(order="K") if best is None else np.maximum(best, x[index])  # NaN propagates
    return best


def _winner(x, best, ksize, stride):
    """Index of the first tap (row-major window order) holding each window's maximum ``best``."""
    winner = np.zeros(best.shape, dtype=np.intp)
    nan = np.isnan(best) if best.dtype.kind == "f" and np.isnan(best).any() else None
    for t, index in reversed(list(_taps(x.shape, ksize, stride))):  # the lowest tap is written last
        hit = x[index] == best
        if nan is not None:
            hit |= nan & np.isnan(x[index])
        np.copyto(winner, t, where=hit)
    return winner


def _gather_forward(x, winner, ksize, stride):
    out = np.empty(winner.shape, dtype=x.dtype)
    for t, index in _taps(x.shape, ksize, stride):
        np.copyto(out, x[index], where=winner == t)
    return out


def _scatter_forward(gy, winner, ksize, stride, shape):
    dx = np.zeros(shape, dtype=gy.dtype)
    disjoint = all(s >= k for s, k in zip(stride, ksize))
    for t, index in _taps(shape, ksize, stride):
        if disjoint:  # every cell is read by one window at most: write in place
            np.multiply(gy, winner == t, out=dx[index])
        else:
            dx[index] += gy * (winner == t)
    return dx


# Gather by winning tap and scatter by winning tap are each other's adjoints.
_gather = Op(
    "max_pool_gather",
    _gather_forward,
    (lambda grad, out, x, winner, ksize, stride: _scatter(grad, winner=winner, ksize=ksize, stride=stride, shape=x.shape),),
    fresh=True,
)
_scatter = Op(
    "max_pool_scatter",
    _scatter_forward,
    (lambda grad, out, gy, winner, ksize, stride, shape: _gather(grad, winner=winner, ksize=ksize, stride=stride),),
    fresh=True,
)


def _max_pool_scalar(x, ksize, stride):
    # The winner is picked on the values; each output is a one-input max node over it, so the
    # gradient goes to that element alone (Scalar.max of several would share it on ties).
    values = x.astype(np.float64)
    winner = _winner(values, _max_forward(values, ksize, stride), ksize, stride)
    return np.frompyfunc(Scalar.max, 1, 1)(_gather_forward(x, winner, ksize, stride))


def _max_pool_rule(grad, out, x, ksize, stride):  # d max / dx = 1 at the winner, 0 elsewhere
    values, best = (x.data, out.data) if isinstance(x, Tensor) else (x, out)
    winner = _winner(values, best, ksize, stride)
    return _scatter(grad, winner=winner, ksize=ksize, stride=stride, shape=tuple(x.shape))


_max_pool = Op("max_pool", _max_forward, (_max_pool_rule,), scalar=_max_pool_scalar, fresh=True)


def _avg_forward(x, ksize, stride):
    acc = None
    for _, index in _taps(x.shape, ksize, stride):
        acc = x[index] if acc is None else acc + x[index]
    return acc / int(np.prod(ksize))


def _avg_adjoint_forward(gy, ksize, stride, shape):
    dx = np.zeros(shape, dtype=gy.dtype)
    share = gy / int(np.prod(ksize))
    for _, index in _taps(shape, ksize, stride):
        dx[index] += share
    return dx


_avg_pool = Op(  # y = mean of the window: every cell of it gets grad / K
    "avg_pool",
    _avg_forward,
    (lambda grad, out, x, ksize, stride: _avg_adjoint(grad, ksize=ksize, stride=stride, shape=tuple(x.shape)),),
    fresh=True,
)
_avg_adjoint = Op(
    "avg_pool_adjoint",
    _avg_adjoint_forward,
    (lambda grad, out, gy, ksize, stride, shape: _avg_pool(grad, ksize=ksize, stride=stride),),
    fresh=True,
)


def _pool(op, x, kernel_size, stride, d, where):
    layout = "(N, C, L)" if d == 1 else "(N, C, H, W)"
    xs = shape_of(x)
    if len(xs) not in (d + 1, d + 2):
        raise ValueError(f"{where}: input must have shape {layout} (or unbatched), got shape {xs}")
    ksize = ntuple(kernel_size, d, "kernel_size", where)
    stride = ksize if stride is None else ntuple(stride, d, "stride", where)
    if any(n < k for n, k in zip(xs[-d:], ksize)):
        raise ValueError(f"{where}: kernel_size {ksize} is larger than the input (input shape {xs})")
    if len(xs) == d + 1:  # unbatched (C, *spatial), as PyTorch accepts
        y = op(_reshape(x, shape=(1,) + xs), ksize=ksize, stride=stride)
        return _reshape(y, shape=shape_of(y)[1:])
    return op(x, ksize=ksize, stride=stride)


def max_pool1d(x, kernel_size, stride=None):
    """Maximum over windows of ``kernel_size``: (N, C, L) -> (N, C, (L - k) // stride + 1).

    ``stride`` defaults to ``kernel_size``. The gradient of a window goes to its first maximal
    element (lowest index) on ties, on both back ends.
    """
    return _pool(_max_pool, x, kernel_size, stride, 1, "max_pool1d")


def max_pool2d(x, kernel_size, stride=None):
    """Maximum over (kh, kw) windows: (N, C, H, W) -> (N, C, H_out, W_out).

    ``kernel_size`` and ``stride`` are an int or a pair; ``stride`` defaults to the kernel and a
    remainder that fills no window is dropped, as in PyTorch. On ties the gradient goes to the
    first maximal element in row-major window order, on both back ends.

    >>> ad.max_pool2d(ad.randn(8, 16, 24, 24), 2).shape
    (8, 16, 12, 12)
    """
    return _pool(_max_pool, x, kernel_size, stride, 2, "max_pool2d")


def avg_pool1d(x, kernel_size, stride=None):
    """Mean over windows of ``kernel_size``: (N, C, L) -> (N, C, (L - k) // stride + 1)."""
    return _pool(_avg_pool, x, kernel_size, stride, 1, "avg_pool1d")


def avg_pool2d(x, kernel_size, stride=None):
    """Mean over (kh, kw) windows: (N, C, H, W) -> (N, C, H_out, W_out); ``stride`` defaults to
    the kernel and a remainder that fills no window is dropped, as in PyTorch."""
    return _pool(_avg_pool, x, kernel_size, stride, 2, "avg_pool2d")
