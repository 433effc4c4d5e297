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
