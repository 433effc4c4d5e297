"""Convolution and pooling layers, around ``ad.conv1d/2d`` and ``ad.max_pool``/``ad.avg_pool``."""

from __future__ import annotations

import numpy as np

import autodiff as _ad
from autodiff.nn import init as _init
from autodiff.nn.module import Module
from autodiff.ops.padding import check_mode
from autodiff.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"]


def _tuple(v, d, name, where):
    t = (v,) * d if isinstance(v, (int, np.integer)) else tuple(v)
    if len(t) != d or not all(isinstance(i, (int, np.integer)) and i > 0 for i in t):
        raise ValueError(f"{where}: {name} must be a positive int or {d} of them, got {v!r}")
    return tuple(int(i) for i in t)


class _ConvNd(Module):
    _d = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True,
                 padding_mode="zero", init="he", *, rng=None, dtype=np.float64, backend="numpy"):
        super().__init__()
        where = type(self).__name__
        d = self._d
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        if self.in_channels <= 0 or self.out_channels <= 0:
            raise ValueError(f"{where}: channel counts must be positive, got ({in_channels}, {out_channels})")
        self.kernel_size = _tuple(kernel_size, d, "kernel_size", where)
        self.stride = _tuple(stride, d, "stride", where)
        self.dilation = _tuple(dilation, d, "dilation", where)
        self.padding = padding
        self.padding_mode = check_mode(padding_mode, where)
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        field = int(np.prod(self.kernel_size))
        w = _init.get(init, where)(
            shape, fan_in=self.in_channels * field, fan_out=self.out_channels * field, rng=_init._rng(rng), dtype=dtype
        )
        self.weight = Tensor(np.asarray(w, dtype=dtype), requires_grad=True, backend=backend)
        self.bias = Tensor(np.zeros(self.out_channels, dtype), requires_grad=True, backend=backend) if bias else None

    def _args(self):
        one = self._d == 1
        return dict(
            stride=self.stride[0] if one else self.stride,
            padding=self.padding,
            dilation=self.dilation[0] if one else self.dilation,
            padding_mode=self.padding_mode,
        )

    def extra_repr(self):
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding!r}, padding_mode={self.padding_mode!r}"
        )


class Conv1d(_ConvNd):
    """1-D cross-correlation layer: x (N, C_in, L) -> (N, C_out, L_out).

    ``weight`` has shape (C_out, C_in, K) (as in PyTorch), initialised with ``init`` ("he":
    fan_in = C_in·K); ``bias`` (C_out,) starts at 0. ``padding`` is an int, ``"same"`` or
    ``"valid"``; ``padding_mode`` one of "zero" "replicate" "mirror" "symmetric" "circular".
    """

    _d = 1

    def forward(self, x):
        return _ad.conv1d(x, self.weight, self.bias, **self._args())


class Conv2d(_ConvNd):
    """2-D cross-correlation layer: x (N, C_in, H, W) -> (N, C_out, H_out, W_out); ``weight``
    (C_out, C_in, KH, KW). Arguments as ``Conv1d``, each int or pair."""

    _d = 2

    def forward(self, x):
        return _ad.conv2d(x, self.weight, self.bias, **self._args())


class _Pool(Module):
    _d = 1
    _fn = ""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        where = type(self).__name__
        self.kernel_size = _tuple(kernel_size, self._d, "kernel_size", where)
        self.stride = None if stride is None else _tuple(stride, self._d, "stride", where)

    def forward(self, x):
        one = self._d == 1
        k = self.kernel_size[0] if one else self.kernel_size
        s = None if self.stride is None else (self.stride[0] if one else self.stride)
        return getattr(_ad, self._fn)(x, k, s)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"


class MaxPool1d(_Pool):
    """Max over windows of ``kernel_size`` along L (stride defaults to the kernel size)."""

    _d, _fn = 1, "max_pool1d"


class MaxPool2d(_Pool):
    """Max over ``kernel_size`` windows of (H, W) (stride defaults to the kernel size)."""

    _d, _fn = 2, "max_pool2d"


class AvgPool1d(_Pool):
    """Mean over windows of ``kernel_size`` along L."""

    _d, _fn = 1, "avg_pool1d"


class AvgPool2d(_Pool):
    """Mean over ``kernel_size`` windows of (H, W)."""

    _d, _fn = 2, "avg_pool2d"
