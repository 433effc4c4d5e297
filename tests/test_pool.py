"""max_pool1d/2d and avg_pool1d/2d: loops as the reference, finite differences for gradients, the
tie rule (first maximum in row-major window order) on both back ends, and error messages."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import autodiff as ad

POOLS = {
    ("max", 1): ad.max_pool1d, ("max", 2): ad.max_pool2d,
    ("avg", 1): ad.avg_pool1d, ("avg", 2): ad.avg_pool2d,
}


def reference_pool(x, kind, ksize, stride):
    """Output values, and for max the (row-major first) argmax position of every window."""
    sizes = x.shape[2:]
    out = [(n - k) // s + 1 for n, k, s in zip(sizes, ksize, stride)]
    y = np.zeros(x.shape[:2] + tuple(out))
    where = {}
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for pos in itertools.product(*(range(m) for m in out)):
            cells = [
                tuple(p * s + t for p, s, t in zip(pos, stride, tap))
                for tap in itertools.product(*(range(k) for k in ksize))
            ]
            vals = [x[(n, c, *cell)] for cell in cells]
            if kind == "avg":
                y[(n, c, *pos)] = sum(vals) / len(vals)
            else:
                best = int(np.argmax(vals))  # first maximum
                y[(n, c, *pos)] = vals[best]
                where[(n, c, *pos)] = (n, c, *cells[best])
    return y, where


@st.composite
def pool_cases(draw, max_side=7):
    d = draw(st.sampled_from([1, 2]))
    kind = draw(st.sampled_from(["max", "avg"]))
    ksize = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = None if draw(st.booleans()) else tuple(draw(st.integers(1, 3)) for _ in range(d))
    sizes = tuple(draw(st.integers(k, max(k, max_side))) for k in ksize)
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + sizes
    k_arg = ksize[0] if len(set(ksize)) == 1 and draw(st.booleans()) else ksize
    return dict(d=d, kind=kind, ksize=ksize, k_arg=k_arg, stride=stride, shape=shape, seed=draw(st.integers(0, 2**16)))


def _fn(case):
    pool = POOLS[case["kind"], case["d"]]
    return lambda x: pool(x, case["k_arg"], case["stride"])


def _values(case, ties=False):
    rng = np.random.default_rng(case["seed"])
    if ties:  # few distinct values: many windows hold their maximum more than once
        return rng.integers(0, 3, case["shape"]).astype(np.float64)
    return rng.standard_normal(case["shape"])


@given(pool_cases())
def test_forward_matches_loops(case):
    x = _values(case)
    got = _fn(case)(ad.Tensor(x))
    want, _ = reference_pool(x, case["kind"], case["ksize"], case["stride"] or case["ksize"])
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


@given(pool_cases())
def test_gradcheck(case):
    x = ad.Tensor(_values(case), requires_grad=True)
    assert ad.gradcheck(_fn(case), (x,))


@settings(max_examples=10)
@given(pool_cases(max_side=4))
def test_gradgradcheck(case):
    x = ad.Tensor(_values(case), requires_grad=True)
    assert ad.gradgradcheck(_fn(case), (x,))


@settings(max_examples=10)
@given(pool_cases(max_side=5), st.booleans())
def test_backends_agree_and_ties_go_to_the_first_maximum(case, ties):
    x = _values(case, ties)
    g = np.random.default_rng(1).standard_normal(_fn(case)(x).shape)
    grads = []
    for backend in ("numpy", "scalar"):
        t = ad.Tensor(x, requires_grad=True, backend=backend)
        y = _fn(case)(t)
        y.backward(g)
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-15)
    if case["kind"] == "max":
        _, where = reference_pool(x, "max", case["ksize"], case["stride"] or case["ksize"])
        want = np.zeros(x.shape)
        for pos, cell in where.items():
            want[cell] += g[pos]
        np.testing.assert_allclose(grads[0], want, rtol=1e-12, atol=1e-15)


def test_tie_rule_by_hand():
    x = np.array([[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 1.0, 3.0]]]])  # two windows, ties in both
    for backend in ("numpy", "scalar"):
        t = ad.Tensor(x, requires_grad=True, backend=backend)
        ad.max_pool2d(t, 2).sum().backward()
        np.testing.assert_array_equal(t.grad.numpy()[0, 0], [[0, 1, 1, 0], [0, 0, 0, 0]])


def test_nan_propagates():
    x = ad.Tensor([[[1.0, np.nan, 2.0, 0.5]]], requires_grad=True)
    y = ad.max_pool1d(x, 2)
    assert np.isnan(y.numpy()[0, 0, 0]) and y.numpy()[0, 0, 1] == 2.0
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(x.grad.numpy(), [[[0, 1, 1, 0]]])


def test_remainder_dropped_and_overlap_accumulates():
    assert ad.max_pool2d(ad.zeros(1, 1, 7, 5), 2).shape == (1, 1, 3, 2)
    assert ad.avg_pool1d(ad.zeros(2, 3, 10), 3, stride=2).shape == (2, 3, 4)
    x = ad.Tensor([[[0.0, 5.0, 1.0, 0.0]]], requires_grad=True)  # the 5 wins both overlapping windows
    ad.max_pool1d(x, 2, stride=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[0, 2, 1, 0]]])


def test_unbatched_and_float32():
    x = ad.Tensor(np.arange(32.0).reshape(2, 4, 4), dtype=np.float32, requires_grad=True)
    y = ad.avg_pool2d(x, 2)
    assert y.shape == (2, 2, 2) and y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 4, 4), 0.25))


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: ad.max_pool2d(ad.zeros(1, 1, 3, 5), 4), ValueError, ["max_pool2d", "(4, 4)", "(1, 1, 3, 5)"]),
        (lambda: ad.avg_pool1d(ad.zeros(1, 1, 2, 5), 2), ValueError, ["avg_pool1d", "(N, C, L)", "(1, 1, 2, 5)"]),
        (lambda: ad.max_pool1d(ad.zeros(1, 1, 5), 0), ValueError, ["max_pool1d", "kernel_size"]),
        (lambda: ad.avg_pool2d(ad.zeros(1, 1, 5, 5), (2, 2, 2)), TypeError, ["avg_pool2d", "kernel_size"]),
        (lambda: ad.max_pool2d(ad.zeros(1, 1, 5, 5), 2, stride=0), ValueError, ["max_pool2d", "stride"]),
    ],
)
def test_errors(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_scalar_backend_first_and_second_order():
    x = ad.Tensor(np.random.default_rng(4).standard_normal((1, 2, 5)), requires_grad=True, backend="scalar")
    for f in (lambda x: ad.max_pool1d(x, 2, stride=1) ** 2, lambda x: ad.avg_pool1d(x, 3, stride=2) ** 2):
        assert ad.gradcheck(f, (x,))
        assert ad.gradgradcheck(f, (x,))
