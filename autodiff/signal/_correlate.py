"""Valid cross-correlation and full convolution along the last ``d`` axes: the two bilinear ops
behind ``autodiff.signal``, each one's derivative written with the other.

    correlate(x, w)[i]  = Σ_k w[k] x[i+k]      length L - K + 1   (the filter slides inside x)
    convolve_full(g, w)[p] = Σ_k w[k] g[p-k]   length N + K - 1   (every overlap of g and w)

Indices are multi-indices over the last ``d`` axes (d = 1 for signals, 2 for images). Leading
(batch) axes broadcast between the operands, so a filter shared by a batch of signals has its
gradient summed over the batch by the engine. Filtering with a boundary mode
(``autodiff.signal._filter``) is ``correlate(pad(x, m, mode), w)``, and its rules use these ops.

These are fused ops (one node each, hand-written rules) because composing them from slices and
products would record 2K nodes per filtering and run many times slower.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from autodiff._engine import Op
from autodiff.ops.padding import pad

__all__ = ["correlate", "convolve_full"]

_EINSUM = {1: "...i,...i->...", 2: "...ij,...ij->..."}


def _signal_shape(a, d):
    return a.shape[a.ndim - d :]


def _flip(w, d):
    return w[(Ellipsis,) + (slice(None, None, -1),) * d]


def _rows(x, w):
    """Valid correlation of every row of ``x`` (..., L) with one 1-D filter ``w``, in a single
    ``np.correlate`` call over the flattened rows; outputs that straddle two rows are skipped by
    a strided view (no copy)."""
    length, k = x.shape[-1], w.shape[0]
    if x.ndim == 1:
        return np.correlate(x, w, "valid")
    flat = np.ascontiguousarray(x).reshape(-1)
    f = np.correlate(flat, w, "valid")
    rows = flat.size // length
    view = as_strided(f, shape=(rows, length - k + 1), strides=(length * f.itemsize, f.itemsize), writeable=False)
    return view.reshape(x.shape[:-1] + (length - k + 1,))


def _shared(x, w, d, osz):
    """A filter without batch axes on float data: NumPy's compiled correlate does the work."""
    if d == 1:
        out = _rows(x, w)
        return out if out.flags.owndata and out.flags.writeable else np.array(out)  # (never the strided view)
    out = _rows(x, w[0])[..., : osz[0], :].copy()
    for a in range(1, w.shape[0]):  # a 2-D filter is a sum of 1-D filters, one per filter row
        out += _rows(x, w[a])[..., a : a + osz[0], :]
    return out


def _taps(x, w, d, osz):
    """Short filter with batch axes, or object arrays: one vectorised product per filter tap."""
    out = None
    for t in np.ndindex(*_signal_shape(w, d)):
        wt = w[(Ellipsis,) + t]
        if w.ndim > d:
            wt = wt[(Ellipsis,) + (None,) * d]  # per-batch weight, broadcast over the signal
        term = wt * x[(Ellipsis,) + tuple(slice(i, i + o) for i, o in zip(t, osz))]
        out = term if out is None else out + term
    return out


def _windows(x, w, d, osz, batch, dtype):
    """Long filter, few outputs (the filter gradient): one reduction per output position."""
    ksz = _signal_shape(w, d)
    out = np.empty(batch + osz, dtype=dtype)
    axes = tuple(range(-d, 0))
    for o in np.ndindex(*osz):
        win = x[(Ellipsis,) + tuple(slice(i, i + k) for i, k in zip(o, ksz))]
        if dtype.kind == "O":
            out[(Ellipsis,) + o] = (win * w).sum(axis=axes)
        else:  # einsum, not a BLAS dot: multi-threaded BLAS is slow on long vectors on busy cores
            out[(Ellipsis,) + o] = np.einsum(_EINSUM[d], win, w)
    return out


def _correlate_forward(x, w, d):
    lsz, ksz = _signal_shape(x, d), _signal_shape(w, d)
    osz = tuple(n - k + 1 for n, k in zip(lsz, ksz))
    if min(osz) < 1:
        raise ValueError(f"filter of shape {ksz} is longer than the signal {lsz}")
    batch = np.broadcast_shapes(x.shape[: x.ndim - d], w.shape[: w.ndim - d])
    dtype = np.result_type(x.dtype, w.dtype)
    if 0 in batch:
        return np.empty(batch + osz, dtype=dtype)
    if math.prod(ksz) > math.prod(osz):
        return _windows(x, w, d, osz, batch, dtype)
    if dtype.kind != "O" and w.ndim == d:
        return _shared(x, w, d, osz)
    return _taps(x, w, d, osz)


def _convolve_full_forward(g, w, d):
    if math.prod(_signal_shape(w, d)) > math.prod(_signal_shape(g, d)):
        g, w = w, g  # the full convolution is symmetric: slide the shorter operand
    ksz = _signal_shape(w, d)
    if d == 1 and g.ndim == 1 and w.ndim == 1 and g.dtype != object and w.dtype != object:
        return np.convolve(g, w, "full")
    pw = ((0, 0),) * (g.ndim - d) + tuple((k - 1, k - 1) for k in ksz)
    return _correlate_forward(pad(g, pw, "zero"), _flip(w, d), d)


def _correlate_vjp(grad, out, x, w, needs, d):
    # z = x ⋆ w:  dx[i] = Σ_k w[k] grad[i-k] (full convolution),  dw[k] = Σ_i grad[i] x[i+k] = x ⋆ grad
    return [
        convolve_full(grad, w, d=d) if needs[0] else None,
        correlate(x, grad, d=d) if needs[1] else None,
    ]


def _convolve_full_vjp(grad, out, g, w, needs, d):
    # y = g * w:  dg[i] = Σ_k w[k] grad[i+k] = grad ⋆ w,  dw[k] = Σ_i g[i] grad[i+k] = grad ⋆ g
    return [
        correlate(grad, w, d=d) if needs[0] else None,
        correlate(grad, g, d=d) if needs[1] else None,
    ]


correlate = Op("correlate", _correlate_forward, vjp=_correlate_vjp, fresh=True)
convolve_full = Op("convolve_full", _convolve_full_forward, vjp=_convolve_full_vjp, fresh=True)
