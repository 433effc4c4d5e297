"""Mini-batches and feature standardisation.

>>> for Xb, yb in nn.data.batches(X, y, batch_size=32, rng=0):   # one epoch
...     ...
>>> Xtr, stats = nn.standardize(Xtr)          # statistics of the training data
>>> Xte = nn.standardize(Xte, stats=stats)    # applied unchanged to validation/test data
"""

from __future__ import annotations

import numpy as np

from autodiff.nn.init import _rng
from autodiff.tensor import Tensor

__all__ = ["batches", "standardize"]


def _rows(a, name):
    if a is None:
        return None
    if not isinstance(a, (Tensor, np.ndarray)):
        a = np.asarray(a)
    if a.ndim == 0:
        raise ValueError(f"batches: {name} needs a first (sample) axis, got a 0-d value")
    return a


def batches(X, y=None, batch_size=32, shuffle=True, rng=None, drop_last=False):
    """Yield (X_batch, y_batch) pairs covering every row once (one epoch); the last batch may
    be shorter unless ``drop_last``. With ``y=None`` yields X batches alone.

    ``X``/``y``: ndarrays, lists or Tensors with the samples along axis 0 (batches keep the
    type; Tensor batches are made by indexing, so they stay in the graph). ``shuffle`` draws a
    permutation from ``rng`` (a Generator or int seed; default: the ``ad.manual_seed``
    generator); otherwise the rows come in order.
    """
    X, y = _rows(X, "X"), _rows(y, "y")
    n = len(X)
    if y is not None and len(y) != n:
        raise ValueError(f"batches: X has {n} rows but y has {len(y)}")
    if int(batch_size) <= 0:
        raise ValueError(f"batches: batch_size must be a positive int, got {batch_size}")
    batch_size = int(batch_size)
    order = _rng(rng).permutation(n) if shuffle else None
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if order is None:
            idx = slice(start, min(start + batch_size, n))
        else:
            idx = order[start : start + batch_size]
        if y is None:
            yield X[idx]
        else:
            yield X[idx], y[idx]


def standardize(X, stats=None, eps=1e-8):
    """Centre and scale every feature (column): (X - mean) / std.

    Without ``stats`` returns ``(X_standardized, (mean, std))`` computed on ``X`` (axis 0);
    with ``stats=(mean, std)`` returns the standardized array alone, so validation and test data
    get the training data's statistics. A constant feature (std below ``eps``, e.g. an
    always-blank pixel) gets std 1, so it becomes 0 instead of nan. Accepts ndarrays or Tensors
    (returns the same kind, as a new constant).
    """
    is_tensor = isinstance(X, Tensor)
    values = X.numpy() if is_tensor else np.asarray(X, dtype=np.float64)
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    if values.ndim == 0 or len(values) == 0:
        raise ValueError(f"standardize: X needs at least one row, got shape {values.shape}")
    return_stats = stats is None
    if stats is None:
        mean = values.mean(axis=0)
        std = values.std(axis=0)
        std = np.where(std < eps, 1.0, std).astype(values.dtype)
    else:
        mean, std = (np.asarray(s) for s in stats)
        if mean.shape != values.shape[1:] or std.shape != values.shape[1:]:
            raise ValueError(
                f"standardize: statistics of shape {mean.shape} do not fit data of shape {values.shape}"
            )
    out = ((values - mean) / std).astype(values.dtype, copy=False)
    if is_tensor:
        out = Tensor(out, backend=X.backend)
    return (out, (mean, std)) if return_stats else out
