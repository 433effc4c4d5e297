"""The UCI optical-recognition handwritten digits (8x8 images, 1797 samples), shipped with the
package (``data/digits.csv.gz``, the copy distributed with scikit-learn; CC BY 4.0, see
``data/README.md``) and read without network or scikit-learn."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

__all__ = ["digits"]

_cache: dict = {}


def _load():
    if "digits" not in _cache:
        ref = resources.files("autodiff.datasets").joinpath("data", "digits.csv.gz")
        with ref.open("rb") as raw, gzip.open(raw, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.float64)
        if table.shape != (1797, 65):
            raise RuntimeError(f"digits: the bundled file has shape {table.shape}, expected (1797, 65)")
        _cache["digits"] = table
    return _cache["digits"]


def digits(images=False, scale=True):
    """Return ``(X, y)``: X float64 of shape (1797, 64) (or (1797, 8, 8) with ``images=True``),
    pixel counts 0..16 divided by 16 when ``scale`` (so in [0, 1]); y int64 labels 0..9.

    Alpaydin, E. & Kaynak, C. (1998). Optical Recognition of Handwritten Digits [Dataset].
    UCI Machine Learning Repository. https://doi.org/10.24432/C50P49 (CC BY 4.0).

    >>> X, y = datasets.digits()
    >>> (Xtr, ytr), (Xval, yval), (Xte, yte) = datasets.train_val_test_split(X, y, seed=0)
    """
    table = _load()
    X = table[:, :64].copy()
    y = table[:, 64].astype(np.int64)
    if scale:
        X /= 16.0
    if images:
        X = X.reshape(-1, 8, 8)
    return X, y
