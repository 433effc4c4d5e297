"""Losses and penalties against direct NumPy formulas, finite differences and the scalar back end."""

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
from autodiff import nn

RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((5, 4))
LABELS = np.array([0, 3, 1, 1, 2])
PROBS = RNG.dirichlet(np.ones(4), size=5)


def _np_log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _reduced(v, reduction):
    return {"mean": v.mean(), "sum": v.sum(), "none": v}[reduction]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_numpy_and_gradchecks(reduction):
    per_row = -_np_log_softmax(LOGITS)[np.arange(5), LABELS]
    got = nn.cross_entropy(ad.Tensor(LOGITS), LABELS, reduction=reduction).numpy()
    np.testing.assert_allclose(got, _reduced(per_row, reduction), rtol=1e-12)
    soft = -(PROBS * _np_log_softmax(LOGITS)).sum(axis=1)
    got = nn.cross_entropy(ad.Tensor(LOGITS), PROBS, reduction=reduction).numpy()
    np.testing.assert_allclose(got, _reduced(soft, reduction), rtol=1e-12)
    x = ad.Tensor(LOGITS, requires_grad=True)
    assert ad.gradcheck(lambda z: nn.cross_entropy(z, LABELS, reduction=reduction), (x,))
    assert ad.gradcheck(lambda z: nn.cross_entropy(z, PROBS * 1.5, reduction=reduction), (x,))  # rows not summing to 1


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    x = ad.Tensor(LOGITS, requires_grad=True)
    nn.cross_entropy(x, LABELS).backward()
    p = np.exp(_np_log_softmax(LOGITS))
    np.testing.assert_allclose(x.grad.numpy(), (p - np.eye(4)[LABELS]) / 5, rtol=1e-12, atol=1e-15)


def test_cross_entropy_second_order():
    x = ad.Tensor(RNG.standard_normal((3, 3)), requires_grad=True)
    assert ad.gradgradcheck(lambda z: nn.cross_entropy(z, [0, 2, 1]), (x,))
    assert ad.gradgradcheck(lambda z: nn.cross_entropy(z, np.full((3, 3), 1 / 3), reduction="none"), (x,))


def test_cross_entropy_is_stable_for_huge_logits():
    z = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4]])
    x = ad.Tensor(z, requires_grad=True)
    loss = nn.cross_entropy(x, [1, 2], reduction="none")
    np.testing.assert_allclose(loss.numpy(), [1e4, np.log(2)])
    loss.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    np.testing.assert_allclose(x.grad.numpy(), [[1, -1, 0], [0, 0.5, -0.5]], atol=1e-12)


def test_cross_entropy_target_forms():
    x = ad.Tensor(LOGITS)
    ref = nn.cross_entropy(x, LABELS).item()
    assert nn.cross_entropy(x, LABELS.tolist()).item() == ref
    assert nn.cross_entropy(x, ad.Tensor(LABELS)).item() == ref  # integer Tensor
    assert nn.cross_entropy(x, ad.Tensor(LABELS.tolist())).item() == ref  # float Tensor of indices
    np.testing.assert_allclose(nn.cross_entropy(x, nn.one_hot(LABELS, 4)).item(), ref, rtol=1e-14)
    with pytest.raises(ValueError, match="\\[0, 4\\)"):
        nn.cross_entropy(x, [0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="one class index per row"):
        nn.cross_entropy(x, [0, 1])
    with pytest.raises(ValueError, match="\\(N, C\\)"):
        nn.cross_entropy(ad.Tensor(np.ones(4)), [1])
    with pytest.raises(ValueError, match="reduction"):
        nn.cross_entropy(x, LABELS, reduction="avg")


@pytest.mark.parametrize("target", ["index", "probs"])
def test_cross_entropy_scalar_back_end_agrees(target):
    t = LABELS[:3] if target == "index" else PROBS[:3]
    xs = ad.Tensor(LOGITS[:3], requires_grad=True, backend="scalar")
    xn = ad.Tensor(LOGITS[:3], requires_grad=True)
    ls, ln = nn.cross_entropy(xs, t), nn.cross_entropy(xn, t)
    ls.backward()
    ln.backward()
    np.testing.assert_allclose(ls.item(), ln.item(), rtol=1e-13)
    np.testing.assert_allclose(xs.grad.numpy(), xn.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_cross_entropy_float32():
    x = ad.Tensor(LOGITS.astype(np.float32), requires_grad=True)
    loss = nn.cross_entropy(x, PROBS)
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_bce_hinge_match_numpy(reduction):
    pred, target = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    got = nn.mse_loss(ad.Tensor(pred), target, reduction=reduction).numpy()
    np.testing.assert_allclose(got, _reduced((pred - target) ** 2, reduction))
    t01 = (RNG.random((4, 3)) > 0.5).astype(float)
    sig = 1 / (1 + np.exp(-pred))
    bce = -(t01 * np.log(sig) + (1 - t01) * np.log(1 - sig))
    got = nn.binary_cross_entropy_with_logits(ad.Tensor(pred), t01, reduction=reduction).numpy()
    np.testing.assert_allclose(got, _reduced(bce, reduction), rtol=1e-12)
    s, y = RNG.standard_normal(6), np.array([1, -1, 1, 1, -1, -1])
    got = nn.hinge_loss(ad.Tensor(s), y, reduction=reduction).numpy()
    np.testing.assert_allclose(got, _reduced(np.maximum(0, 1 - y * s), reduction))


def test_composed_losses_gradcheck():
    x = ad.Tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    t = RNG.random((4, 3))
    assert ad.gradcheck(lambda z: nn.mse_loss(z, t), (x,))
    assert ad.gradcheck(lambda z: nn.binary_cross_entropy_with_logits(z, t), (x,))
    s = ad.Tensor(np.array([0.3, -2.0, 0.5, 1.7]), requires_grad=True)  # away from the hinge at 1
    assert ad.gradcheck(lambda z: nn.hinge_loss(z, [1, -1, -1, 1]), (s,))


def test_bce_with_logits_is_stable():
    x = ad.Tensor(np.array([1e4, -1e4, 50.0]), requires_grad=True)
    loss = nn.binary_cross_entropy_with_logits(x, [0.0, 1.0, 1.0], reduction="none")
    np.testing.assert_allclose(loss.numpy(), [1e4, 1e4, np.log1p(np.exp(-50.0))])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0, -1 / (1 + np.exp(50.0))], atol=1e-15)


def test_target_shapes():
    p = ad.Tensor(np.zeros((3, 1)))
    assert nn.mse_loss(p, [1.0, 2.0, 3.0], reduction="none").shape == (3, 1)  # never (3, 3)
    assert nn.hinge_loss(p, [1, -1, 1]).item() == 1.0
    with pytest.raises(ValueError, match="mse_loss: input shape \\(3, 1\\) and target shape \\(2,\\)"):
        nn.mse_loss(p, [1.0, 2.0])
    with pytest.raises(ValueError, match="-1 or \\+1"):
        nn.hinge_loss(p, [0, 1, 1])


def test_penalties():
    w1 = ad.Tensor(np.array([[1.0, -2.0], [0.5, 0.0]]), requires_grad=True)
    w2 = ad.Tensor(np.array([3.0]), requires_grad=True)
    np.testing.assert_allclose(nn.l1_penalty([w1, w2], 0.1).item(), 0.1 * 6.5)
    l2 = nn.l2_penalty([w1, w2], 0.1)
    np.testing.assert_allclose(l2.item(), 0.05 * (1 + 4 + 0.25 + 9))
    l2.backward()
    np.testing.assert_allclose(w1.grad.numpy(), 0.1 * w1.numpy())  # d(λ/2·w²)/dw = λw
    model = nn.Linear(2, 2, rng=0)
    np.testing.assert_allclose(
        nn.l2_penalty(model, 1.0).item(), 0.5 * sum((p.numpy() ** 2).sum() for p in model.parameters())
    )
    with pytest.raises(ValueError, match="lam"):
        nn.l1_penalty([w1], -1.0)


def test_one_hot():
    np.testing.assert_array_equal(nn.one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    assert nn.one_hot(np.array([1, 2])).shape == (2, 3)
    t = nn.one_hot(ad.Tensor(np.array([1, 0])), 2)
    assert isinstance(t, ad.Tensor) and t.numpy().tolist() == [[0, 1], [1, 0]]
    with pytest.raises(ValueError, match="\\[0, 3\\)"):
        nn.one_hot([3], 3)
    with pytest.raises(TypeError):
        nn.one_hot([0.5], 2)


@pytest.mark.parametrize(
    "loss,target",
    [
        (nn.mse_loss, np.array([[0.5, -1.0], [2.0, 0.0]])),
        (nn.binary_cross_entropy_with_logits, np.array([[1.0, 0.0], [0.25, 1.0]])),
        (nn.hinge_loss, np.array([[1], [-1]]) * np.ones((2, 2))),
    ],
)
def test_composed_losses_scalar_back_end_agrees(loss, target):
    values = np.array([[0.3, -1.2], [20.0, -0.4]])
    grads = []
    for backend in ad.BACKENDS:
        x = ad.Tensor(values, requires_grad=True, backend=backend)
        out = loss(x, target, reduction="sum")
        out.backward()
        grads.append((out.item(), x.grad.numpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-13)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-12, atol=1e-15)


@given(
    logits=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
                      elements=st.floats(-50, 50)),
    seed=st.integers(0, 2**16),
)
def test_cross_entropy_property(logits, seed):
    n, k = logits.shape
    labels = np.random.default_rng(seed).integers(0, k, n)
    x = ad.Tensor(logits, requires_grad=True)
    loss = nn.cross_entropy(x, labels, reduction="sum")
    loss.backward()
    logp = _np_log_softmax(logits)
    np.testing.assert_allclose(loss.item(), -logp[np.arange(n), labels].sum(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), np.exp(logp) - np.eye(k)[labels], atol=1e-12)


@pytest.mark.parametrize("target", ["indices", "probs"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradient_from_saved_arrays_survives_a_second_pass(target, reduction):
    # The rule starts from the forward's exp and row sums: a second pass (retain_graph) must get
    # the same gradient, so the rule may not have written into them; and a call of the rule
    # without them (saved=None) computes the same.
    from autodiff.nn.losses import _ce_rule

    t = LABELS if target == "indices" else PROBS * 1.5
    x = ad.Tensor(LOGITS, requires_grad=True)
    loss = nn.cross_entropy(x, t, reduction=reduction)
    w = np.arange(1.0, 1.0 + loss.numpy().size).reshape(loss.shape)
    loss.backward(gradient=w, retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward(gradient=w)
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-12)
    tt = np.asarray(t) if target == "probs" else np.asarray(t, dtype=np.intp)
    alone = _ce_rule(w, loss.numpy(), LOGITS, tt, reduction)  # saved=None: computed afresh
    np.testing.assert_allclose(alone, first, rtol=1e-12)
    assert ad.gradcheck(lambda z: nn.cross_entropy(z, t, reduction=reduction) * ad.Tensor(w), (ad.Tensor(LOGITS, requires_grad=True),))


@pytest.mark.parametrize("backend", ad.BACKENDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_of_an_empty_batch_has_an_empty_gradient(reduction, backend):
    x = ad.Tensor(np.zeros((0, 3)), requires_grad=True, backend=backend)
    with np.errstate(invalid="ignore", divide="ignore"):  # the mean of nothing is nan, as in NumPy
        loss = nn.cross_entropy(x, np.zeros(0, dtype=int), reduction=reduction)
        (loss.sum() if reduction == "none" else loss).backward()
    assert x.grad.shape == (0, 3) and x.grad.backend == backend
    want = {"mean": np.nan, "sum": 0.0, "none": np.zeros(0)}[reduction]
    np.testing.assert_array_equal(loss.numpy(), want)


@pytest.mark.parametrize("layout", ["fortran", "strided", "reversed"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradient_does_not_depend_on_the_logits_memory_layout(layout, reduction):
    # The rule subtracts 1 at the targets through flat positions: it must write into the
    # gradient whatever the logits' layout (a Fortran-ordered one once lost the -1 in a copy).
    base = RNG.standard_normal((10, 8))
    view = {"fortran": lambda a: a.T, "strided": lambda a: a[::2, ::2], "reversed": lambda a: a[::-1, ::-1]}[layout]
    labels = np.arange(view(base).shape[0]) % view(base).shape[1]
    a = ad.Tensor(base, requires_grad=True)
    c = ad.Tensor(np.ascontiguousarray(view(base)), requires_grad=True)
    for t in (view(a), c):
        loss = nn.cross_entropy(t, labels, reduction=reduction)
        (loss.sum() if reduction == "none" else loss).backward()
    np.testing.assert_allclose(view(a.grad.numpy()), c.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert ad.gradcheck(lambda z: nn.cross_entropy(view(z), labels, reduction=reduction), (ad.Tensor(base, requires_grad=True),))
