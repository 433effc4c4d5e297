"""Elementwise ops: forward on arrays, and each input's derivative rule ``(grad, out, *inputs)``.

This is the one table of elementwise derivatives: the Tensor back end records these ops, and
every ``Scalar`` node is one of them too. The rules use operators and these ops, so the same line
runs on ndarrays (first order), on Tensors (``create_graph``), on floats (a Scalar node's step)
and on Scalars (``create_graph`` on the scalar graph). Masks (``x > 0``) are computed from values:
they are constants. ``number=`` is the forward on Python floats for Scalar nodes (``math``); where
it raises, NumPy's forward gives the value, so both back ends follow NumPy's inf / nan / signed
zeros.
"""

from __future__ import annotations

import functools
import math
import operator

import numpy as np

from autodiff._engine import Op, owned

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "pow_const", "exp", "log", "sqrt", "abs", "sin",
    "cos", "tanh", "sigmoid", "relu", "leaky_relu", "softplus", "clip", "maximum", "minimum",
    "where", "astype", "copy",
]


def _raw(x):
    """Plain values of an input: a Tensor's array, a Scalar's float, or the constant itself."""
    return x.data if isinstance(x, (Tensor, Scalar)) else x


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
    """Constants as object arrays of Scalars, so scalar-back-end results hold only Scalars (a
    Scalar operand stays itself: its gradient flows into it)."""
    if isinstance(x, np.ndarray) and x.dtype == object:
        return x
    if isinstance(x, Scalar):
        a = np.empty((), dtype=object)
        a[()] = x
        return a
    vals = np.asarray(x, dtype=np.float64)
    return np.frompyfunc(Scalar, 1, 1)(vals) if vals.ndim else np.array(Scalar(float(vals)), dtype=object)


# --- arithmetic -------------------------------------------------------------------------------
add = Op("add", np.add, (lambda g, out, a, b: g, lambda g, out, a, b: g), number=operator.add, symbol="+", uses_out=False)  # d(a+b) = da + db
sub = Op(  # d(a-b) = da - db
    "sub", np.subtract, (lambda g, out, a, b: g, lambda g, out, a, b: -g), fresh=(False, True), number=operator.sub, symbol="-", uses_out=False
)
mul = Op(  # d(ab) = b da + a db
    "mul", np.multiply, (lambda g, out, a, b: g * b, lambda g, out, a, b: g * a), fresh=True, number=operator.mul, symbol="*", uses_out=False
)
div = Op(  # d(a/b) = da/b - (a/b) db/b
    "div", np.true_divide, (lambda g, out, a, b: g / b, lambda g, out, a, b: -g * out / b), fresh=True,
    number=operator.truediv, symbol="/",
)
neg = Op("neg", np.negative, (lambda g, out, a: -g,), fresh=True, number=operator.neg, uses_out=False)


def _pow_exponent_rule(g, out, a, b):
    # d(a^b)/db = a^b log a; taken as 0 where a == 0 (PyTorch's choice), nan where a < 0.
    zero = _raw(a) == 0
    safe = _where(1.0, a, cond=zero) if np.any(zero) else a
    return g * out * log(safe)


def _pow_base_rule(g, out, a, b):
    # d(a^b)/da = b a^(b-1), taken as 0 where a == b == 0 (0 * inf there; PyTorch gives 0 too).
    # (pow itself, not **: NumPy's ** takes x ** 0.5 as sqrt(x), which differs at -0 and -inf)
    zero = (_raw(b) == 0) & (_raw(a) == 0)
    return g * b * pow(a, _where(1.0, b, cond=zero) - 1) if np.any(zero) else g * b * pow(a, b - 1)


pow = Op("pow", np.power, (_pow_base_rule, _pow_exponent_rule), fresh=True, number=math.pow, symbol="**")


def _pow_const_forward(x, p):
    if type(x) is np.ndarray and x.dtype != object:
        return np.power(x, np.asarray(p, dtype=x.dtype))
    return np.power(x, p)


pow_const = Op(  # d(a^p) = p a^(p-1); 0 for p == 0, also at a == 0 (as PyTorch)
    "pow", _pow_const_forward, (lambda g, out, a, p: g * p * pow_const(a, p=p - 1) if p != 0 else g * 0.0,), fresh=True,
    number=lambda x, p: math.sqrt(x) if p == 0.5 else math.pow(x, p),  # (np.power(x, 0.5) is sqrt: -0.0 at -0.0)
    symbol=lambda p: f"**{p:g}",
)

# --- functions --------------------------------------------------------------------------------
exp = Op("exp", np.exp, (lambda g, out, a: g * out,), fresh=True, number=math.exp)  # exp' = exp
log = Op("log", np.log, (lambda g, out, a: g / a,), fresh=True, number=lambda x: math.log(x))  # log' = 1/a
sqrt = Op("sqrt", np.sqrt, (lambda g, out, a: g / (2 * out),), fresh=True, number=math.sqrt)  # sqrt' = 1/(2 sqrt a)
abs = Op(  # abs' = sign a (0 at 0)
    "abs", np.abs, (lambda g, out, a: g * np.sign(_raw(a)),), fresh=True, number=operator.abs
)
sin = Op("sin", np.sin, (lambda g, out, a: g * cos(a),), fresh=True, number=math.sin)  # sin' = cos
cos = Op("cos", np.cos, (lambda g, out, a: -g * sin(a),), fresh=True, number=math.cos)  # cos' = -sin
tanh = Op("tanh", np.tanh, (lambda g, out, a: g * (1 - out * out),), fresh=True, number=math.tanh)  # tanh' = 1 - tanh²


def _sigmoid_forward(x):
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_number(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # (x < 0, or nan: nan / (1 + nan))
    return e / (1.0 + e)


sigmoid = Op(  # σ' = σ(1 - σ)
    "sigmoid", _sigmoid_forward, (lambda g, out, a: g * out * (1 - out),), fresh=True,
    scalar=_each(lambda s: s.sigmoid()), number=_sigmoid_number,
)
relu = Op(  # relu' = [a > 0]  (0 at 0, as in PyTorch)
    "relu", lambda x: np.maximum(x, 0), (lambda g, out, a: g * (a > 0),), fresh=True,
    scalar=_each(lambda s: s.relu()), number=lambda x: 0.0 if x <= 0 else x, symbol="ReLU", uses_out=False,  # (nan stays nan)
)
leaky_relu_op = Op(  # leaky_relu' = 1 above zero, slope below
    "leaky_relu",
    lambda x, slope: np.where(x > 0, x, x * np.asarray(slope, dtype=_fdtype(x))),
    (lambda g, out, a, slope: g * np.where(_raw(a) > 0, 1, slope).astype(_fdtype(a)),),
    fresh=True,
    scalar=lambda x, slope: np.frompyfunc(lambda s: s.leaky_relu(slope), 1, 1)(x),
    number=lambda x, slope: x if x > 0 else slope * x,
)


def leaky_relu(x, slope=0.01):
    """x where x > 0, else slope * x; ``slope`` defaults to 0.01 (PyTorch's negative_slope)."""
    return leaky_relu_op(x, slope=float(slope))


softplus = Op(  # log(1 + e^a)' = σ(a)
    "softplus", lambda x: np.logaddexp(0, x), (lambda g, out, a: g * sigmoid(a),), fresh=True,
    scalar=_each(lambda s: s.softplus()), number=lambda x: max(x, 0.0) + math.log1p(math.exp(-operator.abs(x))),
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
    fresh=True,
    scalar=owned(_clip_scalar),
)


def clip(x, lo=None, hi=None):
    """Limit values to [lo, hi] (either may be None); the gradient passes where lo <= x <= hi."""
    for name, v in (("lo", lo), ("hi", hi)):
        if v is not None and not isinstance(v, (int, float, np.number)):
            raise TypeError(f"clip: {name} must be a number or None, got {type(v).__name__}")
    return _clip(x, lo=None if lo is None else float(lo), hi=None if hi is None else float(hi))


# --- maximum and minimum: of two arrays, or of any number of Scalars ---------------------------


def _hits(x, out):
    """Where ``x`` attains the extremum ``out``; a NaN result is attained by the NaN inputs."""
    if isinstance(x, np.ndarray) or isinstance(out, np.ndarray):
        hit = x == out
        if np.result_type(x, out).kind == "f":
            hit = hit | (np.isnan(x) & np.isnan(out))
        return hit
    return x == out or (x != x and out != out)


def _extremum_vjp(g, out, *xs, needs):
    # The gradient is shared equally among the inputs that attain the max (or min): ties get 1/k
    # each, as torch.amax; a NaN result came from the NaN inputs, which share it.
    o = _raw(out)
    hits = [_hits(_raw(x), o) for x in xs]
    count = sum(hits)
    if not isinstance(o, np.ndarray):  # floats (a Scalar node)
        return [g * (h / count) if need else None for h, need in zip(hits, needs)]
    dtype = _fdtype(out, *xs)
    return [g * np.asarray(h / count, dtype=dtype) if need else None for h, need in zip(hits, needs)]


def _binary_scalar(fn):
    u = np.frompyfunc(fn, 2, 1)
    return lambda a, b: u(_obj(a), _obj(b))


maximum = Op(
    "maximum", lambda *xs: functools.reduce(np.maximum, xs), vjp=_extremum_vjp, fresh=True,
    scalar=_binary_scalar(lambda a, b: a.max(b)), symbol="max",
)
minimum = Op(
    "minimum", lambda *xs: functools.reduce(np.minimum, xs), vjp=_extremum_vjp, fresh=True,
    scalar=_binary_scalar(lambda a, b: a.min(b)), symbol="min",
)

# --- moving values ----------------------------------------------------------------------------

_where = Op(  # the gradient goes to the branch that was chosen; the condition is a constant
    "where",
    lambda a, b, cond: np.where(cond, a, b),
    (lambda g, out, a, b, cond: _where(g, 0.0, cond=cond), lambda g, out, a, b, cond: _where(0.0, g, cond=cond)),
    fresh=True,
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
    "astype", lambda x, dtype: x.astype(dtype), (lambda g, out, a, dtype: g.astype(_raw(a).dtype),), fresh=True,
    scalar=owned(_astype_scalar),
)
copy = Op(  # the identity: gives a moved value a node of its own on the scalar graph
    "copy", lambda x: np.array(x, copy=True), (lambda g, out, a: g,), number=lambda x: x
)

# The rules test for Tensors and Scalars when they run: imported last, once they exist.
from autodiff.scalar import Scalar  # noqa: E402
from autodiff.tensor import Tensor  # noqa: E402
