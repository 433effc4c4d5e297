"""Reductions with NumPy's ``axis``/``keepdims`` semantics; each rule spreads the gradient back
over the reduced axes."""

from __future__ import annotations

import builtins
import math
import numbers

import numpy as np

from autodiff._engine import Op, owned
from autodiff.ops.elementwise import exp
from autodiff.ops.shape import _broadcast_to, _reshape, one_value
from autodiff.scalar import Scalar
from autodiff.tensor import Tensor

__all__ = ["sum", "mean", "var", "max", "min", "logsumexp", "argmax", "argmin", "normalize_axis", "kept_reduce"]


def normalize_axis(axis, ndim, where):
    """``axis`` as a sorted tuple of non-negative ints (None stays None)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, numbers.Integral):
            raise TypeError(f"{where}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < builtins.max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{where}: axis {a} is out of range for a {ndim}-d Tensor")
        out.append(int(a) % builtins.max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{where}: repeated axis in {axis!r}")
    return tuple(sorted(out)) if ndim else None


def _keep(g, shape, axis, keepdims):
    """``g`` (a reduction's result) with the reduced axes put back with length one."""
    if keepdims:
        return g
    kept = tuple(1 if axis is None or i in axis else s for i, s in enumerate(shape))
    return _reshape(g, shape=kept)


def _spread(g, shape, axis, keepdims):
    if isinstance(g, (np.ndarray, np.generic)) and g.size == 1 and g.dtype.kind != "O":
        return one_value(np.asarray(g), shape)  # a full reduction's gradient, without the Ops' dispatch
    return _broadcast_to(_keep(g, shape, axis, keepdims), shape=shape)


def _sum_scalar(x, axis, keepdims):
    if x.size == 0:
        return np.frompyfunc(lambda _: Scalar(0.0), 1, 1)(np.sum(np.zeros(x.shape), axis=axis, keepdims=keepdims))
    return np.sum(x, axis=axis, keepdims=keepdims)


_sum = Op(  # d(sum x)/dx_i = 1
    "sum",
    lambda x, axis, keepdims: kept_reduce(np.add, x, axis, keepdims),
    (lambda g, out, a, axis, keepdims: _spread(g, a.shape, axis, keepdims),),
    scalar=owned(_sum_scalar),
)


def _extremum_weights(a, out, axis, keepdims):
    # The gradient is shared equally among the elements that attain the max (torch.amax's rule).
    xv = a.data if isinstance(a, Tensor) else a
    ov = out.data if isinstance(out, Tensor) else out
    best = _keep(ov, xv.shape, axis, keepdims)
    hits = xv == best
    if xv.dtype.kind == "f":  # a NaN result came from the NaN elements: they share the gradient
        nan_best = np.isnan(best)
        if nan_best.any():
            hits |= np.isnan(xv) & nan_best
    return (hits / hits.sum(axis=axis, keepdims=True)).astype(xv.dtype)


def _extremum_scalar(pick):
    def forward(x, axis, keepdims):
        axes = tuple(range(x.ndim)) if axis is None else axis
        rest = [i for i in range(x.ndim) if i not in axes]
        moved = np.transpose(x, rest + list(axes))
        rows = moved.reshape(moved.shape[: len(rest)] + (-1,))
        if rows.shape[-1] == 0:
            raise ValueError("zero-size array to reduction operation which has no identity")
        out = np.empty(rows.shape[:-1], dtype=object)
        for i in np.ndindex(out.shape):
            out[i] = pick(*rows[i])
        if keepdims:
            out = out.reshape(tuple(1 if i in axes else s for i, s in enumerate(x.shape)))
        return out

    return forward


_max = Op(
    "max",
    lambda x, axis, keepdims: kept_reduce(np.maximum, x, axis, keepdims),
    (lambda g, out, a, axis, keepdims: _spread(g, a.shape, axis, keepdims) * _extremum_weights(a, out, axis, keepdims),),
    scalar=_extremum_scalar(Scalar.max),
    fresh=True,
)
_min = Op(
    "min",
    lambda x, axis, keepdims: kept_reduce(np.minimum, x, axis, keepdims),
    (lambda g, out, a, axis, keepdims: _spread(g, a.shape, axis, keepdims) * _extremum_weights(a, out, axis, keepdims),),
    scalar=_extremum_scalar(Scalar.min),
    fresh=True,
)


_add_reduce = np.add.reduce  # without ndarray.sum's Python wrapper


def kept_reduce(ufunc, x, axis, keepdims=True):
    """``ufunc.reduce(x, axis, keepdims=keepdims)``, fast on many short rows: softmax's row max
    and sum, cross-entropy, and sum, mean, max and min use it.

    NumPy reduces a short last axis one row at a time: the row maxima of 64 x 10 float32 logits
    take 3.5 µs, of 1024 x 10 43 µs. Reducing a transposed copy along its first axis runs across
    the rows instead: 1.6 µs and 4.7 µs. Used for 2-D arrays of at least 32 rows and at most 16
    columns (where it measured faster for both max and sum, float32 and float64). Float32 and
    float64 sums go faster still as a product with a column of ones (1024 x 10: 2.4 µs).
    """
    if (
        type(x) is np.ndarray and x.ndim == 2 and axis in (1, -1, (1,)) and 1 <= x.shape[1] <= 16
        and x.shape[0] >= 32 and x.dtype != object
    ):
        if ufunc is np.add and x.dtype.char in "fd":  # a product with ones: half that again
            out = x @ _ones_column(x.shape[1], x.dtype.char)
            return out if keepdims else out.reshape(-1)
        out = ufunc.reduce(np.ascontiguousarray(x.T), axis=0)
        return out[:, None] if keepdims else out
    return ufunc.reduce(x, axis=axis, keepdims=keepdims)


_ONES = {}


def _ones_column(k, char):
    """A read-only (k, 1) column of ones of dtype ``char``: x @ ones sums x's rows as a
    matrix-vector product (BLAS), for 64 x 10 float32 0.9 µs against the transposed copy's 1.8."""
    col = _ONES.get((k, char))
    if col is None:
        col = _ONES[k, char] = np.ones((k, 1), dtype=char)
        col.flags.writeable = False
    return col


def _shift(values, axis):
    """The max over ``axis`` (kept), used as a constant shift; 0 where it is not finite."""
    m = kept_reduce(np.maximum, values, axis)
    if math.isfinite(_add_reduce(m, axis=None)):  # the common case, in one reduction
        return m
    return np.where(np.isfinite(m), m, 0)


def _lse_forward(x, axis, keepdims):
    m = _shift(x, axis)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _lse_scalar(x, axis, keepdims):
    # The same formula on Scalars; the shift is a constant, so it adds nothing to the gradient.
    m = _shift(x.astype(np.float64), axis)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


_logsumexp = Op(  # d lse / dx = softmax(x) = exp(x - lse)
    "logsumexp",
    _lse_forward,
    (lambda g, out, a, axis, keepdims: _keep(g, a.shape, axis, keepdims) * exp(a - _keep(out, a.shape, axis, keepdims)),),
    scalar=_lse_scalar,
    fresh=True,
)


def _ndim(x):
    return x.ndim if isinstance(x, (Tensor, np.ndarray)) else np.ndim(x)


def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (int, tuple or None for all)."""
    return _sum(x, axis=normalize_axis(axis, _ndim(x), "sum"), keepdims=bool(keepdims))


def _count(shape, axis):
    """How many elements a reduction over ``axis`` combines."""
    return math.prod(shape) if axis is None else math.prod(shape[i] for i in axis)


_mean = Op(  # d(mean x)/dx_i = 1/n
    "mean",
    lambda x, axis, keepdims: kept_reduce(np.add, x, axis, keepdims) / _count(x.shape, axis),
    (lambda g, out, a, axis, keepdims: _spread(g * (1.0 / _count(a.shape, axis)), a.shape, axis, keepdims),),
    scalar=lambda x, axis, keepdims: _sum_scalar(x, axis, keepdims) / _count(x.shape, axis),
)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis``."""
    return _mean(x, axis=normalize_axis(axis, _ndim(x), "mean"), keepdims=bool(keepdims))


def var(x, axis=None, ddof=0, keepdims=False):
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's default 0)."""
    ax = normalize_axis(axis, _ndim(x), "var")
    d = x - _sum(x, axis=ax, keepdims=True) / _count(x.shape, ax)
    return _sum(d * d, axis=ax, keepdims=bool(keepdims)) / (_count(x.shape, ax) - ddof)


def max(x, axis=None, keepdims=False):
    """Largest value over ``axis``; on ties the gradient is shared equally by the maxima."""
    return _max(x, axis=normalize_axis(axis, _ndim(x), "max"), keepdims=bool(keepdims))


def min(x, axis=None, keepdims=False):
    """Smallest value over ``axis``; on ties the gradient is shared equally by the minima."""
    return _min(x, axis=normalize_axis(axis, _ndim(x), "min"), keepdims=bool(keepdims))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over ``axis``, computed without overflow (stable at |x| = 1e4)."""
    return _logsumexp(x, axis=normalize_axis(axis, _ndim(x), "logsumexp"), keepdims=bool(keepdims))


def _arg(fn, name):
    def arg(x, axis=None, keepdims=False):
        values = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
        result = fn(values, axis=axis, keepdims=keepdims)
        return Tensor._wrap(np.asarray(result), x.backend) if isinstance(x, Tensor) else result

    arg.__name__ = name
    arg.__doc__ = f"Index of the {name[3:]} over ``axis`` (an integer Tensor; not differentiable)."
    return arg


argmax = _arg(np.argmax, "argmax")
argmin = _arg(np.argmin, "argmin")
