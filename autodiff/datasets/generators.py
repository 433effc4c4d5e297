"""Toy 2-D classification data sets, generated from a seed: moons, circles, spirals, blobs.

Each returns ``(X, y)``: X float64 of shape (n, 2) (blobs: (n, dim)), y int64 class labels.
``rng`` is a ``numpy.random.Generator`` or an int seed (default: the ``ad.manual_seed``
generator).
"""

from __future__ import annotations

import numpy as np

from autodiff.nn.init import _rng

__all__ = ["moons", "circles", "spirals", "blobs"]


def _counts(n, k, where):
    n = int(n)
    if n < k:
        raise ValueError(f"{where}: need at least {k} samples, got {n}")
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _shuffled(X, y, gen):
    order = gen.permutation(len(y))
    return X[order], y[order]


def moons(n=200, noise=0.1, rng=None):
    """Two interleaving half circles (scikit-learn's ``make_moons``): class 0 is the upper
    moon, class 1 the lower one, plus Gaussian noise of std ``noise``.

    >>> X, y = datasets.moons(100, noise=0.1, rng=0)       # y in {0, 1}; hinge loss: 2*y - 1
    """
    gen = _rng(rng)
    n0, n1 = _counts(n, 2, "moons")
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    X = np.concatenate([np.c_[np.cos(t0), np.sin(t0)], np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]])
    y = np.r_[np.zeros(n0, np.int64), np.ones(n1, np.int64)]
    X = X + gen.normal(scale=noise, size=X.shape)
    return _shuffled(X, y, gen)


def circles(n=200, noise=0.05, factor=0.5, rng=None):
    """A circle of radius 1 (class 0) around one of radius ``factor`` (class 1), with noise."""
    if not 0 < factor < 1:
        raise ValueError(f"circles: factor must be in (0, 1), got {factor}")
    gen = _rng(rng)
    n0, n1 = _counts(n, 2, "circles")
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    X = np.concatenate([np.c_[np.cos(t0), np.sin(t0)], factor * np.c_[np.cos(t1), np.sin(t1)]])
    y = np.r_[np.zeros(n0, np.int64), np.ones(n1, np.int64)]
    X = X + gen.normal(scale=noise, size=X.shape)
    return _shuffled(X, y, gen)


def spirals(n=300, classes=3, noise=0.2, rng=None):
    """``classes`` interleaved spiral arms (the CS231n spiral data): arm k has radius r from 0
    to 1 and angle 4k + 4r (radians), the angle perturbed by Gaussian noise of std ``noise``."""
    gen = _rng(rng)
    xs, ys = [], []
    for k, m in enumerate(_counts(n, int(classes), "spirals")):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(4.0 * k, 4.0 * (k + 1), m) + gen.normal(scale=noise, size=m)
        xs.append(np.c_[r * np.sin(t), r * np.cos(t)])
        ys.append(np.full(m, k, np.int64))
    return _shuffled(np.concatenate(xs), np.concatenate(ys), gen)


def blobs(n=200, centers=3, std=1.0, dim=2, box=(-10.0, 10.0), rng=None):
    """Gaussian blobs: ``centers`` (a count, drawn uniformly in ``box``, or an array of
    centres) each with isotropic std ``std``; class k is the k-th centre."""
    gen = _rng(rng)
    if np.ndim(centers) == 0:
        c = gen.uniform(box[0], box[1], size=(int(centers), int(dim)))
    else:
        c = np.asarray(centers, dtype=np.float64)
        if c.ndim != 2:
            raise ValueError(f"blobs: centers must be a count or an array (k, dim), got shape {c.shape}")
    counts = _counts(n, len(c), "blobs")
    X = np.concatenate([ck + gen.normal(scale=std, size=(m, c.shape[1])) for ck, m in zip(c, counts)])
    y = np.concatenate([np.full(m, k, np.int64) for k, m in enumerate(counts)])
    return _shuffled(X, y, gen)
