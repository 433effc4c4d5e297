"""Sliding windows over the spatial axes of (N, C, *spatial) arrays, shared by convolution and pooling.

A window op reads, for every output position p and kernel tap k, the input cell
``stride * p + dilation * k`` along each spatial axis. ``tap_slices`` gives, for each tap, the
strided slice of the input that all output positions read through that tap, so forward and
adjoint passes loop over the K (or KxK) taps only, never over batch, channels or pixels.
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["ntuple", "out_size", "tap_slices", "windows", "shape_of"]


def ntuple(value, d, what, where, minimum=1):
    """``value`` (an int or a sequence of ``d`` ints) as a tuple of ``d`` ints >= ``minimum``."""
    items = (value,) * d if isinstance(value, numbers.Integral) else value
    try:
        items = tuple(items)
    except TypeError:
        raise TypeError(f"{where}: {what} must be an int or a tuple of {d} ints, got {value!r}") from None
    if len(items) != d or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in items):
        raise TypeError(f"{where}: {what} must be an int or a tuple of {d} ints, got {value!r}")
    if any(v < minimum for v in items):
        raise ValueError(f"{where}: {what} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in items)


def out_size(n, k, stride, dilation):
    """Number of windows along an axis of length ``n`` (a remainder that fits no window is dropped)."""
    return (n - dilation * (k - 1) - 1) // stride + 1


def shape_of(x):
    """Shape of a Tensor or an array-like, as a tuple."""
    shape = getattr(x, "shape", None)
    return tuple(np.shape(x) if shape is None else shape)


def tap_slices(ksize, stride, dilation, out):
    """For each kernel tap (row-major order): its flat index and the index of the input cells it
    reads, ``(:, :, start::stride)`` per spatial axis, covering exactly ``out`` positions."""
    for t, tap in enumerate(itertools.product(*(range(k) for k in ksize))):
        index = tuple(
            slice(dl * k, dl * k + s * (o - 1) + 1, s) for k, s, dl, o in zip(tap, stride, dilation, out)
        )
        yield t, (slice(None), slice(None)) + index


def windows(x, ksize, stride, dilation):
    """A read-only view (N, C, *out, *ksize) of the input cells under every window (no copy)."""
    d = len(ksize)
    eff = tuple(dl * (k - 1) + 1 for k, dl in zip(ksize, dilation))
    view = sliding_window_view(x, eff, axis=tuple(range(2, 2 + d)))
    index = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)
    return view[index + tuple(slice(None, None, dl) for dl in dilation)]
