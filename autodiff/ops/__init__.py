"""The differentiable operations. Each module lists its ops beside their derivative rules."""

from autodiff.ops.activation import log_softmax, softmax
from autodiff.ops.conv import conv1d, conv2d
from autodiff.ops.elementwise import (
    abs,
    add,
    astype,
    clip,
    cos,
    div,
    exp,
    leaky_relu,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    pow_const,
    relu,
    sigmoid,
    sin,
    softplus,
    sqrt,
    sub,
    tanh,
    where,
)
from autodiff.ops.linalg import linear, matmul
from autodiff.ops.padding import pad
from autodiff.ops.pool import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from autodiff.ops.reduce import argmax, argmin, logsumexp, max, mean, min, sum, var
from autodiff.ops.regularize import batch_norm, dropout
from autodiff.ops.shape import (
    broadcast_to,
    concatenate,
    flatten,
    getitem,
    index_add,
    normalize_index,
    reshape,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)

__all__ = [
    "abs", "add", "argmax", "argmin", "astype", "broadcast_to", "clip", "concatenate", "cos",
    "div", "exp", "flatten", "getitem", "index_add", "leaky_relu", "log", "log_softmax",
    "linear", "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "neg",
    "normalize_index", "pad", "pow", "pow_const", "relu", "reshape", "sigmoid", "sin", "softmax",
    "softplus", "sqrt", "squeeze", "stack", "sub", "sum", "tanh", "transpose", "unsqueeze", "var",
    "where",
    "conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "dropout", "batch_norm",
]
