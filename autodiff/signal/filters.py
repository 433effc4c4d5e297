"""The filter bank of the lecture: odd-length float ndarrays w_{-m..m} for ``convolve1d`` (and
odd x odd ones for ``convolve2d``), where filtering computes z_i = Σ_j w_j x_{i+j}.

Filters that sum to 1 (identity, translation, average, gaussian, sharpen, simpson) keep a constant
signal unchanged; derivative filters (laplacian, laplacian_of_gaussian, the differences, sobel)
sum to 0 and map a constant to 0.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "identity", "translation", "average", "gaussian", "sharpen", "laplacian", "laplacian_of_gaussian",
    "centered_difference", "forward_difference", "simpson", "gaussian2d", "sobel", "laplacian_of_gaussian2d",
]


def _int(value, name, where, low=0):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{where}: {name} must be at least {low}, got {value}")
    return int(value)


def _sigma(sigma, where):
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not math.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"{where}: sigma must be a positive finite number, got {sigma!r}")
    return float(sigma)


def _taps(sigma, m, where):
    """(sigma, i = -m..m), with m = ceil(3 sigma) when not given."""
    sigma = _sigma(sigma, where)
    m = math.ceil(3 * sigma) if m is None else _int(m, "m", where)
    return sigma, np.arange(-m, m + 1, dtype=np.float64)


def identity():
    """[0 1 0]: z_i = x_i, the signal unchanged."""
    return np.array([0.0, 1.0, 0.0])


def translation(shift):
    """z_i = x_{i+shift}: moves the signal ``shift`` samples to the left (earlier).

    A single 1 at position j = shift of a filter of length 2|shift|+1: ``translation(1)`` is
    [0 0 1], ``translation(-1)`` is [1 0 0], ``translation(0)`` is [1].
    """
    if isinstance(shift, bool) or not isinstance(shift, numbers.Integral):
        raise TypeError(f"translation: shift must be an int, got {shift!r}")
    w = np.zeros(2 * abs(int(shift)) + 1)
    w[abs(int(shift)) + int(shift)] = 1.0
    return w


def average(width=3):
    """w_j = 1/width for |j| <= m (width = 2m+1, odd): the moving average, which blurs.

    Noise of variance s² drops to s²/width; edges spread over ``width`` samples.
    """
    width = _int(width, "width", "average", low=1)
    if width % 2 == 0:
        raise ValueError(f"average: width must be odd (2m+1), got {width}")
    return np.full(width, 1.0 / width)


def gaussian(sigma, m=None, normalize=True):
    """w_i ∝ exp(-i²/2σ²) for i = -m..m, summing to 1: a Gaussian blur (a smooth average).

    ``normalize=False`` gives the density values exp(-i²/2σ²) / (σ√(2π)) of the lecture's table
    instead, which sum to about 1 when m >= 3σ. ``m`` defaults to ceil(3σ).
    """
    sigma, i = _taps(sigma, m, "gaussian")
    w = np.exp(-(i**2) / (2 * sigma**2))
    return w / w.sum() if normalize else w / (sigma * math.sqrt(2 * math.pi))


def sharpen():
    """[-1 3 -1]: z_i = x_i + (2x_i - x_{i-1} - x_{i+1}), the signal plus its (negative)
    Laplacian; it sharpens (steepens edges, with overshoot) and sums to 1."""
    return np.array([-1.0, 3.0, -1.0])


def laplacian():
    """[-1 2 -1]: z_i = 2x_i - x_{i-1} - x_{i+1} ≈ -x''(i), minus the second derivative.

    Zero on constant and linear parts; large where the signal bends (edges, peaks). Sums to 0.
    """
    return np.array([-1.0, 2.0, -1.0])


def laplacian_of_gaussian(sigma, m=None):
    """w_i = (1 - i²/2σ²)·exp(-i²/2σ²), minus its mean so that it sums to 0 (the "Mexican hat").

    A smoothed Laplacian: it responds to bumps and edges of width about σ and ignores noise
    finer than that. ``m`` defaults to ceil(3σ).
    """
    sigma, i = _taps(sigma, m, "laplacian_of_gaussian")
    s = i**2 / (2 * sigma**2)
    w = (1 - s) * np.exp(-s)
    return w - w.mean()


def centered_difference():
    """[-1 0 1]: z_i = x_{i+1} - x_{i-1} ≈ 2·x'(i), the centred derivative (sums to 0)."""
    return np.array([-1.0, 0.0, 1.0])


def forward_difference():
    """[0 -1 1]: z_i = x_{i+1} - x_i ≈ x'(i), the forward derivative (sums to 0)."""
    return np.array([0.0, -1.0, 1.0])


def simpson():
    """[1/6 4/6 1/6]: Simpson's rule, z_i ≈ (1/2)∫ x over [i-1, i+1] (the local mean, exact for
    cubics): a light blur (sums to 1)."""
    return np.array([1.0, 4.0, 1.0]) / 6.0


def gaussian2d(sigma, m=None):
    """w_{ij} = g_i g_j, the outer product of two normalised 1-D Gaussians (shape (2m+1, 2m+1),
    summing to 1): an isotropic blur of an image. ``m`` defaults to ceil(3σ)."""
    g = gaussian(sigma, m)
    return np.outer(g, g)


def sobel(axis=-1):
    """3x3 Sobel filter: the centred difference [-1 0 1] along ``axis``, smoothed by [1 2 1]
    across it. ``axis=0`` (or -2) differentiates down the rows (responds to horizontal edges);
    ``axis=1`` (or -1, the default) along the columns (vertical edges). Sums to 0.
    """
    if isinstance(axis, bool) or axis not in (0, 1, -1, -2):
        raise ValueError(f"sobel: axis must be 0 or 1 (or -2, -1) for a 2-D image, got {axis!r}")
    diff, smooth = centered_difference(), np.array([1.0, 2.0, 1.0])
    return np.outer(diff, smooth) if axis % 2 == 0 else np.outer(smooth, diff)


def laplacian_of_gaussian2d(sigma, m=None):
    """w_{ij} = (1 - r²/2σ²)·exp(-r²/2σ²) with r² = i² + j², minus its mean so that it sums to 0:
    the 2-D Mexican hat, which finds blobs and edges of size about σ. ``m`` defaults to ceil(3σ)."""
    sigma, i = _taps(sigma, m, "laplacian_of_gaussian2d")
    s = (i[:, None] ** 2 + i[None, :] ** 2) / (2 * sigma**2)
    w = (1 - s) * np.exp(-s)
    return w - w.mean()
