"""Every op of tests/op_table.py: forward against NumPy, gradients against finite differences
(first and second order), and the scalar back end against the numpy one."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from op_table import NUMPY, SCALAR, TABLE

import autodiff as ad
from autodiff.testing import check_backends

GRAD = [c for c in TABLE if c.grad]
SMOOTH = [c for c in GRAD if c.smooth]
ON_SCALAR = [c for c in TABLE if c.scalar]
# the scalar back end is slow: half the profile's examples, on smaller inputs
fewer = settings(max_examples=max(4, settings().max_examples // 2))


def _ids(cases):
    return [c.name for c in cases]


def _tensors(arrays, backend="numpy"):
    return [ad.Tensor(a, requires_grad=True, backend=backend) for a in arrays]


def _bind(case, kw):
    fn = lambda *ts: case.fn(*ts, **kw)  # noqa: E731
    fn.__qualname__ = case.name  # gradcheck's message names the op
    return fn


@pytest.mark.parametrize("case", TABLE, ids=_ids(TABLE))
@given(data=st.data())
def test_forward_matches_numpy(case, data):
    arrays, kw = data.draw(case.inputs(NUMPY), label="inputs")
    expected = np.asarray(case.ref(*arrays, **kw))
    out = case.fn(*_tensors(arrays), **kw)
    assert isinstance(out, ad.Tensor)
    assert out.shape == expected.shape
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-14)
    if case.grad:
        assert out.requires_grad and out.op


@pytest.mark.parametrize("case", GRAD, ids=_ids(GRAD))
@given(data=st.data())
def test_gradcheck(case, data):
    arrays, kw = data.draw(case.inputs(NUMPY), label="inputs")
    assert ad.gradcheck(_bind(case, kw), _tensors(arrays))


@pytest.mark.parametrize("case", SMOOTH, ids=_ids(SMOOTH))
@given(data=st.data())
def test_gradgradcheck(case, data):
    arrays, kw = data.draw(case.inputs(NUMPY), label="inputs")
    assert ad.gradgradcheck(_bind(case, kw), _tensors(arrays))


@pytest.mark.parametrize("case", ON_SCALAR, ids=_ids(ON_SCALAR))
@fewer
@given(data=st.data())
def test_scalar_backend_matches_numpy(case, data):
    # values, gradients and (where smooth) Hessian-vector products agree to 1e-10
    arrays, kw = data.draw(case.inputs(SCALAR), label="inputs")
    order = 0 if not case.grad else (2 if case.smooth else 1)
    check_backends(_bind(case, kw), *arrays, order=order)
    out = case.fn(*_tensors(arrays, "scalar"), **kw)
    assert out.backend == "scalar"
    np.testing.assert_allclose(out.numpy(), case.ref(*arrays, **kw), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", [c for c in GRAD if c.scalar], ids=_ids([c for c in GRAD if c.scalar]))
@fewer
@given(data=st.data())
def test_gradcheck_scalar(case, data):
    arrays, kw = data.draw(case.inputs(SCALAR), label="inputs")
    assert ad.gradcheck(_bind(case, kw), _tensors(arrays, "scalar"))


F32 = [c for c in GRAD if not c.name.startswith("astype")]


@pytest.mark.parametrize("case", F32, ids=_ids(F32))
@fewer
@given(data=st.data())
def test_float32_is_kept_through_forward_and_backward(case, data):
    arrays, kw = data.draw(case.inputs(NUMPY), label="inputs")
    f32 = lambda v: v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float64 else v  # noqa: E731
    xs = [ad.Tensor(f32(a), requires_grad=True) for a in arrays]
    out = case.fn(*xs, **{k: f32(v) for k, v in kw.items()})
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), case.ref(*arrays, **kw), rtol=2e-5, atol=1e-5)
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert all(x.grad.dtype == np.float32 for x in xs)


@pytest.mark.parametrize("shape", [(31, 5), (32, 5), (64, 16), (64, 17), (100, 1), (40, 3, 2)])
@pytest.mark.parametrize("view", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64])
def test_kept_reduce_matches_numpy_on_both_sides_of_its_fast_path(shape, view, dtype):
    # (float32/float64 sums of short rows are a product with ones; other dtypes and maxima
    # reduce a transposed copy; the rest is NumPy's own reduction)
    from autodiff.ops.reduce import kept_reduce

    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    if view:  # a non-contiguous view: every second row of a taller array
        x = np.repeat(x, 2, axis=0)[::2]
    tol = 1e-2 if dtype == np.float16 else 1e-6
    for axis in {-1, x.ndim - 1, 0}:
        np.testing.assert_array_equal(kept_reduce(np.maximum, x, axis), np.maximum.reduce(x, axis=axis, keepdims=True))
        for keepdims in (True, False):
            want = np.add.reduce(x, axis=axis, keepdims=keepdims)
            got = kept_reduce(np.add, x, axis, keepdims)
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kept_reduce_sums_carry_nan_and_inf_as_numpy_does(dtype):
    from autodiff.ops.reduce import kept_reduce

    x = np.ones((40, 5), dtype=dtype)
    x[3, 1], x[7, 0], x[9, 2], x[9, 4] = np.nan, np.inf, np.inf, -np.inf
    with np.errstate(invalid="ignore"):  # inf - inf warns either way
        np.testing.assert_array_equal(kept_reduce(np.add, x, 1), np.add.reduce(x, axis=1, keepdims=True))


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("shape", [(40, 5), (40, 17), (31, 5)])
def test_row_reductions_on_both_sides_of_the_short_row_path(name, shape):
    # 40 x 5 takes kept_reduce's transposed path, the others NumPy's; same values, same gradients.
    x = np.random.default_rng(3).standard_normal(shape)
    for axis in (1, -1):
        for keepdims in (False, True):
            got = getattr(ad, name)(ad.Tensor(x), axis=axis, keepdims=keepdims).numpy()
            want = getattr(np, name)(x, axis=axis, keepdims=keepdims)
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    t = ad.Tensor(x, requires_grad=True)
    assert ad.gradcheck(lambda a: getattr(ad, name)(a, axis=1) ** 2, (t,))


@pytest.mark.parametrize("fn", [
    lambda x: ad.log_softmax(x, axis=-1),
    lambda x: ad.softmax(x, axis=1),
    lambda x: ad.nn.cross_entropy(x, np.arange(40) % 5),
    lambda x: ad.nn.cross_entropy(x, ad.nn.one_hot(np.arange(40) % 5, 5) * 0.5 + 0.1),
    lambda x: x.logsumexp(axis=1),
])
def test_softmax_family_gradients_on_many_short_rows(fn):
    # 40 rows of 5 classes take the transposed-reduction path (kept_reduce) the drawn inputs
    # of the op table are too small for.
    x = ad.Tensor(np.random.default_rng(2).standard_normal((40, 5)) * 3, requires_grad=True)
    assert ad.gradcheck(fn, (x,))
    assert ad.gradgradcheck(fn, (x,))


def test_broadcast_to_of_one_value_is_a_read_only_view_and_keeps_numpys_rules():
    for shape_in in [(), (1,), (1, 1)]:
        t = ad.Tensor(np.full(shape_in, 2.5)).broadcast_to((3, 4))
        np.testing.assert_array_equal(t.numpy(), np.full((3, 4), 2.5))
        assert not t.numpy().flags.writeable
    with pytest.raises(ValueError, match="broadcast_to"):  # more axes than the target: NumPy refuses
        ad.Tensor(np.ones((1, 1, 1))).broadcast_to((3,))
