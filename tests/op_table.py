"""The one table of Tensor ops: it drives tests/test_ops.py (forward against NumPy, gradcheck,
gradgradcheck, and both back ends) and supplies the smooth ops of the random programs in
tests/test_backends.py. Adding an op is one rule in autodiff/ops plus one row here.

A row (``Case``) names the op, gives it on Tensors (``fn(*tensors, **kw)``), a NumPy reference
(``ref(*arrays, **kw)``) and ``inputs(size)``: a strategy of ``(arrays, kw)`` where ``arrays`` are
the float64 inputs that become Tensors and ``kw`` the constants (axes, indices, masks, arrays).
Inputs stay in the op's safe domain (log > 0) and off its kinks (relu at 0, ties in max).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from window_refs import conv_inputs, conv_ref, pool_inputs, pool_ref

import autodiff as ad
from autodiff.ops.padding import MODES
from autodiff.testing import away_from, broadcastable_shapes, finite_floats, matmul_shapes, shapes


@dataclass(frozen=True)
class Size:
    """How large drawn inputs may be: the numpy back end takes more than the scalar one."""

    max_dims: int
    max_side: int


NUMPY = Size(3, 4)
SCALAR = Size(2, 3)


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable
    ref: Callable
    inputs: Callable  # Size -> strategy of (tuple of ndarrays, dict of constants)
    smooth: bool = True  # second derivatives exist where inputs are drawn (gradgradcheck)
    grad: bool = True  # differentiable (a cast to float32 is checked forward only)
    scalar: bool = True  # runs on the scalar back end (float64 only)


# --- input strategies -------------------------------------------------------------------------


def _arr(shape, elems=None):
    return hnp.arrays(np.float64, shape, elements=elems if elems is not None else finite_floats())


def _shape(s, min_dims=0):
    return shapes(min_dims, max(min_dims, s.max_dims), 1, s.max_side)


def unary(elems=None, min_dims=0):
    return lambda s: _shape(s, min_dims).flatmap(lambda shp: _arr(shp, elems)).map(lambda a: ((a,), {}))


def nary(*elems, const=()):
    """Broadcastable arrays, one per entry of ``elems``; those named in ``const`` go to kw."""

    @st.composite
    def draw(d, s):
        shps = d(broadcastable_shapes(len(elems), 0, s.max_dims, 1, s.max_side))
        arrays = [d(_arr(shp, e)) for shp, e in zip(shps, elems)]
        kw = {name: arrays.pop() for name in reversed(const)}
        return tuple(arrays), kw

    return draw


def _axis_args(d, ndim, tuples=True):
    choices = [st.none()]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
        if tuples:
            choices.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple))
    return d(st.one_of(*choices))


def reduction(elems=None, min_gap=None, ddof=False):
    """One array, an axis (None, int or tuple) and keepdims; ``min_gap`` keeps values tie-free."""

    @st.composite
    def draw(d, s):
        shp = d(_shape(s))
        elements = elems if min_gap is None else st.integers(0, int(4 / min_gap)).map(lambda i: -2 + i * min_gap)
        elements = elements if elements is not None else finite_floats()
        x = d(hnp.arrays(np.float64, shp, elements=elements, unique=min_gap is not None))
        kw = {"axis": _axis_args(d, len(shp)), "keepdims": d(st.booleans())}
        if ddof:
            count = x.size if kw["axis"] is None else int(np.prod([shp[i] for i in np.atleast_1d(kw["axis"])]))
            kw["ddof"] = d(st.integers(0, 1)) if count > 1 else 0
        return (x,), kw

    return draw


def with_kw(make_kw, min_dims=0, elems=None):
    """One array plus constants drawn by ``make_kw(draw, shape)``."""

    @st.composite
    def draw(d, s):
        shp = d(_shape(s, min_dims))
        return (d(_arr(shp, elems)),), make_kw(d, shp)

    return draw


def _grid(offset):
    return st.integers(-16, 15).map(lambda k: k / 8 + offset)


def tie_free_pair(s):
    # a on the grid k/8, b on k/8 + 1/16: never closer than 1/16, so maximum/minimum have no ties
    return nary(_grid(0), _grid(1 / 16))(s)


def where_inputs(s):
    @st.composite
    def draw(d):
        c, a, b = d(broadcastable_shapes(3, 0, s.max_dims, 1, s.max_side))
        return (d(_arr(a)), d(_arr(b))), {"cond": d(hnp.arrays(bool, c))}

    return draw()


def _axis_kw(d, shp):
    return {"axis": d(st.integers(-len(shp), len(shp) - 1))}


def _reshape_kw(d, shp):
    size = int(np.prod(shp))
    return {"shape": d(st.sampled_from([(size,), (-1,), shp[::-1], (1,) + shp, shp + (1,), (size, 1)]))}


def _flatten_kw(d, shp):
    if not shp:
        return {"start": 0, "end": -1}
    start = d(st.integers(0, len(shp) - 1))
    return {"start": start, "end": d(st.integers(start, len(shp) - 1))}


def _flatten_ref(x, start, end):
    if x.ndim == 0:
        return x.reshape(1)
    end = end % x.ndim
    return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1 :])


def _squeeze_kw(d, shp):
    ones = [i for i, n in enumerate(shp) if n == 1]
    return {"axis": d(st.sampled_from([None] + ones))}


def _broadcast_kw(d, shp):
    lead = tuple(d(st.lists(st.integers(1, 3), max_size=1)))
    return {"shape": lead + tuple(d(st.integers(1, 3)) if n == 1 else n for n in shp)}


def _joined(stack):
    @st.composite
    def draw(d, s):
        base = d(_shape(s, 0 if stack else 1))
        k = d(st.integers(1, 3))
        if stack:
            axis = d(st.integers(-len(base) - 1, len(base)))
            return tuple(d(_arr(base)) for _ in range(k)), {"axis": axis}
        axis = d(st.integers(-len(base), len(base) - 1))
        parts = []
        for _ in range(k):
            shp = list(base)
            shp[axis] = d(st.integers(1, s.max_side))
            parts.append(d(_arr(tuple(shp))))
        return tuple(parts), {"axis": axis}

    return draw


def _pad_kw(mode):
    def make(d, shp):
        limit = {"mirror": lambda n: n - 1, "symmetric": lambda n: n}.get(mode, lambda n: 2)
        pairs = tuple((d(st.integers(0, min(2, limit(n)))), d(st.integers(0, min(2, limit(n))))) for n in shp)
        smallest = min(min(2, limit(n)) for n in shp)
        forms = [st.just(pairs)]
        if smallest > 0:
            forms.append(st.integers(0, smallest))  # one width for every side
            forms.append(st.tuples(st.integers(0, smallest), st.integers(0, smallest)))  # (lo, hi) for every axis
        return {"pad_width": d(st.one_of(*forms)), "mode": mode}

    return make


_NUMPY_PAD = {"zero": "constant", "replicate": "edge", "mirror": "reflect", "symmetric": "symmetric", "circular": "wrap"}


def _basic_index_kw(d, shp):
    return {"index": d(hnp.basic_indices(shp, min_dims=0, allow_newaxis=True, allow_ellipsis=True))}


def _int_arrays_kw(d, shp):
    return {"index": d(hnp.integer_array_indices(shp, result_shape=hnp.array_shapes(max_dims=2, max_side=4)))}


def _int_axis_kw(d, shp):
    # one integer array (with repeats and negative entries) on one axis, slices elsewhere
    axis = d(st.integers(0, len(shp) - 1))
    n = shp[axis]
    idx = np.array(d(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5)))
    return {"index": (slice(None),) * axis + (idx,)}


def _mask_kw(d, shp):
    whole = d(st.booleans())
    return {"index": d(hnp.arrays(bool, shp if whole else shp[:1]))}


def _matmul_inputs(s):
    return matmul_shapes(max_batch_dims=s.max_dims - 1, max_side=s.max_side).flatmap(
        lambda ab: st.tuples(_arr(ab[0]), _arr(ab[1]))
    ).map(lambda ab: (ab, {}))


@st.composite
def _linear_inputs(d, s):
    """x (..., in) with 0 to max_dims - 1 batch axes, W (in, out), b (out,)."""
    batch = d(shapes(0, s.max_dims - 1, 1, s.max_side))
    k, m = d(st.integers(1, s.max_side)), d(st.integers(1, s.max_side))
    return (d(_arr(batch + (k,))), d(_arr((k, m))), d(_arr((m,)))), {}


def _softmax_ref(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _lse_ref(x, axis, keepdims):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def _extremum(ref, name):  # max/min on tie-free values (ties are a kink: see test_gradcheck.py)
    return Case(name, lambda a, axis, keepdims: getattr(a, name)(axis=axis, keepdims=keepdims),
                lambda x, axis, keepdims: ref(x, axis=axis, keepdims=keepdims), reduction(min_gap=1 / 64))


POS = finite_floats(0.1, 3.0)  # log, sqrt
BASE = finite_floats(0.5, 2.0)  # fractional and tensor exponents
NONZERO = away_from([0.0], 0.5)  # divisors
OFF0 = away_from([0.0])  # relu, abs, leaky_relu

# --- the table --------------------------------------------------------------------------------

TABLE = [
    Case("add", lambda a, b: a + b, np.add, nary(None, None)),
    Case("sub", lambda a, b: a - b, np.subtract, nary(None, None)),
    Case("mul", lambda a, b: a * b, np.multiply, nary(None, None)),
    Case("div", lambda a, b: a / b, np.divide, nary(None, NONZERO)),
    Case("pow", lambda a, b: a**b, np.power, nary(BASE, None)),
    Case("pow_int", lambda a: a**3, lambda x: x**3, unary()),
    Case("pow_frac", lambda a: a**2.5, lambda x: x**2.5, unary(BASE)),
    Case("pow_neg", lambda a: a**-1.5, lambda x: x**-1.5, unary(BASE)),
    Case("pow_zero", lambda a: a**0, lambda x: x**0, unary()),
    Case("rpow", lambda a: 2.0**a, lambda x: 2.0**x, unary()),
    Case("radd", lambda a: 1.5 + a, lambda x: 1.5 + x, unary()),
    Case("rsub", lambda a: 1.5 - a, lambda x: 1.5 - x, unary()),
    Case("rmul", lambda a: 3.0 * a, lambda x: 3.0 * x, unary()),
    Case("rdiv", lambda a: 3.0 / a, lambda x: 3.0 / x, unary(NONZERO)),
    Case("rsub_array", lambda a, c: c - a, lambda x, c: c - x, nary(None, None, const=("c",))),
    Case("rmul_array", lambda a, c: c * a, lambda x, c: c * x, nary(None, None, const=("c",))),
    Case("rdiv_array", lambda a, c: c / a, lambda x, c: c / x, nary(NONZERO, None, const=("c",))),
    Case("neg", lambda a: -a, np.negative, unary()),
    Case("exp", ad.exp, np.exp, unary()),
    Case("log", ad.log, np.log, unary(POS)),
    Case("sqrt", lambda a: a.sqrt(), np.sqrt, unary(POS)),
    Case("abs", abs, np.abs, unary(OFF0)),
    Case("sin", ad.sin, np.sin, unary()),
    Case("cos", lambda a: a.cos(), np.cos, unary()),
    Case("tanh", ad.tanh, np.tanh, unary()),
    Case("sigmoid", lambda a: a.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), unary()),
    Case("relu", ad.relu, lambda x: np.maximum(x, 0), unary(OFF0)),
    Case("leaky_relu", lambda a: a.leaky_relu(0.1), lambda x: np.where(x > 0, x, 0.1 * x), unary(OFF0)),
    Case("leaky_relu_default", ad.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), unary(OFF0)),
    Case("softplus", ad.softplus, lambda x: np.log1p(np.exp(x)), unary()),
    Case("clip", lambda a: a.clip(-1, 1), lambda x: np.clip(x, -1, 1), unary(away_from([-1.0, 1.0]))),
    Case("clip_lo", lambda a: ad.clip(a, lo=0.5), lambda x: np.maximum(x, 0.5), unary(away_from([0.5]))),
    Case("maximum", ad.maximum, np.maximum, tie_free_pair),
    Case("minimum", ad.minimum, np.minimum, tie_free_pair),
    Case("maximum_const", lambda a: ad.maximum(a, 0.25), lambda x: np.maximum(x, 0.25), unary(away_from([0.25]))),
    Case("where", lambda a, b, cond: ad.where(cond, a, b), lambda a, b, cond: np.where(cond, a, b), where_inputs),
    Case("sum", lambda a, axis, keepdims: a.sum(axis=axis, keepdims=keepdims), np.sum, reduction()),
    Case("mean", lambda a, axis, keepdims: ad.mean(a, axis, keepdims), np.mean, reduction()),
    Case("var", lambda a, axis, keepdims, ddof: a.var(axis=axis, ddof=ddof, keepdims=keepdims), np.var, reduction(ddof=True)),
    _extremum(np.max, "max"),
    _extremum(np.min, "min"),
    Case("logsumexp", lambda a, axis, keepdims: a.logsumexp(axis, keepdims), _lse_ref, reduction()),
    Case("reshape", lambda a, shape: a.reshape(*shape), lambda x, shape: x.reshape(shape), with_kw(_reshape_kw)),
    Case("transpose", lambda a, axes: a.transpose(*axes), lambda x, axes: x.transpose(axes),
         with_kw(lambda d, shp: {"axes": tuple(d(st.permutations(range(len(shp)))))})),
    Case("T", lambda a: a.T, lambda x: x.T, unary()),
    Case("flatten", lambda a, start, end: a.flatten(start, end), _flatten_ref, with_kw(_flatten_kw)),
    Case("squeeze", lambda a, axis: a.squeeze(axis), lambda x, axis: np.squeeze(x, axis), with_kw(_squeeze_kw)),
    Case("unsqueeze", lambda a, axis: a.unsqueeze(axis), lambda x, axis: np.expand_dims(x, axis),
         with_kw(lambda d, shp: {"axis": d(st.integers(-len(shp) - 1, len(shp)))})),
    Case("broadcast_to", lambda a, shape: a.broadcast_to(shape), np.broadcast_to, with_kw(_broadcast_kw)),
    Case("concatenate", lambda *xs, axis: ad.concatenate(xs, axis), lambda *xs, axis: np.concatenate(xs, axis), _joined(False)),
    Case("stack", lambda *xs, axis: ad.stack(xs, axis), lambda *xs, axis: np.stack(xs, axis), _joined(True)),
    *[
        Case(f"pad_{m}", lambda a, pad_width, mode: a.pad(pad_width, mode),
             lambda x, pad_width, mode: np.pad(x, pad_width, mode=_NUMPY_PAD[mode]), with_kw(_pad_kw(m), min_dims=1))
        for m in MODES
    ],
    Case("getitem_basic", lambda a, index: a[index], lambda x, index: x[index], with_kw(_basic_index_kw)),
    Case("getitem_int_arrays", lambda a, index: a[index], lambda x, index: x[index], with_kw(_int_arrays_kw, 1)),
    Case("getitem_int_axis", lambda a, index: a[index], lambda x, index: x[index], with_kw(_int_axis_kw, 1)),
    Case("getitem_mask", lambda a, index: a[index], lambda x, index: x[index], with_kw(_mask_kw, 1)),
    Case("matmul", lambda a, b: a @ b, np.matmul, _matmul_inputs),
    Case("rmatmul_array", lambda b, a: a @ b, lambda b, a: a @ b,
         lambda s: _matmul_inputs(s).map(lambda ab: ((ab[0][1],), {"a": ab[0][0]}))),
    Case("linear", ad.linear, lambda x, w, b: x @ w + b, _linear_inputs),
    Case("softmax", lambda a, axis: ad.softmax(a, axis), _softmax_ref, with_kw(_axis_kw, 1)),
    Case("log_softmax", lambda a, axis: a.log_softmax(axis), lambda x, axis: np.log(_softmax_ref(x, axis)),
         with_kw(_axis_kw, 1)),
    Case("conv1d", ad.conv1d, conv_ref, lambda s: conv_inputs(s, 1)),
    Case("conv2d", ad.conv2d, conv_ref, lambda s: conv_inputs(s, 2)),
    Case("max_pool1d", ad.max_pool1d, pool_ref(np.max, 1), lambda s: pool_inputs(s, 1, True)),
    Case("max_pool2d", ad.max_pool2d, pool_ref(np.max, 2), lambda s: pool_inputs(s, 2, True)),
    Case("avg_pool1d", ad.avg_pool1d, pool_ref(np.mean, 1), lambda s: pool_inputs(s, 1, False)),
    Case("avg_pool2d", ad.avg_pool2d, pool_ref(np.mean, 2), lambda s: pool_inputs(s, 2, False)),
    Case("astype_float64", lambda a: a.astype(np.float64), lambda x: x.astype(np.float64), unary()),
    Case("astype_float32", lambda a: a.astype("float32"), lambda x: x.astype(np.float32), unary(), grad=False, scalar=False),
]

CASES = {c.name: c for c in TABLE}
assert len(CASES) == len(TABLE), "duplicate op names in the table"
