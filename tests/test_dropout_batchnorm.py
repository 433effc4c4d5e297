"""dropout and batch_norm: statistics with fixed seeds, gradients against finite differences, the
two back ends against each other, running statistics against NumPy formulas, and errors."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import autodiff as ad

# --- dropout ----------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p):
    x = ad.ones(200, 500)
    y = ad.dropout(x, p, rng=np.random.default_rng(0)).numpy()
    dropped = np.mean(y == 0)
    # 100000 Bernoulli draws: the fraction is within 5 standard deviations of p
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / y.size)
    assert set(np.unique(y)) <= {0.0, np.float64(1 / (1 - p))}
    assert abs(y.mean() - 1.0) < 5 * np.sqrt(p / (1 - p) / y.size)  # inverted dropout keeps the mean


def test_dropout_backward_uses_the_forward_mask():
    x = ad.Tensor(np.random.default_rng(1).standard_normal((6, 7)), requires_grad=True)
    y = ad.dropout(x, 0.4, rng=np.random.default_rng(2))
    y.backward(np.ones(y.shape))
    np.testing.assert_allclose(x.grad.numpy(), y.numpy() / x.numpy())


def test_dropout_gradcheck_and_gradgradcheck():
    x = ad.Tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    f = lambda x: ad.dropout(x, 0.3, rng=np.random.default_rng(5)) ** 2  # the same mask on every call
    assert ad.gradcheck(f, (x,))
    assert ad.gradgradcheck(f, (x,))


def test_dropout_manual_seed_and_backends():
    values = np.random.default_rng(3).standard_normal((4, 5))
    ad.manual_seed(11)
    a = ad.dropout(ad.Tensor(values), 0.5)
    b = ad.dropout(ad.Tensor(values), 0.5)
    ad.manual_seed(11)
    xs = ad.Tensor(values, requires_grad=True, backend="scalar")
    c = ad.dropout(xs, 0.5)
    assert not np.array_equal(a.numpy(), b.numpy())  # the generator moves on
    np.testing.assert_allclose(c.numpy(), a.numpy())  # same seed, same mask, on the scalar back end
    c.sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), (a.numpy() != 0) * 2.0)


def test_dropout_identity_and_dtype():
    x = ad.Tensor(np.ones((3, 3)), dtype=np.float32, requires_grad=True)
    assert ad.dropout(x, 0.5, training=False) is x
    assert ad.dropout(x, 0.0) is x
    assert ad.dropout(x, 0.5, rng=np.random.default_rng(0)).dtype == np.float32


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, "0.5", None])
def test_dropout_bad_p(p):
    with pytest.raises(ValueError, match="dropout: p"):
        ad.dropout(ad.ones(2, 2), p)


def test_dropout_bad_rng():
    with pytest.raises(TypeError, match="dropout: rng"):
        ad.dropout(ad.ones(2, 2), 0.5, rng=np.random.RandomState(0))


# --- batch_norm -------------------------------------------------------------------------------


@st.composite
def bn_cases(draw, max_batch=4):
    spatial = draw(st.sampled_from([(), (2, 2), (1, 3)]))
    shape = (draw(st.integers(2, max_batch)), draw(st.integers(1, 3))) + spatial
    return dict(shape=shape, affine=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


def _bn_inputs(case, backend="numpy"):
    rng = np.random.default_rng(case["seed"])
    c = case["shape"][1]
    x = ad.Tensor(rng.standard_normal(case["shape"]) * 2 + 1, requires_grad=True, backend=backend)
    if not case["affine"]:
        return [x]
    w = ad.Tensor(rng.standard_normal(c), requires_grad=True, backend=backend)
    b = ad.Tensor(rng.standard_normal(c), requires_grad=True, backend=backend)
    return [x, w, b]


def _bn(training, running=None):
    rm, rv = running if running is not None else (None, None)
    return lambda x, w=None, b=None: ad.batch_norm(x, rm, rv, w, b, training)


def _numpy_bn(x, mean, var, w, b, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return y * w.reshape(shape) + b.reshape(shape)


@given(bn_cases())
def test_batch_norm_gradcheck(case):
    assert ad.gradcheck(_bn(True), _bn_inputs(case))
    running = (np.random.default_rng(0).standard_normal(case["shape"][1]), np.full(case["shape"][1], 0.7))
    assert ad.gradcheck(_bn(False, running), _bn_inputs(case))


@settings(max_examples=10)
@given(bn_cases(max_batch=3))
def test_batch_norm_gradgradcheck(case):
    assert ad.gradgradcheck(_bn(True), _bn_inputs(case))


@settings(max_examples=8)
@given(bn_cases(max_batch=3))
def test_batch_norm_backends_agree(case):
    tn, ts = _bn_inputs(case), _bn_inputs(case, "scalar")
    yn, ys = _bn(True)(*tn), _bn(True)(*ts)
    np.testing.assert_allclose(ys.numpy(), yn.numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(1).standard_normal(yn.shape)
    yn.backward(g)
    ys.backward(g)
    for a, b in zip(tn, ts):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5, 2)])
def test_batch_norm_rule_from_the_forward_1_over_sigma_survives_a_second_pass(shape):
    # The rule reuses the forward's 1/σ; a second pass (retain_graph) gets the same gradient,
    # and the rule without it (saved=None) computes the same.
    from autodiff.ops.regularize import _normalize_rule

    x = ad.Tensor(np.random.default_rng(2).standard_normal(shape) * 3 + 1, requires_grad=True)
    y = ad.batch_norm(x, None, None, training=True)
    g = np.random.default_rng(3).standard_normal(shape)
    y.backward(g, retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-12)
    axes = (0,) + tuple(range(2, len(shape)))
    alone = _normalize_rule(g, y.numpy(), x.numpy(), axes, 1e-5)
    np.testing.assert_allclose(alone, first, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5, 2)])
def test_batch_norm_forward_and_running_statistics(shape):
    rng = np.random.default_rng(0)
    c = shape[1]
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = np.zeros(c), np.ones(c)
    want_m, want_v = rm.copy(), rv.copy()
    axes = (0,) + tuple(range(2, len(shape)))
    for step in range(3):
        x = rng.standard_normal(shape) * (step + 1) + step
        y = ad.batch_norm(ad.Tensor(x), rm, rv, ad.Tensor(w), ad.Tensor(b), True, momentum=0.2)
        mean, var = x.mean(axis=axes), x.var(axis=axes)  # biased variance normalises
        np.testing.assert_allclose(y.numpy(), _numpy_bn(x, mean, var, w, b), rtol=1e-10, atol=1e-12)
        n = x.size // c
        want_m = 0.8 * want_m + 0.2 * mean
        want_v = 0.8 * want_v + 0.2 * var * n / (n - 1)  # unbiased variance is tracked
        np.testing.assert_allclose(rm, want_m, rtol=1e-12)
        np.testing.assert_allclose(rv, want_v, rtol=1e-12)
    x = rng.standard_normal(shape)
    y = ad.batch_norm(ad.Tensor(x), rm, rv, w, b, training=False)
    np.testing.assert_allclose(y.numpy(), _numpy_bn(x, rm, rv, w, b), rtol=1e-10)
    np.testing.assert_allclose(rm, want_m)  # evaluation leaves the buffers alone


def test_batch_norm_float32_and_no_affine():
    x = ad.Tensor(np.random.default_rng(0).standard_normal((5, 2, 3, 3)), dtype=np.float32, requires_grad=True)
    rm, rv = np.zeros(2, np.float32), np.ones(2, np.float32)
    y = ad.batch_norm(x, rm, rv, None, None, True)
    assert y.dtype == np.float32 and rm.dtype == np.float32
    np.testing.assert_allclose(y.numpy().mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.numpy().std(axis=(0, 2, 3)), 1, atol=1e-3)
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: ad.batch_norm(ad.zeros(4), None, None, training=True), ValueError, ["batch_norm", "(N, C)", "(4,)"]),
        (lambda: ad.batch_norm(ad.zeros(4, 3), np.zeros(2), np.ones(2), training=True), ValueError,
         ["batch_norm", "running_mean", "(3,)", "(4, 3)"]),
        (lambda: ad.batch_norm(ad.zeros(4, 3), [0, 0, 0], np.ones(3), training=True), TypeError,
         ["batch_norm", "running_mean"]),
        (lambda: ad.batch_norm(ad.zeros(4, 3), np.zeros(3), None, training=True), ValueError, ["batch_norm", "both"]),
        (lambda: ad.batch_norm(ad.zeros(4, 3), None, None, training=False), ValueError, ["batch_norm", "evaluation"]),
        (lambda: ad.batch_norm(ad.zeros(1, 3), None, None, training=True), ValueError,
         ["batch_norm", "more than 1 value", "(1, 3)"]),
        (lambda: ad.batch_norm(ad.zeros(4, 3), None, None, ad.ones(4), training=True), ValueError,
         ["batch_norm", "weight", "(3,)", "(4,)"]),
    ],
)
def test_batch_norm_errors(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_batch_norm_of_float16_computes_its_statistics_in_float32():
    # (x - mean)² of float16 values spread over more than 256 overflows float16 (max 65504);
    # like PyTorch, the normalisation runs in float32 and the result is float16 again.
    x64 = np.random.default_rng(4).standard_normal((16, 3)) * 600
    x = ad.Tensor(x64.astype(np.float16), requires_grad=True)
    y = ad.batch_norm(x, None, None, training=True)
    assert y.dtype == np.float16
    want = (x64 - x64.mean(0)) / np.sqrt(x64.var(0) + 1e-5)
    np.testing.assert_allclose(y.numpy().astype(np.float64), want, atol=2e-2)
    w = np.arange(48.0).reshape(16, 3)
    (y * ad.Tensor(w.astype(np.float16))).sum().backward()
    ref = ad.Tensor(x.numpy().astype(np.float64), requires_grad=True)
    (ad.batch_norm(ref, None, None, training=True) * ad.Tensor(w)).sum().backward()
    assert x.grad.dtype == np.float16
    np.testing.assert_allclose(x.grad.numpy().astype(np.float64), ref.grad.numpy(), rtol=2e-2, atol=1e-4)
