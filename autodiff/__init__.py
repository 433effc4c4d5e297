"""autodiff: reverse-mode automatic differentiation on a scalar graph or on NumPy arrays.

>>> import autodiff as ad
>>> x = ad.Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x ** 2).sum().backward()
>>> x.grad
Tensor([2., 4., 6.])
"""

# The scalar engine first: its nodes are the elementwise ops, which it imports (with the Tensor
# module they need) once Scalar exists.
from autodiff.scalar import Scalar  # noqa: I001
from autodiff import graph as graph, signal as signal  # (cheap: NumPy only; subpackages, not in __all__)
from autodiff._backward import grad
from autodiff._engine import Op
from autodiff._mode import (
    default_rng,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    manual_seed,
    no_grad,
    set_grad_enabled,
)
from autodiff.function import Function, FunctionCtx
from autodiff.gradcheck import (
    GradcheckError,
    GradcheckKinkWarning,
    GradcheckReport,
    gradcheck,
    gradcheck_report,
    gradgradcheck,
)
from autodiff.ops import (
    abs,
    argmax,
    argmin,
    avg_pool1d,
    avg_pool2d,
    batch_norm,
    broadcast_to,
    clip,
    concatenate,
    conv1d,
    conv2d,
    cos,
    dropout,
    exp,
    flatten,
    leaky_relu,
    linear,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    max_pool1d,
    max_pool2d,
    maximum,
    mean,
    min,
    minimum,
    pad,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax,
    softplus,
    sqrt,
    squeeze,
    stack,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from autodiff.tensor import (
    BACKENDS,
    Tensor,
    arange,
    as_tensor,
    eye,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)

__version__ = "0.1.0"

_LAZY = ("nn", "datasets", "testing")


def __getattr__(name):
    # Subpackages loaded on first use: ``ad.nn`` and ``ad.datasets`` keep ``import autodiff`` fast,
    # and ad.testing needs hypothesis (a test dependency).
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"autodiff.{name}")
    raise AttributeError(f"module 'autodiff' has no attribute {name!r}")


__all__ = [
    "BACKENDS", "Function", "FunctionCtx", "GradcheckError", "GradcheckKinkWarning",
    "GradcheckReport", "Op", "Scalar", "Tensor", "abs", "arange", "argmax", "as_tensor", "argmin", "broadcast_to",
    "clip", "concatenate", "cos", "default_rng", "detect_anomaly", "enable_grad", "exp", "eye",
    "flatten", "full", "grad", "gradcheck", "gradcheck_report", "gradgradcheck",
    "is_grad_enabled", "leaky_relu", "linear", "log", "log_softmax", "logsumexp", "manual_seed", "matmul",
    "max", "maximum", "mean", "min", "minimum", "no_grad", "ones", "ones_like", "pad", "rand",
    "randn", "relu", "reshape", "set_grad_enabled", "sigmoid", "sin", "softmax", "softplus",
    "sqrt", "squeeze", "stack", "sum", "tanh", "tensor", "transpose", "unsqueeze", "var", "where",
    "zeros", "zeros_like",
    "conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "dropout", "batch_norm",
]
