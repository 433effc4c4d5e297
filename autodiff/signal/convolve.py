"""Filtering with an odd filter and a boundary rule: ``convolve1d``, ``convolve2d``, ``pad`` and
``conv_matrix`` (the same filtering written as a matrix).

Every function takes plain arrays (and returns an ndarray) or Tensors on either back end (and
returns a Tensor, differentiable in the signal and in the filter).
"""

from __future__ import annotations

import numbers

import numpy as np

from autodiff.ops import padding as _padding
from autodiff.ops.padding import MODES, check_mode
from autodiff.signal._correlate import correlate
from autodiff.signal._filter import filter_op
from autodiff.tensor import Tensor

__all__ = ["convolve1d", "convolve2d", "pad", "conv_matrix", "FILTER_MODES"]

FILTER_MODES = MODES + ("valid",)


def _operand(v, name, where):
    """``v`` as a Tensor or a float ndarray (integers and booleans become float64)."""
    if isinstance(v, Tensor):
        return v if v.dtype.kind == "f" else v.astype(np.float64)
    a = np.asarray(v)
    if a.dtype.kind in "biu":
        return a.astype(np.float64)
    if a.dtype.kind != "f":
        raise TypeError(f"{where}: {name} must hold real numbers, got dtype {a.dtype}")
    return a


def _values(v):
    return v.numpy() if isinstance(v, Tensor) else v


def _half_widths(w, d, where):
    """m for each axis of an odd filter of shape (2m+1, ...)."""
    shape = tuple(w.shape)
    if len(shape) != d:
        kind = "a 1-D filter w_{-m..m}" if d == 1 else "a 2-D filter of odd x odd shape"
        raise ValueError(f"{where}: expected {kind}, got shape {shape}")
    if any(k % 2 == 0 for k in shape):
        raise ValueError(
            f"{where}: filter lengths must be odd (2m+1, centred on w_0), got shape {shape}; "
            f"pad the filter with a zero on one side to choose where its centre is"
        )
    if not np.all(np.isfinite(_values(w))):
        raise ValueError(f"{where}: the filter contains nan or inf (shape {shape}); filters must be finite")
    return tuple(k // 2 for k in shape)


def _check_fits(shape, half, mode, d, where):
    """Errors for signals the mode cannot handle, in the user's terms (filter and signal lengths)."""
    if len(shape) < d:
        raise ValueError(f"{where}: expected at least {d} axes (the last {d} are filtered), got shape {tuple(shape)}")
    for n, m in zip(shape[len(shape) - d :], half):
        k = 2 * m + 1
        if n == 0:
            raise ValueError(f"{where}: cannot filter an empty signal (shape {tuple(shape)})")
        if mode == "valid" and n < k:
            raise ValueError(
                f"{where}: 'valid' mode needs a signal at least as long as the filter ({k}), got {n} "
                f"(shape {tuple(shape)}); a padding mode such as 'zero' or 'replicate' keeps the length"
            )
        if mode == "mirror" and m > n - 1:
            raise ValueError(
                f"{where}: 'mirror' mode reflects m = {m} samples without repeating the edge, so a filter of "
                f"length {k} needs a signal of at least {m + 1}, got {n}; use 'symmetric', 'replicate', "
                f"'circular' or 'zero'"
            )
        if mode == "symmetric" and m > n:
            raise ValueError(
                f"{where}: 'symmetric' mode reflects m = {m} samples, so a filter of length {k} needs a "
                f"signal of at least {m}, got {n}; use 'replicate', 'circular' or 'zero'"
            )


def _all_finite(a):
    # The sum is finite when every term is (unless it overflows): no temporary array in the
    # common case.
    with np.errstate(over="ignore"):
        total = a.sum()
    return bool(np.isfinite(total)) or bool(np.all(np.isfinite(a)))


def _check_finite(out, x, w, where):
    # A nan or inf anywhere in x reaches some output (0 * inf is nan), so finite outputs prove
    # finite inputs: the common case costs one pass over the output.
    if _all_finite(_values(out)):
        return
    for name, v in (("x", x), ("w", w)):
        if not _all_finite(_values(v)):
            raise ValueError(
                f"{where}: {name} contains nan or inf (shape {tuple(v.shape)}); filtering needs finite values"
            )


def _filter(x, w, mode, d, where):
    check_mode(mode, where, FILTER_MODES)
    x, w = _operand(x, "x", where), _operand(w, "w", where)
    half = _half_widths(w, d, where)
    _check_fits(x.shape, half, mode, d, where)
    out = correlate(x, w, d=d) if mode == "valid" else filter_op(x, w, mode=mode, d=d)
    _check_finite(out, x, w, where)
    return out


def convolve1d(x, w, mode="zero"):
    """Filter the last axis of ``x``: z_i = Σ_{j=-m..m} w_j x_{i+j} for an odd filter of length 2m+1.

    This is a cross-correlation (the filter is not flipped), as in the lecture and in PyTorch's
    ``conv1d``. ``mode`` says what x_{i+j} means beyond the ends: ``"zero"`` (0),
    ``"replicate"`` (the edge value), ``"mirror"`` (reflect without repeating the edge:
    [1 2 3] -> [3 2 | 1 2 3 | 2 1]), ``"symmetric"`` (reflect repeating it: [2 1 | 1 2 3 | 3 2]),
    ``"circular"`` (wrap around); these keep the length n. ``"valid"`` returns only the n - 2m
    values that need no padding.

    ``x`` has shape (..., n): leading axes are a batch of signals. ``w`` has shape (2m+1,).
    ndarrays give an ndarray; Tensors (either back end) give a Tensor differentiable in x and w.
    Results follow NumPy's type promotion (a float32 signal with a float64 filter gives float64).

    >>> convolve1d(np.array([1., 2., 3.]), np.array([0., 0., 1.]), "replicate")   # z_i = x_{i+1}
    array([2., 3., 3.])
    """
    return _filter(x, w, mode, 1, "convolve1d")


def convolve2d(image, w, mode="zero"):
    """Filter the last two axes: z_{ij} = Σ_{a,b} w_{ab} x_{i+a, j+b}, a in -m1..m1, b in -m2..m2.

    ``image`` has shape (..., H, W) (leading axes are a batch); ``w`` an odd x odd filter such as
    ``filters.gaussian2d`` or ``filters.sobel``. The modes are those of ``convolve1d``, applied
    along both axes (``"valid"`` gives shape (..., H - 2m1, W - 2m2)). Cross-correlation, as
    PyTorch's ``conv2d``; ndarrays in, ndarray out; Tensors in, a differentiable Tensor out.
    """
    return _filter(image, w, mode, 2, "convolve2d")


def pad(x, m, mode="zero"):
    """Pad the last axis of ``x`` with ``m`` samples on each side by a boundary ``mode``.

    The padding that ``convolve1d`` uses, exposed: shape (..., n) -> (..., n + 2m).
    ``pad(np.array([0., 1., 1., 2.]), 2, "mirror")`` is [1 1 | 0 1 1 2 | 1 1] and
    ``"symmetric"`` gives [1 0 | 0 1 1 2 | 2 1]. Differentiable on Tensors (the gradient of a
    padded cell goes back to the sample it copies). Values are copied, not checked for nan.
    """
    check_mode(mode, "signal.pad")
    if isinstance(m, bool) or not isinstance(m, numbers.Integral):
        raise TypeError(f"signal.pad: m must be an int, got {m!r}")
    if m < 0:
        raise ValueError(f"signal.pad: m must be non-negative, got {m}")
    x = _operand(x, "x", "signal.pad")
    if x.ndim == 0:
        raise ValueError("signal.pad: expected a signal of shape (..., n), got a 0-d value")
    return _padding.pad(x, ((0, 0),) * (x.ndim - 1) + ((int(m), int(m)),), mode)


def conv_matrix(w, n, mode="zero"):
    """The matrix A with ``A @ x == convolve1d(x, w, mode)`` for signals of length ``n``.

    Shape (n, n), or (n - 2m, n) in ``"valid"`` mode. Row i holds the filter placed at sample i,
    with the boundary mode folding the taps that fall outside back onto the samples they copy
    (zero mode drops them): filtering is a linear operator. Built tap by tap as
    A = Σ_j w_j S_j with 0/1 selection matrices S_j, so a Tensor filter gives a Tensor A
    differentiable in w.
    """
    check_mode(mode, "conv_matrix", FILTER_MODES)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"conv_matrix: n must be a positive int, got {n!r}")
    w = _operand(w, "w", "conv_matrix")
    (m,) = _half_widths(w, 1, "conv_matrix")
    _check_fits((n,), (m,), mode, 1, "conv_matrix")
    if mode == "valid":
        source = np.arange(n)
    else:  # which sample each padded position copies; -1 for the zeros of zero padding
        source = _padding.pad(np.arange(1.0, n + 1), ((m, m),), mode).astype(int) - 1
    rows = n - 2 * m if mode == "valid" else n
    a = None
    for j in range(2 * m + 1):
        cols = source[j : j + rows]
        keep = cols >= 0
        select = np.zeros((rows, n))
        select[np.arange(rows)[keep], cols[keep]] = 1.0
        term = w[j] * select
        a = term if a is None else a + term
    return a
