"""Batch normalisation and dropout layers, around ``ad.batch_norm`` and ``ad.dropout``."""

from __future__ import annotations

import numpy as np

import autodiff as _ad
from autodiff.nn.init import _rng
from autodiff.nn.module import Module
from autodiff.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "Dropout"]


class _BatchNorm(Module):
    _dims: tuple = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *,
                 dtype=np.float64, backend="numpy"):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        if affine:
            self.weight = Tensor(np.ones(self.num_features, dtype), requires_grad=True, backend=backend)
            self.bias = Tensor(np.zeros(self.num_features, dtype), requires_grad=True, backend=backend)
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)

    def _check(self, x):
        if x.ndim not in self._dims or x.shape[1] != self.num_features:
            want = " or ".join(("(N, C)", "(N, C, L)", "(N, C, H, W)")[d - 2] for d in self._dims)
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): expected input {want} with C={self.num_features}, "
                f"got shape {tuple(x.shape)}"
            )

    def _norm(self, x):
        # Batch statistics in training mode, or always when no running statistics are kept.
        training = self.training or self.running_mean is None
        return _ad.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, training,
            momentum=self.momentum, eps=self.eps,
        )

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm1d(_BatchNorm):
    """Normalises each feature over the batch: x of shape (N, C) (or (N, C, L), over N and L),
    then scales by ``weight`` and shifts by ``bias``. Running mean and (unbiased) variance,
    updated with ``momentum`` in training mode, are used in eval mode (PyTorch's rules)."""

    _dims = (2, 3)

    def forward(self, x):
        self._check(x)
        if x.ndim == 3:
            n, c, length = x.shape
            return self._norm(x.reshape(n, c, length, 1)).reshape(n, c, length)
        return self._norm(x)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation per channel of x with shape (N, C, H, W) (over N, H and W)."""

    _dims = (4,)

    def forward(self, x):
        self._check(x)
        return self._norm(x)


class Dropout(Module):
    """Inverted dropout: in training mode each element is zeroed with probability ``p`` and the
    kept ones are scaled by 1/(1-p); the identity in eval mode. ``rng``: a Generator or int
    seed (default: the ``ad.manual_seed`` generator, looked up at each call)."""

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = None if rng is None else _rng(rng)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        return _ad.dropout(x, p=self.p, training=True, rng=self.rng)

    def extra_repr(self):
        return f"p={self.p}"
