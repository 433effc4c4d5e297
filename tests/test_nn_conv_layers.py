"""Layers over the conv/pool/dropout/batch-norm ops: formulas, modes, state, both back ends."""

import numpy as np
import pytest

import autodiff as ad
from autodiff import nn

RNG = np.random.default_rng(0)


def _conv2d_loops(x, w, b):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    out = np.zeros((n, o, h - kh + 1, wd - kw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = np.einsum("nchw,ochw->no", x[:, :, i : i + kh, j : j + kw], w)
    return out + b[None, :, None, None]


def test_conv2d_layer_is_cross_correlation_with_pytorch_layout():
    layer = nn.Conv2d(2, 3, kernel_size=(2, 3), rng=0)
    assert layer.weight.shape == (3, 2, 2, 3) and layer.bias.shape == (3,)
    layer.bias.data[...] = [0.5, -1.0, 2.0]
    x = RNG.standard_normal((2, 2, 5, 6))
    np.testing.assert_allclose(layer(ad.Tensor(x)).numpy(), _conv2d_loops(x, layer.weight.numpy(), layer.bias.numpy()),
                               rtol=1e-12, atol=1e-12)
    assert abs(nn.Conv2d(16, 32, 3, rng=0).weight.numpy().std() - np.sqrt(2 / (16 * 9))) < 0.01  # he, fan_in C·k


def test_conv1d_layer_padding_modes_and_stride():
    x = ad.Tensor(RNG.standard_normal((2, 3, 9)))
    assert nn.Conv1d(3, 4, 3, rng=0)(x).shape == (2, 4, 7)
    assert nn.Conv1d(3, 4, 3, padding="same", padding_mode="circular", rng=0)(x).shape == (2, 4, 9)
    assert nn.Conv1d(3, 4, 3, stride=2, padding=1, rng=0)(x).shape == (2, 4, 5)
    layer = nn.Conv1d(3, 2, 3, padding=1, padding_mode="replicate", bias=False, rng=0)
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1)), mode="edge")
    w = layer.weight.numpy()
    expected = np.stack([np.einsum("nck,ock->no", xp[:, :, i : i + 3], w) for i in range(9)], axis=-1)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="valid modes"):
        nn.Conv1d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv2d(3, 4, (3, 3, 3))


def test_pool_layers():
    x = RNG.standard_normal((2, 3, 4, 6))
    got = nn.MaxPool2d(2)(ad.Tensor(x)).numpy()
    np.testing.assert_array_equal(got, x.reshape(2, 3, 2, 2, 3, 2).max(axis=(3, 5)))
    got = nn.AvgPool2d((2, 3))(ad.Tensor(x)).numpy()
    np.testing.assert_allclose(got, x.reshape(2, 3, 2, 2, 2, 3).mean(axis=(3, 5)))
    x1 = RNG.standard_normal((1, 2, 7))
    np.testing.assert_array_equal(nn.MaxPool1d(3, stride=2)(ad.Tensor(x1)).numpy(),
                                  np.stack([x1[..., i : i + 3].max(-1) for i in (0, 2, 4)], -1))
    assert nn.AvgPool1d(2)(ad.Tensor(x1)).shape == (1, 2, 3)


def _small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, padding_mode="mirror", rng=0), nn.BatchNorm2d(2), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3, rng=1),
    )


def test_cnn_back_ends_agree_and_gradcheck():
    X = RNG.standard_normal((2, 1, 4, 4))
    a, b = _small_cnn(), _small_cnn().to("scalar")
    b.load_state_dict(a.state_dict())
    results = []
    for model, backend in ((a, "numpy"), (b, "scalar")):
        out = model(ad.Tensor(X, backend=backend))
        nn.cross_entropy(out, [0, 2]).backward()
        results.append([out.numpy()] + [p.grad.numpy() for p in model.parameters()] + [model[1].running_mean])
    for ra, rb in zip(*results):
        np.testing.assert_allclose(ra, rb, rtol=1e-10, atol=1e-12)
    model = _small_cnn()
    x = ad.Tensor(X)

    def loss(*ps):
        for (m, name), p in zip([(model[0], "weight"), (model[0], "bias"), (model[5], "weight")], ps):
            setattr(m, name, p)
        return nn.cross_entropy(model(x), [1, 0])

    assert ad.gradcheck(loss, (model[0].weight, model[0].bias, model[5].weight))


def test_batch_norm_layers_follow_pytorch():
    bn = nn.BatchNorm1d(3, momentum=0.2)
    x = RNG.normal(2.0, 3.0, size=(16, 3))
    y = bn(ad.Tensor(x)).numpy()
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(0), 1, rtol=1e-4)  # eps = 1e-5
    np.testing.assert_allclose(bn.running_mean, 0.2 * x.mean(0))
    np.testing.assert_allclose(bn.running_var, 0.8 + 0.2 * x.var(0, ddof=1))
    bn.eval()
    z = bn(ad.Tensor(x)).numpy()
    np.testing.assert_allclose(z, (x - bn.running_mean) / np.sqrt(bn.running_var + 1e-5))
    assert set(bn.state_dict()) == {"weight", "bias", "running_mean", "running_var"}
    x3 = RNG.standard_normal((4, 3, 5))
    y3 = nn.BatchNorm1d(3)(ad.Tensor(x3)).numpy()
    np.testing.assert_allclose(y3.mean(axis=(0, 2)), 0, atol=1e-12)
    bn2 = nn.BatchNorm2d(2, affine=False, track_running_stats=False)
    assert list(bn2.parameters()) == [] and bn2.state_dict() == {}
    bn2.eval()  # no running statistics: batch statistics even in eval mode
    np.testing.assert_allclose(bn2(ad.Tensor(RNG.standard_normal((3, 2, 2, 2)))).numpy().mean(axis=(0, 2, 3)), 0,
                               atol=1e-12)
    with pytest.raises(ValueError, match="BatchNorm2d\\(2\\).*\\(N, C, H, W\\)"):
        bn2(ad.Tensor(np.ones((3, 2))))
    with pytest.raises(ValueError, match="C=3"):
        nn.BatchNorm1d(3)(ad.Tensor(np.ones((4, 2))))


def test_batch_norm_running_statistics_round_trip(tmp_path):
    model = nn.MLP([3, 4, 2], batch_norm=True, rng=0)
    model(ad.Tensor(RNG.standard_normal((8, 3))))
    path = model.save(tmp_path / "bn.npz")
    other = nn.MLP([3, 4, 2], batch_norm=True, rng=5)
    other.load_state_dict(nn.load_state(path))
    np.testing.assert_array_equal(other[1].running_var, model[1].running_var)
    x = ad.Tensor(RNG.standard_normal((2, 3)))
    np.testing.assert_array_equal(other.eval()(x).numpy(), model.eval()(x).numpy())


def test_dropout_layer():
    x = ad.Tensor(np.ones((200, 50)))
    drop = nn.Dropout(0.25, rng=0)
    y = drop(x).numpy()
    assert set(np.unique(y).tolist()) == {0.0, 4 / 3} and abs((y == 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(nn.Dropout(0.25, rng=0)(x).numpy(), y)  # seeded
    assert drop.eval()(x) is x
    with pytest.raises(ValueError):
        nn.Dropout(1.0)


def test_mlp_with_dropout_and_batch_norm():
    model = nn.MLP([4, 8, 8, 2], dropout=0.5, batch_norm=True, rng=0)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    x = ad.Tensor(RNG.standard_normal((6, 4)))
    model.eval()
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())  # deterministic in eval mode
    model.train()
    assert not np.array_equal(model(x).numpy(), model(x).numpy())  # fresh masks


def test_small_cnn_learns_digits():
    X, y = ad.datasets.digits(images=True)
    (Xtr, ytr), (Xv, yv), _ = ad.datasets.train_val_test_split(X[:, None], y, val=0.2, test=0.0, seed=0)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(16 * 16, 10, rng=0))
    opt = nn.optim.Adam(model.parameters(), lr=1e-2)
    h = nn.fit(model, nn.cross_entropy, opt, (Xtr, ytr), (Xv, yv), epochs=5, rng=0, progress=False)
    assert h["val_acc"][h["best_epoch"]] > 0.93


def test_dropout_and_batch_norm_mlp_back_ends_agree():
    X = np.random.default_rng(4).standard_normal((5, 3))
    outs = []
    for backend in ad.BACKENDS:
        model = nn.MLP([3, 4, 2], dropout=0.5, batch_norm=True, rng=0).to(backend)
        x = ad.Tensor(X, requires_grad=True, backend=backend)
        out = model(x)  # the same seed draws the same weights and the same dropout mask
        out.sum().backward()
        outs.append((out.numpy(), x.grad.numpy(), model[1].running_mean.copy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    no_dropout = nn.MLP([3, 4, 2], batch_norm=True, rng=0)(ad.Tensor(X)).numpy()  # same weights
    assert not np.allclose(outs[0][0], no_dropout)  # the mask did change something


@pytest.mark.parametrize(
    "make,shape",
    [
        (lambda: nn.Sequential(nn.Conv1d(2, 2, 3, padding="same", padding_mode="symmetric", rng=0), nn.Tanh(),
                               nn.AvgPool1d(2), nn.BatchNorm1d(2), nn.MaxPool1d(2)), (2, 2, 8)),
        (lambda: nn.Sequential(nn.Conv2d(1, 2, 2, stride=2, rng=0), nn.LeakyReLU(0.1), nn.AvgPool2d(2)), (2, 1, 4, 4)),
    ],
)
def test_1d_and_pooling_layers_back_ends_agree(make, shape):
    X = np.random.default_rng(7).standard_normal(shape)
    results = []
    for backend in ad.BACKENDS:
        model = make().to(backend)
        x = ad.Tensor(X, requires_grad=True, backend=backend)
        out = model(x)
        (out * np.arange(out.size).reshape(out.shape)).sum().backward()
        results.append([out.numpy(), x.grad.numpy()] + [p.grad.numpy() for p in model.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
