"""Dense layers and activations: formulas, initialisers, and agreement of the two back ends."""

import functools

import numpy as np
import pytest

import autodiff as ad
from autodiff import nn


def _copy_to_scalar(model_factory):
    """The same model twice, on the NumPy and the scalar back end, with equal weights."""
    a = model_factory()
    b = model_factory().to("scalar")
    b.load_state_dict(a.state_dict())
    return a, b


def _forward_backward(model, X, backend):
    x = ad.Tensor(X, requires_grad=True, backend=backend)
    out = model(x)
    (out * np.linspace(-1, 1, out.size).reshape(out.shape)).sum().backward()
    return out.numpy(), x.grad.numpy(), [p.grad.numpy() for p in model.parameters()]


LAYERS = {
    "linear": lambda: nn.Linear(3, 2, rng=0),
    "linear_nobias": lambda: nn.Linear(3, 2, bias=False, rng=0),
    "mlp_relu": lambda: nn.MLP([3, 4, 2], rng=1),
    "mlp_tanh": lambda: nn.MLP([3, 4, 4, 2], activation="tanh", rng=2),
    "sigmoid": lambda: nn.Sequential(nn.Linear(3, 2, rng=0), nn.Sigmoid()),
    "leaky": lambda: nn.Sequential(nn.Linear(3, 2, rng=0), nn.LeakyReLU(0.1)),
    "softmax": lambda: nn.Sequential(nn.Linear(3, 4, rng=0), nn.Softmax(axis=-1)),
    "identity_flatten": lambda: nn.Sequential(nn.Identity(), nn.Flatten(), nn.Linear(3, 1, rng=0)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_both_back_ends_agree(name):
    a, b = _copy_to_scalar(LAYERS[name])
    X = np.random.default_rng(3).standard_normal((4, 3))
    for va, vb in zip(_forward_backward(a, X, "numpy"), _forward_backward(b, X, "scalar")):
        if isinstance(va, list):
            for ga, gb in zip(va, vb):
                np.testing.assert_allclose(ga, gb, rtol=1e-12, atol=1e-12)
        else:
            np.testing.assert_allclose(va, vb, rtol=1e-12, atol=1e-12)


def test_linear_is_x_at_w_plus_b_and_gradchecks():
    layer = nn.Linear(3, 2, rng=0)
    X = np.random.default_rng(1).standard_normal((5, 3))
    expected = X @ layer.weight.numpy() + layer.bias.numpy()
    np.testing.assert_allclose(layer(ad.Tensor(X)).numpy(), expected)
    assert ad.gradcheck(lambda x, w, b: x @ w + b, (ad.Tensor(X, requires_grad=True), layer.weight, layer.bias))
    with pytest.raises(ValueError, match="Linear\\(3, 2\\).*shape \\(5, 4\\)"):
        layer(ad.Tensor(np.ones((5, 4))))


def test_mlp_gradcheck_through_the_module():
    model = nn.MLP([2, 3, 2], activation="tanh", rng=0)
    X = ad.Tensor(np.random.default_rng(0).standard_normal((3, 2)))
    y = np.array([0, 1, 1])

    def loss(w0, b0, w1, b1):  # gradcheck's fresh leaves become the module's parameters
        model[0].weight, model[0].bias, model[2].weight, model[2].bias = w0, b0, w1, b1
        return nn.cross_entropy(model(X), y)

    assert ad.gradcheck(loss, tuple(model.parameters()))
    w0, b0, w1, b1 = (p.numpy() for p in model.parameters())
    np.testing.assert_allclose(model(X).numpy(), np.tanh(X.numpy() @ w0 + b0) @ w1 + b1)


def test_mlp_structure_and_defaults():
    model = nn.MLP([4, 8, 8, 3], rng=0)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    tanh = nn.MLP([4, 8, 3], activation="tanh", rng=0)
    b = np.sqrt(6) / np.sqrt(4 + 8)
    assert np.all(np.abs(tanh[0].weight.numpy()) <= b)  # glorot default for tanh
    assert all(np.all(layer.bias.numpy() == 0) for layer in model if isinstance(layer, nn.Linear))
    with pytest.raises(ValueError, match="activation"):
        nn.MLP([2, 2], activation="swish")
    with pytest.raises(ValueError, match="sizes"):
        nn.MLP([2])
    assert nn.MLP([2, 3], rng=7)[0].weight.numpy().tolist() == nn.MLP([2, 3], rng=7)[0].weight.numpy().tolist()


def test_sequential_indexing():
    seq = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU(), nn.Linear(3, 1, rng=0))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU) and isinstance(seq[-1], nn.Linear)
    assert len(seq[:2]) == 2
    with pytest.raises(TypeError):
        nn.Sequential(lambda x: x)


def test_float32_layers_stay_float32():
    model = nn.MLP([3, 4, 2], rng=0, dtype=np.float32)
    out = model(ad.Tensor(np.ones((2, 3), np.float32)))
    assert out.dtype == np.float32
    nn.cross_entropy(out, [0, 1]).backward()
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


# --- initialisers -----------------------------------------------------------------------------


def test_init_statistics():
    rng = np.random.default_rng(0)
    w = nn.init.he((400, 300), rng=rng)
    assert abs(w.mean()) < 0.005 and abs(w.std() - np.sqrt(2 / 400)) < 0.002
    g = nn.init.glorot_uniform((400, 300), rng=rng)
    b = np.sqrt(6) / np.sqrt(700)
    assert g.min() >= -b and g.max() <= b and abs(g.std() - b / np.sqrt(3)) < 0.002
    n = nn.init.normal((400, 300), std=0.01, rng=rng)
    assert abs(n.std() - 0.01) < 0.0005
    assert not np.any(nn.init.zeros((3, 2)))
    conv = nn.init.he((8, 4, 3, 3), rng=rng)  # fan_in = 4 * 3 * 3
    assert abs(conv.std() - np.sqrt(2 / 36)) < 0.02
    assert nn.init.fans((8, 4, 3, 3)) == (36, 72) and nn.init.fans((5, 7)) == (5, 7)


def test_init_uses_the_manual_seed_generator_by_default():
    ad.manual_seed(123)
    a = nn.Linear(3, 3).weight.numpy()
    ad.manual_seed(123)
    b = nn.Linear(3, 3).weight.numpy()
    np.testing.assert_array_equal(a, b)


def test_layer_init_argument():
    layer = nn.Linear(50, 40, init=functools.partial(nn.init.normal, std=0.5), rng=0)
    assert abs(layer.weight.numpy().std() - 0.5) < 0.05
    assert np.all(nn.Linear(2, 2, init="zeros").weight.numpy() == 0)
    with pytest.raises(ValueError, match="unknown init"):
        nn.Linear(2, 2, init="orthogonal")
