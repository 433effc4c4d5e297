"""Softmax and log-softmax, fused for speed and stability (exact at |x| = 1e4)."""

from __future__ import annotations

import numpy as np

from autodiff._engine import Op
from autodiff.ops.elementwise import exp
from autodiff.ops.reduce import _shift, kept_reduce, normalize_axis
from autodiff.tensor import Tensor

__all__ = ["softmax", "log_softmax"]


# Shifted by the plain max: where the max is not finite the row is nan either way (as in PyTorch),
# so softmax needs none of logsumexp's care for all -inf rows.
def _softmax_forward(x, axis):
    e = np.exp(x - kept_reduce(np.maximum, x, axis))
    e /= kept_reduce(np.add, e, axis)  # e is ours: normalise in place
    return e


def _softmax_scalar(x, axis):
    e = np.exp(x - _shift(x.astype(np.float64), axis))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax_forward(x, axis):
    z = x - kept_reduce(np.maximum, x, axis)
    s = kept_reduce(np.add, np.exp(z), axis)
    z -= np.log(s, out=s)  # z and s are ours: finish in place
    return z


def _log_softmax_scalar(x, axis):
    z = x - _shift(x.astype(np.float64), axis)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


_softmax = Op(  # J^T g = s * (g - <g, s>)
    "softmax",
    _softmax_forward,
    (lambda g, out, a, axis: out * (g - (g * out).sum(axis=axis, keepdims=True)),),
    scalar=_softmax_scalar,
    fresh=True,
)
def _log_softmax_rule(g, out, a, axis):  # J^T g = g - softmax * sum(g)
    if type(out) is np.ndarray:  # first order: the same formula with one array, ours, in place
        s = np.exp(out)
        s *= kept_reduce(np.add, g, axis)
        return np.subtract(g, s, out=s)
    return g - exp(out) * g.sum(axis=axis, keepdims=True)


_log_softmax = Op("log_softmax", _log_softmax_forward, (_log_softmax_rule,), scalar=_log_softmax_scalar, fresh=True)


def _axis(x, axis, where):
    ndim = x.ndim if isinstance(x, (Tensor, np.ndarray)) else np.ndim(x)
    if ndim == 0:
        raise ValueError(f"{where}: needs at least one dimension")
    if type(axis) is int and -ndim <= axis < ndim:  # the usual case, without normalize_axis's checks
        return axis % ndim
    return normalize_axis(axis, ndim, where)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``."""
    return _softmax(x, axis=_axis(x, axis, "softmax"))


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``."""
    return _log_softmax(x, axis=_axis(x, axis, "log_softmax"))
