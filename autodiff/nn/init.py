"""Weight initialisers: each returns a new ndarray of the given shape, drawn from an explicit
``numpy.random.Generator`` (by default the one behind ``ad.manual_seed``).

>>> W = nn.init.he((64, 128), rng=np.random.default_rng(0))     # std sqrt(2/64)

Layers take ``init=`` as one of the names in ``INITIALIZERS`` or as a callable with this
signature, e.g. ``init=functools.partial(nn.init.normal, std=0.1)``. Biases start at 0.
"""

from __future__ import annotations

import numbers

import numpy as np

from autodiff._mode import default_rng

__all__ = ["INITIALIZERS", "fans", "get", "glorot_uniform", "he", "normal", "zeros"]


def _rng(rng):
    """A Generator from None (the manual_seed generator), an int seed or a Generator."""
    if rng is None:
        return default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight.

    A Linear weight here has shape (in_features, out_features) (y = x @ W + b, the lecture's
    layout; PyTorch stores the transpose); a convolution weight (C_out, C_in, *kernel) has
    fan_in = C_in·prod(kernel) and fan_out = C_out·prod(kernel), as in PyTorch.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    field = int(np.prod(shape[2:]))
    return shape[1] * field, shape[0] * field


def normal(shape, std=0.01, *, fan_in=None, fan_out=None, rng=None, dtype=np.float64) -> np.ndarray:
    """N(0, std²) samples: the lecture's small Gaussian (std 0.01 by default)."""
    if std < 0:
        raise ValueError(f"init.normal: std must be >= 0, got {std}")
    return (_rng(rng).standard_normal(shape) * std).astype(dtype, copy=False)


def he(shape, *, fan_in=None, fan_out=None, rng=None, dtype=np.float64) -> np.ndarray:
    """He (Kaiming) normal initialisation for ReLU layers: N(0, 1)·sqrt(2 / fan_in)."""
    fan_in = fans(shape)[0] if fan_in is None else fan_in
    return (_rng(rng).standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype, copy=False)


def glorot_uniform(shape, *, fan_in=None, fan_out=None, rng=None, dtype=np.float64) -> np.ndarray:
    """Glorot (Xavier) uniform: U(-b, b) with b = sqrt(6) / sqrt(fan_in + fan_out)."""
    fi, fo = fans(shape)
    fan_in = fi if fan_in is None else fan_in
    fan_out = fo if fan_out is None else fan_out
    b = np.sqrt(6.0) / np.sqrt(fan_in + fan_out)
    return _rng(rng).uniform(-b, b, size=shape).astype(dtype, copy=False)


def zeros(shape, *, fan_in=None, fan_out=None, rng=None, dtype=np.float64) -> np.ndarray:
    """All zeros (for biases; a weight matrix of zeros never breaks the symmetry between units)."""
    return np.zeros(shape, dtype=dtype)


INITIALIZERS = {
    "normal": normal,
    "he": he,
    "kaiming_normal": he,  # PyTorch's name
    "glorot_uniform": glorot_uniform,
    "xavier_uniform": glorot_uniform,  # PyTorch's name
    "zeros": zeros,
}


def get(init, where="init"):
    """The initialiser for a name in ``INITIALIZERS`` or a callable (returned as is)."""
    if callable(init):
        return init
    if isinstance(init, str) and init in INITIALIZERS:
        return INITIALIZERS[init]
    raise ValueError(f"{where}: unknown init {init!r}; use one of {', '.join(map(repr, INITIALIZERS))} or a callable")
