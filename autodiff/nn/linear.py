"""Linear (affine) layer and the two shape layers, Identity and Flatten."""

from __future__ import annotations

import numpy as np

from autodiff.nn import init as _init
from autodiff.nn.module import Module
from autodiff.ops.linalg import linear as _linear
from autodiff.tensor import Tensor

__all__ = ["Linear", "Identity", "Flatten"]


def _parameter(values, backend):
    return Tensor(values, requires_grad=True, backend=backend)


class Linear(Module):
    """y = x @ weight + bias, for x of shape (..., in_features).

    ``weight`` has shape (in_features, out_features) — the lecture's z = xW + b; PyTorch stores
    the transpose (out, in) — and ``bias`` shape (out_features,), initialised to 0. ``init`` is
    a name from ``nn.init.INITIALIZERS`` ("he" by default, for ReLU nets) or a callable;
    ``rng`` a Generator or int seed (default: the ``ad.manual_seed`` generator).

    >>> layer = nn.Linear(3, 2, rng=0)
    >>> layer(ad.randn(5, 3)).shape
    (5, 2)
    """

    def __init__(self, in_features, out_features, bias=True, init="he", *, rng=None, dtype=np.float64, backend="numpy"):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        if self.in_features <= 0 or self.out_features <= 0:
            raise ValueError(f"Linear: sizes must be positive, got ({in_features}, {out_features})")
        fn = _init.get(init, "Linear")
        shape = (self.in_features, self.out_features)
        w = fn(shape, fan_in=self.in_features, fan_out=self.out_features, rng=_init._rng(rng), dtype=dtype)
        self.weight = _parameter(np.asarray(w, dtype=dtype), backend)
        self.bias = _parameter(np.zeros(self.out_features, dtype=dtype), backend) if bias else None

    def forward(self, x):
        try:
            return _linear(x, self.weight, self.bias)  # with a bias one node: matmul + bias add
        except ValueError:  # checked on failure only: this runs once per layer per step
            if tuple(np.shape(x))[-1:] != (self.in_features,):
                raise ValueError(
                    f"Linear({self.in_features}, {self.out_features}): input of shape {tuple(np.shape(x))} "
                    f"needs {self.in_features} features in its last axis"
                ) from None
            raise

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged."""

    def forward(self, x):
        return x


class Flatten(Module):
    """Merges axes start_dim..end_dim (by default all but the batch axis), as PyTorch's Flatten."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
