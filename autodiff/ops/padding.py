"""Padding with the boundary modes shared by ``ad.pad``, the convolutions and ``autodiff.signal``.

Padding is a linear map; its adjoint (the backward rule) adds the gradient of every padded cell
back into the cell it copies.
"""

from __future__ import annotations

import numpy as np

from autodiff._engine import Op, owned
from autodiff.tensor import Tensor

__all__ = ["MODES", "check_mode", "normalize_pad_width", "pad", "pad_adjoint"]

MODES = ("zero", "replicate", "mirror", "symmetric", "circular")
_NUMPY_MODE = {"zero": "constant", "replicate": "edge", "mirror": "reflect", "symmetric": "symmetric", "circular": "wrap"}
_AMBIGUOUS = {
    "reflect": "SciPy's 'reflect' repeats the edge ('symmetric' here), NumPy's and PyTorch's do not ('mirror' here)",
    "same": "'same' is a convolution padding, not a boundary mode",
    "valid": "'valid' means no padding: a mode of the signal convolutions, not a boundary mode",
    "full": "'full' is not a boundary mode: pad by 2m with 'zero', then filter in 'valid' mode",
    "periodic": "use 'circular'",
    "reflect101": "OpenCV's reflect101 is 'mirror' here",
    "reflect_101": "OpenCV's reflect_101 is 'mirror' here",
    "zeros": "PyTorch's 'zeros' is 'zero' here",
    "constant": "use 'zero'",
    "edge": "use 'replicate'",
    "wrap": "use 'circular'",
    "nearest": "use 'replicate'",
}


def check_mode(mode, where="pad", modes=MODES):
    """Return ``mode`` if it is one of ``modes``, else raise a ValueError that lists them."""
    if mode in modes:
        return mode
    hint = f" ({_AMBIGUOUS[mode]})" if isinstance(mode, str) and mode in _AMBIGUOUS else ""
    raise ValueError(f"{where}: unknown mode {mode!r}{hint}; valid modes: {', '.join(repr(m) for m in modes)}")


def normalize_pad_width(pad_width, ndim, where="pad"):
    """NumPy's pad_width forms (int, (lo, hi), or one pair per axis) as a tuple of pairs."""
    pw = np.asarray(pad_width)
    if pw.dtype.kind not in "iu" and not (pw.dtype.kind == "f" and np.all(pw == np.round(pw))):
        raise TypeError(f"{where}: pad_width must hold integers, got {pad_width!r}")
    pw = pw.astype(int)
    try:
        pw = np.broadcast_to(pw, (ndim, 2))
    except ValueError:
        raise ValueError(f"{where}: pad_width {pad_width!r} does not fit a {ndim}-d input") from None
    if np.any(pw < 0):
        raise ValueError(f"{where}: pad_width must be non-negative, got {pad_width!r}")
    return tuple((int(lo), int(hi)) for lo, hi in pw)


def _check_fits(shape, pw, mode, where):
    for n, (lo, hi) in zip(shape, pw):
        if not (lo or hi):
            continue
        if mode == "mirror" and max(lo, hi) > n - 1:
            raise ValueError(
                f"{where}: 'mirror' padding of {max(lo, hi)} needs at least {max(lo, hi) + 1} samples, got {n}"
            )
        if mode == "symmetric" and max(lo, hi) > n:
            raise ValueError(f"{where}: 'symmetric' padding of {max(lo, hi)} needs at least {max(lo, hi)} samples, got {n}")
        if mode in ("replicate", "circular") and n == 0:
            raise ValueError(f"{where}: cannot pad an empty axis in {mode!r} mode")


def _pad_forward(x, pad_width, mode):
    if mode == "zero":
        if x.dtype == object:
            from autodiff.scalar import Scalar

            return np.pad(x, pad_width, mode="constant", constant_values=Scalar(0.0))
        return np.pad(x, pad_width, mode="constant")
    return np.pad(x, pad_width, mode=_NUMPY_MODE[mode])


def _source_cells(n, lo, hi, mode):
    """The sample each padded cell copies: lo indices for the cells before, then hi after."""
    k = max(lo, hi) + 1  # a prefix and a suffix of k samples hold every source (n > 2k)
    idx = np.arange(n) if n <= 2 * k else np.r_[0:k, n - k : n]
    padded = np.pad(idx, (lo, hi), mode=_NUMPY_MODE[mode])
    return np.concatenate([padded[:lo], padded[padded.size - hi :]])


def _pad_adjoint_forward(g, pad_width, mode, shape):
    out = g
    for ax, ((lo, hi), n) in enumerate(zip(pad_width, shape)):
        if not (lo or hi):
            continue
        core = out[(slice(None),) * ax + (slice(lo, lo + n),)].copy()  # contiguous, owns its data
        if mode != "zero":
            cells = np.r_[0:lo, lo + n : lo + n + hi]
            np.add.at(np.moveaxis(core, ax, 0), _source_cells(n, lo, hi, mode), np.moveaxis(out, ax, 0)[cells])
        out = core
    return out if out is not g else g.copy()  # (nothing padded: still an array of its own)


pad_adjoint = Op(  # the adjoint of a linear map's adjoint is the map: pad again
    "pad_adjoint",
    _pad_adjoint_forward,
    (lambda g, out, a, pad_width, mode, shape: _pad(g, pad_width=pad_width, mode=mode),),
    fresh=True,
)
_pad = Op(
    "pad",
    _pad_forward,
    (lambda g, out, a, pad_width, mode: pad_adjoint(g, pad_width=pad_width, mode=mode, shape=a.shape),),
    scalar=owned(_pad_forward),
    fresh=True,
)


def pad(x, pad_width, mode="zero"):
    """Pad ``x`` with NumPy's ``pad_width`` in one of ``MODES``.

    ``"zero"`` fills with 0, ``"replicate"`` repeats the edge value, ``"mirror"`` reflects without
    repeating the edge ([1 2 3] -> [3 2 | 1 2 3 | 2 1]), ``"symmetric"`` reflects with it
    ([2 1 | 1 2 3 | 3 2]) and ``"circular"`` wraps around. Differentiable.
    """
    check_mode(mode)
    shape = x.shape if isinstance(x, Tensor) else np.shape(x)
    pw = normalize_pad_width(pad_width, len(shape))
    _check_fits(shape, pw, mode, "pad")
    return _pad(x, pad_width=pw, mode=mode)
