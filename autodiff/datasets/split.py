"""A deterministic, optionally stratified, train/validation/test split."""

from __future__ import annotations

import numpy as np

from autodiff.nn.init import _rng

__all__ = ["train_val_test_split"]


def train_val_test_split(X, y, val=0.15, test=0.15, seed=0, stratify=True):
    """Split rows into ``((X_train, y_train), (X_val, y_val), (X_test, y_test))``.

    ``val`` and ``test`` are fractions of the rows (either may be 0). The shuffle is drawn from
    ``seed`` (an int or a Generator), so the same seed always gives the same split. With
    ``stratify`` every class keeps (to within one row) its share in each part.
    """
    X, y = np.asarray(X), np.asarray(y)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"train_val_test_split: X has {n} rows but y has {len(y)}")
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError(f"train_val_test_split: need 0 <= val, test and val + test < 1, got {val}, {test}")
    gen = _rng(seed)
    parts = ([], [], [])
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(n)]
    for rows in groups:
        rows = gen.permutation(rows)
        n_test = int(round(test * len(rows)))
        n_val = int(round(val * len(rows)))
        parts[2].append(rows[:n_test])
        parts[1].append(rows[n_test : n_test + n_val])
        parts[0].append(rows[n_test + n_val :])
    out = []
    for chunks in parts:
        idx = gen.permutation(np.concatenate(chunks)) if chunks else np.arange(0)
        out.append((X[idx], y[idx]))
    return tuple(out)
