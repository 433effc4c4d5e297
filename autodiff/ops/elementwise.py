"""Elementwise ops: forward on arrays, and each input's derivative rule ``(grad, out, *inputs)``.

The rules use operators and these ops, so the same line runs on ndarrays and, under
``create_graph``, on Tensors. Masks (``x > 0``) are computed from values: they are constants.
"""

from __future__ import annotations

import numpy as np

from autodiff._engine import Op, owned
from autodiff.scalar import Scalar
from autodiff.tensor import Tensor

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "pow_const", "exp", "log", "sqrt", "abs", "sin",
    "cos", "tanh", "sigmoid", "relu", "leaky_relu", "softplus", "clip", "maximum", "minimum",
    "where", "astype",
]


def _raw(x):
    """Plain values of an input (a Tensor's array, or the constant itself)."""
    return x.data if isinstance(x, Tensor) else x


def _fdtype(*xs):
    for x in xs:
        d = getattr(_raw(x), "dtype", None)
        if d is not None and d.kind == "f":
            return d
    return np.dtype(np.float64)


def _each(method):
    """Apply a Scalar method to every element of an object array."""
    return np.frompyfunc(method, 1, 1)


def _obj(x):
    """Constants as object arrays of Scalars, so scalar-back-end results hold only Scalars."""
    if isinstance(x, np.ndarray) and x.dtype == object:
        return x
    vals = np.asarray(x, dtype=np.float64)
    return np.frompyfunc(Scalar, 1, 1)(vals) if vals.ndim else np.array(Scalar(float(vals)), dtype=object)


# --- arithmetic -------------------------------------------------------------------------------
add = Op("add", np.add, (lambda g, out, a, b: g, lambda g, out, a, b: g))  # d(a+b) = da + db
sub = Op("sub", np.subtract, (lambda g, out, a, b: g, lambda g, out, a, b: -g))  # d(a-b) = da - db
mul = Op("mul", np.multiply, (lambda g, out, a, b: g * b, lambda g, out, a, b: g * a))  # d(ab) = b da + a db
div = Op(  # d(a/b) = da/b - (a/b) db/b
    "div", np.true_divide, (lambda g, out, a, b: g / b, lambda g, out, a, b: -g * out / b)
)
neg = Op("neg", np.negative, (lambda g, out, a: -g,))


def _pow_exponent_rule(g, out, a, b):
    # d(a^b)/db = a^b log a; taken as 0 where a == 0 (PyTorch's choice), nan where a < 0.
    zero = _raw(a) == 0
    safe = _where(1.0, a, cond=zero) if np.any(zero) else a
    return g * out * log(safe)


def _pow_base_rule(g, out, a, b):
    # d(a^b)/da = b a^(b-1), taken as 0 where a == b == 0 (0 * inf there; PyTorch gives 0 too).
    zero = (_raw(b) == 0) & (_raw(a) == 0)
    return g * b * a ** (_where(1.0, b, cond=zero) - 1) if np.any(zero) else g * b * a ** (b - 1)


pow = Op("pow", np.power, (_pow_base_rule, _pow_exponent_rule))


def _pow_const_forward(x, p):
    return np.power(x, p) if x.dtype == object else np.power(x, np.asarray(p, dtype=x.dtype))


pow_const = Op(  # d(a^p) = p a^(p-1); 0 for p == 0, also at a == 0 (as PyTorch)
    "pow", _pow_const_forward, (lambda g, out, a, p: g * p * a ** (p - 1) if p != 0 else g * 0.0,)
)

# --- functions --------------------------------------------------------------------------------
exp = Op("exp", np.exp, (lambda g, out, a: g * out,))  # exp' = exp
log = Op("log", np.log, (lambda g, out, a: g / a,))  # log' = 1/a
sqrt = Op("sqrt", np.sqrt, (lambda g, out, a: g / (2 * out),))  # sqrt' = 1/(2 sqrt a)
abs = Op("abs", np.abs, (lambda g, out, a: g * np.sign(_raw(a)),))  # abs' = sign a (0 at 0)
sin = Op("sin", np.sin, (lambda g, out, a: g * cos(a),))  # sin' = cos
cos = Op("cos", np.cos, (lambda g, out, a: -g * sin(a),))  # cos' = -sin
tanh = Op("tanh", np.tanh, (lambda g, out, a: g * (1 - out * out),))  # tanh' = 1 - tanh²


def _sigmoid_forward(x):
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


sigmoid = Op(  # σ' = σ(1 - σ)
    "sigmoid", _sigmoid_forward, (lambda g, out, a: g * out * (1 - out),), scalar=_each(Scalar.sigmoid)
)
relu = Op(  # relu' = [a > 0]  (0 at 0, as in PyTorch)
    "relu", lambda x: np.maximum(x, 0), (lambda g, out, a: g * (_raw(a) > 0),), scalar=_each(Scalar.relu)
)
_leaky_relu = Op(  # leaky_relu' = 1 above zero, slope below
    "leaky_relu",
    lambda x, slope: np.where(x > 0, x, x * np.asarray(slope, dtype=x.dtype)),
    (lambda g, out, a, slope: g * np.where(_raw(a) > 0, 1, slope).astype(_fdtype(a)),),
    scalar=lambda x, slope: np.frompyfunc(lambda s: s.leaky_relu(slope), 1, 1)(x),
)


def leaky_relu(x, slope=0.01):
    """x where x > 0, else slope * x; ``slope`` defaults to 0.01 (PyTorch's negative_slope)."""
    return _leaky_relu(x, slope=float(slope))


softplus = Op(  # log(1 + e^a)' = σ(a)
    "softplus", lambda x: np.logaddexp(0, x), (lambda g, out, a: g * sigmoid(a),), scalar=_each(Scalar.softplus)
)


def _clip_mask(x, lo, hi):
    m = np.ones(np.shape(x), dtype=bool)
    if lo is not None:
        m &= x >= lo
    if hi is not None:
        m &= x <= hi
    return m


def _clip_scalar(x, lo, hi):
    def one(s):  # a clipped element is a constant; the bounds themselves pass the gradient
        if lo is not None and s.data < lo:
            return Scalar(lo)
        if hi is not None and s.data > hi:
            return Scalar(hi)
        return s

    return np.frompyfunc(one, 1, 1)(x)


def _clip_forward(x, lo, hi):
    if lo is None and hi is None:
        return x.copy()
    return np.clip(x, lo, hi)


_clip = Op(  # clip' = [lo <= a <= hi]
    "clip",
    _clip_forward,
    (lambda g, out, a, lo, hi: g * _clip_mask(_raw(a), lo, hi),),
    scalar=owned(_clip_scalar),
)


def clip(x, lo=None, hi=None):
    """Limit values to [lo, hi] (either may be None); the gradient passes where lo <= x <= hi."""
    for name, v in (("lo", lo), ("hi", hi)):
        if v is not None and not isinstance(v, (int, float, np.number)):
            raise TypeError(f"clip: {name} must be a number or None, got {type(v).__name__}")
    return _clip(x, lo=None if lo is None else float(lo), hi=None if hi is None else float(hi))


def _share(a, b, pick):
    # Gradient weight of a in max/min(a, b): 1 where a wins, 1/2 on ties (as torch.maximum).
    ra, rb = _raw(a), _raw(b)
    w = pick(ra, rb) + 0.5 * (ra == rb)
    return np.asarray(w, dtype=_fdtype(a, b))


def _binary_scalar(fn):
    u = np.frompyfunc(fn, 2, 1)
    return lambda a, b: u(_obj(a), _obj(b))


maximum = Op(
    "maximum",
    np.maximum,
    (lambda g, out, a, b: g * _share(a, b, np.greater), lambda g, out, a, b: g * _share(b, a, np.greater)),
    scalar=_binary_scalar(Scalar.max),
)
minimum = Op(
    "minimum",
    np.minimum,
    (lambda g, out, a, b: g * _share(a, b, np.less), lambda g, out, a, b: g * _share(b, a, np.less)),
    scalar=_binary_scalar(Scalar.min),
)

_where = Op(  # the gradient goes to the branch that was chosen; the condition is a constant
    "where",
    lambda a, b, cond: np.where(cond, a, b),
    (lambda g, out, a, b, cond: _where(g, 0.0, cond=cond), lambda g, out, a, b, cond: _where(0.0, g, cond=cond)),
    scalar=owned(lambda a, b, cond: np.where(cond, _obj(a), _obj(b))),
)


def where(cond, a, b):
    """Elements of ``a`` where ``cond`` holds, else of ``b`` (broadcast together)."""
    c = cond.numpy() if isinstance(cond, Tensor) else np.asarray(cond)
    if c.dtype != bool:
        c = c.astype(bool)
    return _where(a, b, cond=c)


def _astype_scalar(x, dtype):
    if np.dtype(dtype) != np.float64:
        raise ValueError(f"the scalar back end computes in float64, not {np.dtype(dtype)}")
    return x


astype = Op(  # a cast: the gradient is cast back
    "astype", lambda x, dtype: x.astype(dtype), (lambda g, out, a, dtype: g.astype(_raw(a).dtype),), scalar=owned(_astype_scalar)
)
