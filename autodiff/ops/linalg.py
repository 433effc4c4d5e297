"""Matrix multiplication with NumPy's 1-D, 2-D and batched rules."""

from __future__ import annotations

import numpy as np

from autodiff._engine import Op
from autodiff.ops.shape import _reshape, swap_last

__all__ = ["matmul"]


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
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        raise ValueError("matmul: both operands need at least one dimension (use * for scalars)")
    return np.matmul(a, b)


matmul = Op("matmul", _matmul_forward, (_grad_a, _grad_b))
