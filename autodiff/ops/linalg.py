"""Matrix multiplication with NumPy's 1-D, 2-D and batched rules."""

from __future__ import annotations

import numpy as np

from autodiff._engine import Op
from autodiff.ops.shape import _reshape, swap_last
from autodiff.scalar import Scalar

__all__ = ["matmul", "linear"]


def _col(v):  # (..., k) -> (..., k, 1)
    return _reshape(v, shape=v.shape + (1,))


def _row(v):  # (..., k) -> (..., 1, k)
    return _reshape(v, shape=v.shape[:-1] + (1, v.shape[-1]))


def _uncol(v):  # (..., k, 1) -> (..., k)
    return _reshape(v, shape=v.shape[:-1])


def _grad_a(g, out, a, b):
    if a.ndim == 2 and b.ndim == 2:  # the common case first: dA = G B^T
        return g @ b.T
    if a.ndim == 1 and b.ndim == 1:  # dot product: d(a.b)/da = b
        return g * b
    if b.ndim == 1:  # (..., n, k) @ (k,): outer product of g and b
        return _col(g) * b
    if a.ndim == 1:  # (k,) @ (..., k, m): b @ g, summed over the batch by the engine
        return _uncol(b @ _col(g))
    return g @ swap_last(b)  # dA = G B^T


def _grad_b(g, out, a, b):
    if a.ndim == 2 and b.ndim == 2:  # dB = A^T G
        return a.T @ g
    if a.ndim == 1 and b.ndim == 1:
        return g * a
    if a.ndim == 1:  # (k,) @ (..., k, m): outer product of a and g
        return _col(a) * _row(g)
    if b.ndim == 1:  # (..., n, k) @ (k,): A^T g
        return _uncol(swap_last(a) @ _col(g))
    return swap_last(a) @ g  # dB = A^T G


def _matmul_forward(a, b):
    try:
        return np.matmul(a, b)
    except ValueError:  # explain the failure; the common, valid case pays for no checks
        pass
    sa, sb = np.shape(a), np.shape(b)
    if not sa or not sb:
        raise ValueError(f"matmul: both operands need at least one dimension, got shapes {sa} and {sb} (use * for scalars)")
    k = sb[0] if len(sb) == 1 else sb[-2]
    if sa[-1] != k:
        raise ValueError(f"matmul: shapes {sa} and {sb} do not align ({sa[-1]} != {k})")
    raise ValueError(f"matmul: the batch dimensions of {sa} and {sb} cannot be broadcast together")


def _matmul_scalar(a, b):
    out = _matmul_forward(a, b)
    if np.shape(a)[-1] == 0:  # an empty sum: NumPy's object path gives int zeros, not Scalars
        return np.frompyfunc(lambda _: Scalar(0.0), 1, 1)(np.zeros(np.shape(out)))
    return out


matmul = Op("matmul", _matmul_forward, (_grad_a, _grad_b), scalar=_matmul_scalar, fresh=True, uses_out=False)


# --- linear: x @ W + b as one node (PyTorch's addmm) -------------------------------------------


def _linear_forward(x, w, b):
    if type(w) is not np.ndarray:  # lists or numbers given
        w = np.asarray(w)
    if type(b) is not np.ndarray:
        b = np.asarray(b, dtype=np.result_type(w, 0.0))
    if w.ndim != 2 or b.shape != w.shape[1:]:
        raise ValueError(f"linear: weight must be (in, out) and bias (out,), got shapes {w.shape} and {b.shape}")
    try:
        out = np.matmul(x, w)
    except ValueError:
        out = _matmul_forward(x, w)  # raises, naming matmul and the shapes
    if b.dtype is out.dtype or b.dtype == out.dtype:
        out += b  # the product is ours: add the bias in place
        return out
    return out + b  # NumPy's type promotion, as x @ W + b


def _linear_scalar(x, w, b):
    return _matmul_scalar(x, w) + b


def _linear_grad_w(g, out, x, w, b):
    if x.ndim == 1:  # (k,) @ (k, m): the outer product of x and g
        return _col(x) * _row(g)
    if x.ndim > 2:  # fold the batch axes into the rows: dW = X^T G over all of them
        x, g = _reshape(x, shape=(-1, x.shape[-1])), _reshape(g, shape=(-1, g.shape[-1]))
    return x.T @ g


_linear = Op(  # dx = G W^T, dW = X^T G, db = G (the engine sums it over the batch axes)
    "linear",
    _linear_forward,
    (lambda g, out, x, w, b: g @ w.T, _linear_grad_w, lambda g, out, x, w, b: g),
    scalar=_linear_scalar,
    fresh=(True, True, False),  # (the bias's is the incoming gradient, summed by the engine when batched)
    uses_out=False,
)


def linear(x, weight, bias=None):
    """``x @ weight + bias`` for ``x`` of shape (..., in), ``weight`` (in, out) and ``bias``
    (out,) — the course's z = xW + b; PyTorch's ``F.linear`` takes the weight transposed.
    With a bias it is one node in the graph (one matmul plus an in-place add, as PyTorch's
    addmm), which halves the nodes of an MLP; without one it is ``matmul``."""
    return matmul(x, weight) if bias is None else _linear(x, weight, bias)
