"""Filtering with a boundary mode as one fused op, z = pad(x, m, mode) ⋆ w, with a fast path for
rows of float samples that never builds a padded copy of the signal or of its gradient.

One node instead of ``pad`` then ``correlate`` because on long signals the padded copies cost
as much as the filtering itself. The fast path touches the padded cells only through short
strips at the ends of each row: the first and last 2m samples carry everything the m boundary
outputs see, and padding them together gives the same boundary cells as padding the whole row,
in every mode. The rules fall back to compositions of recorded ops (``pad``, ``pad_adjoint``,
``correlate``, ``convolve_full``) for Tensors (``create_graph``), images and short signals.
"""

from __future__ import annotations

import numpy as np

from autodiff._engine import Op
from autodiff.ops.padding import pad, pad_adjoint
from autodiff.signal._correlate import convolve_full, correlate

__all__ = ["filter_op", "filter_rows"]


def _widths(x, w, d):
    return ((0, 0),) * (x.ndim - d) + tuple((k // 2, k // 2) for k in w.shape[w.ndim - d :])


def _fast(x, w, d):
    """Float ndarrays, one 1-D filter, rows longer than 4m (shorter rows are cheaper to pad whole
    than to cut into strips of 2m samples at each end)."""
    return (
        d == 1
        and isinstance(x, np.ndarray)
        and isinstance(w, np.ndarray)
        and x.dtype != object
        and w.dtype != object
        and w.ndim == 1
        and x.shape[-1] > 4 * (w.shape[0] // 2)
    )


def _strip(x, m, mode):
    """[L | x[:2m] | x[n-2m:] | R] per row, where L and R are the m cells padding adds at each end."""
    n = x.shape[-1]
    ends = np.concatenate([x[..., : 2 * m], x[..., n - 2 * m :]], axis=-1)
    return pad(ends, ((0, 0),) * (x.ndim - 1) + ((m, m),), mode)


def _sources(n, m, mode):
    """The sample that each of the m cells padded before, and the m after, a row of n copies."""
    ends = np.concatenate([np.arange(2 * m), np.arange(n - 2 * m, n)]).astype(np.float64)
    padded = pad(ends, ((m, m),), mode).astype(np.intp)
    return padded[:m], padded[padded.size - m :]


def _dot(a, b):
    """Σ a * b over all axes (einsum, not a BLAS dot: threaded BLAS is slow on busy cores)."""
    rows = int(np.prod(a.shape[:-1]))
    return np.einsum("ij,ij->", a.reshape(rows, a.shape[-1]), b.reshape(rows, b.shape[-1]))


def filter_rows(x, w, mode):
    """pad(x, m, mode) ⋆ w along the last axis of a float array with rows of n > 4m samples:
    one ``np.correlate(..., "same")`` over all rows at once (zero padding implied), then the m
    outputs at each end of a row, which see the boundary (or the next row), from the strips."""
    n, m = x.shape[-1], w.shape[0] // 2
    if x.size == 0:
        return np.empty(x.shape, dtype=np.result_type(x, w))
    z = np.correlate(np.ascontiguousarray(x).reshape(-1), w, "same").reshape(x.shape)
    if m and (x.ndim > 1 or mode != "zero"):
        ends = correlate(_strip(x, m, mode), w, d=1)  # 4m outputs: m first, 2m unused, m last
        z[..., :m] = ends[..., :m]
        z[..., n - m :] = ends[..., 3 * m :]
    return z


def _rows_vjp(grad, x, w, needs, mode):
    """The two rules of ``_filter_vjp`` on rows of floats, without padded copies."""
    n, m = x.shape[-1], w.shape[0] // 2
    dx = dw = None
    if needs[0]:
        # (grad * w)[m : m+n] is grad correlated with the flipped filter, zero padded; the m cells
        # on each side of it, which padded x, fold back onto the samples they copied.
        dx = filter_rows(grad, w[::-1], "zero")
        if m and mode != "zero" and dx.size:
            before = convolve_full(grad[..., :m], w, d=1)[..., :m]
            after = convolve_full(grad[..., n - m :], w, d=1)[..., 2 * m :]
            src_before, src_after = _sources(n, m, mode)
            rows = dx.reshape(-1, n)
            np.add.at(rows, (slice(None), src_before), before.reshape(-1, m))
            np.add.at(rows, (slice(None), src_after), after.reshape(-1, m))
    if needs[1]:
        # dw_j = Σ_i grad_i pad(x)_{i+j}: the middle rows of the sum read x itself, the m first and
        # m last read the padded strips.
        s = _strip(x, m, mode)
        head, tail = s[..., : 3 * m], s[..., 3 * m :]
        g_mid, g_head, g_tail = grad[..., m : n - m], grad[..., :m], grad[..., n - m :]
        dw = np.array(
            [
                _dot(g_mid, x[..., j : j + n - 2 * m]) + _dot(g_head, head[..., j : j + m]) + _dot(g_tail, tail[..., j : j + m])
                for j in range(2 * m + 1)
            ],
            dtype=np.result_type(grad, x),
        )
    return [dx, dw]


def _filter_forward(x, w, mode, d):
    if _fast(x, w, d):
        return filter_rows(x, w, mode)
    return correlate(pad(x, _widths(x, w, d), mode), w, d=d)


def _filter_vjp(grad, out, x, w, needs, mode, d):
    if _fast(x, w, d) and isinstance(out, np.ndarray):  # first order (arrays)
        return _rows_vjp(grad, x, w, needs, mode)
    # z = pad(x) ⋆ w:  dx = padᵀ(grad * w), the full convolution folded back by the padding adjoint;
    #                  dw_j = Σ_i grad_i pad(x)_{i+j} = pad(x) ⋆ grad
    pw = _widths(x, w, d)
    return [
        pad_adjoint(convolve_full(grad, w, d=d), pad_width=pw, mode=mode, shape=x.shape) if needs[0] else None,
        correlate(pad(x, pw, mode), grad, d=d) if needs[1] else None,
    ]


filter_op = Op("convolve", _filter_forward, vjp=_filter_vjp, fresh=True)
