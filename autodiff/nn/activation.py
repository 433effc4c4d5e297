"""Activation layers: thin modules around the elementwise ops (which carry the derivatives)."""

from __future__ import annotations

from autodiff import ops as _ops
from autodiff.nn.module import Module

__all__ = ["ReLU", "Sigmoid", "Tanh", "LeakyReLU", "Softmax"]


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x):
        return _ops.relu(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x):
        return _ops.sigmoid(x)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x):
        return _ops.tanh(x)


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope``·x otherwise (PyTorch's default slope 0.01)."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return _ops.leaky_relu(x, slope=self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Softmax(Module):
    """softmax along ``axis`` (PyTorch calls it ``dim``; both are accepted)."""

    def __init__(self, axis=-1, *, dim=None):
        super().__init__()
        self.axis = axis if dim is None else dim

    def forward(self, x):
        return _ops.softmax(x, axis=self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"
