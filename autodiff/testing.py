"""Property-testing helpers: hypothesis strategies for shapes and Tensors, ``check_grads`` and
``check_backends`` (this module needs ``hypothesis``, a test dependency).

Property-test a custom op (say ``Cube``, an ``ad.Function``) in three lines:

>>> from autodiff.testing import broadcastable_tensors, check_grads, tensors
>>> check_grads(Cube.apply, tensors())                       # gradcheck on every drawn Tensor
>>> check_grads(lambda a, b: a * b, broadcastable_tensors(2), order=2)  # and second derivatives

``check_backends(fn, *inputs)`` runs ``fn`` on the numpy and the scalar back end and compares
values, first and second derivatives.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings as _settings, strategies as st
from hypothesis.extra import numpy as hnp

from autodiff._crosscheck import check_backends
from autodiff.gradcheck import gradcheck, gradgradcheck
from autodiff.tensor import BACKENDS, Tensor

__all__ = [
    "shapes", "broadcastable_shapes", "matmul_shapes", "finite_floats", "away_from", "tensors",
    "broadcastable_tensors", "check_grads", "check_backends",
]

_LO, _HI = -2.0, 2.0  # the default value range: exp, products and powers stay modest


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Array shapes (tuples) with ``min_dims..max_dims`` axes of length ``min_side..max_side``."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(n, min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Tuples of ``n`` shapes that broadcast together under NumPy's rules (different numbers of
    axes, size-1 axes stretched against longer ones)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda b: b.input_shapes)


def matmul_shapes(max_batch_dims=2, min_side=1, max_side=4):
    """Pairs of shapes ``(a, b)`` valid for ``a @ b``: 1-D and 2-D operands and stacks of matrices
    whose batch axes broadcast (NumPy's ``matmul`` rules)."""
    return hnp.mutually_broadcastable_shapes(
        signature=np.matmul.signature, max_dims=max_batch_dims, min_side=min_side, max_side=max_side
    ).map(lambda b: b.input_shapes)


def finite_floats(min_value=_LO, max_value=_HI):
    """Finite float64 values in ``[min_value, max_value]`` (no nan, inf or subnormals)."""
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def away_from(points, margin=1e-3, min_value=_LO, max_value=_HI):
    """Floats in ``[min_value, max_value]`` at least ``margin`` from every one of ``points``
    (keeps inputs off kinks: ``away_from([0])`` for relu and abs, ``away_from([lo, hi])`` for clip).
    The margin must exceed gradcheck's ``eps``."""
    points = np.atleast_1d(np.asarray(points, dtype=np.float64))

    def push(x):
        for p in points:
            if abs(x - p) < margin:
                x = p + margin if x >= p else p - margin
        return x

    return finite_floats(min_value, max_value).map(push).filter(
        lambda x: min_value <= x <= max_value and bool(np.all(np.abs(x - points) >= margin))
    )


def _gapped(min_gap, min_value, max_value):
    k = int(np.floor((max_value - min_value) / min_gap))
    return st.integers(0, k).map(lambda i: min_value + i * min_gap)


def _maybe(value, strategy_type=st.SearchStrategy):
    return value if isinstance(value, strategy_type) else st.just(value)


def tensors(shape=None, elements=None, backend="numpy", dtype=np.float64, requires_grad=True, min_gap=None):
    """Tensors of ``shape`` (a tuple or a strategy of tuples; default ``shapes()``) holding
    ``elements`` (a strategy of floats; default finite values in [-2, 2]).

    ``backend`` may be a name or a strategy (``st.sampled_from(ad.BACKENDS)``). With ``min_gap``
    the values are pairwise at least ``min_gap`` apart, on a grid in [-2, 2] (no ties, for max,
    min and other order-dependent ops); the shape must then have at most ``4 / min_gap`` elements.
    """
    if min_gap is not None and elements is not None:
        raise ValueError("tensors: give elements or min_gap, not both")
    shape = shapes() if shape is None else _maybe(shape)
    values = _gapped(min_gap, _LO, _HI) if min_gap is not None else (elements if elements is not None else finite_floats())
    backend = _maybe(backend)

    @st.composite
    def draw(draw_):
        shp = draw_(shape)
        be = draw_(backend)
        if be not in BACKENDS:
            raise ValueError(f"tensors: unknown back end {be!r}")
        arr = draw_(hnp.arrays(np.float64, shp, elements=values, unique=min_gap is not None))
        return Tensor(arr.astype(dtype), requires_grad=requires_grad, backend=be)

    return draw()


def broadcastable_tensors(n, elements=None, backend="numpy", requires_grad=True, **shape_args):
    """Tuples of ``n`` Tensors whose shapes broadcast together (``shape_args`` as for
    ``broadcastable_shapes``); ``check_grads`` passes a tuple's Tensors as separate arguments."""
    return broadcastable_shapes(n, **shape_args).flatmap(
        lambda shps: st.tuples(*(tensors(s, elements, backend, requires_grad=requires_grad) for s in shps))
    )


_CHECK_KEYS = ("eps", "atol", "rtol")


def check_grads(fn, *strategies, order=1, **settings):
    """Property-test ``fn``: ``gradcheck`` (and with ``order=2`` ``gradgradcheck``) at every input
    drawn from ``strategies``, one argument per strategy (a strategy that yields a tuple gives
    several). ``eps``, ``atol`` and ``rtol`` go to the checks, other keywords to hypothesis's
    ``settings`` (``max_examples=...``); the active hypothesis profile is the default. Raises
    ``GradcheckError`` (after hypothesis shrinks the input) on failure; returns None.
    """
    if order not in (1, 2):
        raise ValueError(f"check_grads: order must be 1 or 2, got {order!r}")
    if not strategies:
        raise TypeError("check_grads: give one strategy per argument of fn")
    tol = {k: settings.pop(k) for k in _CHECK_KEYS if k in settings}

    @_settings(**settings)
    @given(st.tuples(*strategies))
    def prop(drawn):
        args = []
        for a in drawn:
            args.extend(a if isinstance(a, tuple) else (a,))
        gradcheck(fn, tuple(args), **tol)
        if order == 2:
            gradgradcheck(fn, tuple(args), **tol)

    prop()
