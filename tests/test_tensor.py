"""Tensor construction, dtypes, back-end conversion, creation functions, indexing gradients and
numerical stability (API.md §2)."""

import numpy as np
import pytest

import autodiff as ad

BOTH = pytest.mark.parametrize("backend", ad.BACKENDS)


@BOTH
def test_construction_and_dtypes(backend):
    assert ad.Tensor(3, backend=backend).dtype == np.float64  # Python numbers and lists: float64
    assert ad.Tensor([1, 2], backend=backend).dtype == np.float64
    assert ad.Tensor(np.arange(3), backend=backend).dtype == np.int64  # ndarrays keep theirs
    assert ad.Tensor(np.array([True]), backend=backend).dtype == np.bool_
    t = ad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, backend=backend)
    assert (t.shape, t.ndim, t.size, t.backend, t.requires_grad, t.is_leaf, t.grad) == ((2, 2), 2, 4, backend, True, True, None)
    for arr in (t.numpy(), np.asarray(t)):
        assert type(arr) is np.ndarray and arr.dtype == np.float64
        np.testing.assert_array_equal(arr, [[1.0, 2.0], [3.0, 4.0]])
    assert t[1, 0].item() == 3.0 and isinstance(t[1, 0].item(), float)
    src = np.ones(2)
    u = ad.Tensor(src, backend=backend)
    src[0] = 5.0  # a Tensor never aliases the caller's array
    assert u.numpy()[0] == 1.0
    with pytest.raises(ValueError, match="back end"):
        ad.Tensor([1.0], backend="torch")


def test_float32_is_kept_through_forward_and_backward():
    x = ad.Tensor(np.ones((2, 3)), dtype=np.float32, requires_grad=True)
    w = ad.Tensor(np.full((3, 2), 0.5, dtype=np.float32), requires_grad=True)
    h = ((x @ w).tanh() * 2 + 1).log_softmax(-1)
    y = (h[:, 0] ** 2).mean() + ad.var(x) + ad.relu(x - 0.5).max() + ad.pad(x, 1, "mirror").sum()
    assert h.dtype == np.float32 and y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32
    assert ad.Tensor([1.0], dtype="float32").dtype == np.float32
    assert ad.zeros(2, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="float64"):
        ad.Tensor([1.0], dtype=np.float32, backend="scalar")


def test_to_round_trip():
    x = ad.Tensor([[1.0, -2.0]], requires_grad=True)
    s = x.to("scalar")
    assert s.backend == "scalar" and s.requires_grad and s.is_leaf
    assert all(isinstance(v, ad.Scalar) for v in s.data.ravel())
    back = s.to("numpy")
    assert back.backend == "numpy" and back.requires_grad
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    assert x.to("numpy") is x
    (s * s).sum().backward()  # the copy is a leaf of its own: x is untouched
    np.testing.assert_array_equal(s.grad.numpy(), [[2.0, -4.0]])
    assert x.grad is None
    assert not ad.Tensor([1.0]).to("scalar").requires_grad


@BOTH
def test_creation_functions(backend):
    kw = {"backend": backend}
    assert ad.zeros(2, 3, **kw).shape == (2, 3) and ad.zeros((2, 3), **kw).shape == (2, 3)
    np.testing.assert_array_equal(ad.ones(2, **kw).numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(ad.full((2,), fill_value=7.0, **kw).numpy(), [7.0, 7.0])
    np.testing.assert_array_equal(ad.arange(3, **kw).numpy(), [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(ad.eye(2, **kw).numpy(), np.eye(2))
    r = ad.randn(2, 3, rng=np.random.default_rng(5), requires_grad=True, **kw)
    np.testing.assert_array_equal(r.numpy(), np.random.default_rng(5).standard_normal((2, 3)))
    assert r.requires_grad and r.backend == backend
    u = ad.rand(4, rng=np.random.default_rng(5), **kw).numpy()
    assert np.all((0 <= u) & (u < 1))
    ad.manual_seed(3)
    a = ad.randn(3, **kw).numpy()
    ad.manual_seed(3)
    np.testing.assert_array_equal(a, ad.randn(3, **kw).numpy())
    z = ad.zeros_like(r)
    assert z.shape == r.shape and z.backend == backend and not z.requires_grad
    assert ad.ones_like(r).numpy().sum() == 6.0
    with pytest.raises(ValueError):
        ad.zeros(-1)


@BOTH
def test_comparisons_and_argmax_are_not_differentiable(backend):
    x = ad.Tensor([1.0, 3.0, 2.0], requires_grad=True, backend=backend)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal(m.numpy(), [False, True, True])
    assert (x == x).numpy().all() and not (x != 2.0).numpy()[2]
    assert x.argmax().item() == 1 and ad.argmin(x).item() == 0
    y = ad.where(m, x, 0.0).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0])


@BOTH
def test_indexing_gradients_scatter_back_and_repeats_accumulate(backend):
    x = ad.Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True, backend=backend)
    y = x[[0, 0, 2, 0], 1].sum() + x[np.array([[1, 1], [2, 1]])].sum() * 10 + x[x.numpy() > 9.5].sum() * 100
    y.backward()
    expected = np.zeros((3, 4))
    expected[0, 1] += 3
    expected[2, 1] += 1
    expected[1] += 30
    expected[2] += 10
    expected[2, 2:] += 100
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    x.grad = None
    x[..., None, 1:3][::2].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 1, 0], [0, 0, 0, 0], [0, 1, 1, 0]])
    i = ad.Tensor(np.array([2, 2]), backend=backend)  # an integer Tensor as an index
    assert x[i].shape == (2, 4)


@BOTH
@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_softmax_family_is_stable_at_large_magnitude(backend, scale):
    v = np.array([[1.0, -1.0, 0.0, 0.999], [0.5, 0.5, -1.0, 1.0]]) * scale
    x = ad.Tensor(v, requires_grad=True, backend=backend)
    shifted = v - v.max(axis=1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(ad.log_softmax(x, axis=1).numpy(), shifted - lse, rtol=1e-12)
    np.testing.assert_allclose(ad.softmax(x, axis=1).numpy(), np.exp(shifted - lse), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(x.logsumexp(axis=1).numpy(), (lse + v.max(axis=1, keepdims=True))[:, 0], rtol=1e-12)
    out = ad.log_softmax(x, axis=1)[:, 0].sum() + ad.softmax(x, axis=1)[:, 3].sum() + x.logsumexp()
    out.backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    assert ad.gradcheck(lambda t: ad.log_softmax(t, axis=1), (x,), eps=1e-3)


@BOTH
def test_repr_and_len(backend):
    x = ad.Tensor([[1.0, 2.0]], requires_grad=True, backend=backend)
    assert "Tensor(" in repr(x) and "requires_grad=True" in repr(x)
    assert len(x) == 1 and [r.shape for r in x] == [(2,)]
    assert "op=" in repr(x * 2)
