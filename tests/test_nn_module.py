"""nn.Module: registration, traversal, modes, back-end moves, state dicts and .npz files."""

import os
import pickle
import zipfile

import numpy as np
import pytest

import autodiff as ad
from autodiff import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = ad.Tensor(np.array([2.0, 3.0]), requires_grad=True)
        self.inner = nn.Linear(2, 2, rng=0)
        self.register_buffer("count", np.zeros(2))
        self.constant = ad.Tensor([1.0, 1.0])  # no grad: a plain attribute, not a parameter

    def forward(self, x):
        return self.inner(x) * self.scale


def test_parameters_are_registered_in_order_with_dotted_names():
    model = nn.Sequential(Block(), nn.ReLU(), nn.Linear(2, 1, rng=1))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.scale", "0.inner.weight", "0.inner.bias", "2.weight", "2.bias"]
    assert [p.label for p in model.parameters()] == names
    assert [n for n, _ in model.named_buffers()] == ["0.count"]
    assert [type(m).__name__ for m in model.modules()] == ["Sequential", "Block", "Linear", "ReLU", "Linear"]


def test_shared_parameters_and_modules_appear_once():
    lin = nn.Linear(2, 2, rng=0)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(model.parameters())) == 2
    assert len(list(model.modules())) == 3


def test_missing_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = ad.Tensor([1.0], requires_grad=True)

    with pytest.raises(TypeError, match="super\\(\\).__init__"):
        Bad()


def test_reassigning_and_deleting_update_the_registry():
    b = Block()
    b.scale = None
    assert "scale" not in dict(b.named_parameters())
    del b.inner
    assert list(b.named_parameters()) == []


def test_train_eval_zero_grad():
    model = nn.Sequential(Block(), nn.Linear(2, 1, rng=0))
    assert all(m.training for m in model.modules())
    assert model.eval() is model and not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model(ad.randn(3, 2, rng=np.random.default_rng(0))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_call_records_the_module_scope_for_graph_clusters():
    model = nn.MLP([2, 3, 1], rng=0)
    x = ad.Tensor(np.ones((1, 2)))
    out = model(x)
    assert ad.graph.scope(out) == "MLP/Linear[2]"
    assert out.op == "linear"  # x @ W + b is one node
    hidden = out.parents[0]  # the relu output, made from layer 0's linear node
    assert ad.graph.scope(hidden) == "MLP/ReLU[1]"
    assert ad.graph.scope(hidden.parents[0]) == "MLP/Linear[0]"
    assert ad.graph.scope(ad.Tensor([1.0], requires_grad=True).sum()) is None  # outside any module


def test_to_moves_parameters_in_place_and_keeps_identity():
    model = nn.MLP([3, 4, 2], rng=0)
    params = list(model.parameters())
    values = [p.numpy().copy() for p in params]
    assert model.to("scalar") is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    for p, v in zip(params, values):
        assert p.backend == "scalar" and p.requires_grad
        np.testing.assert_array_equal(p.numpy(), v)
    assert params[0].data[0, 0].label == "0.weight[0,0]"
    model.to("numpy").to(np.float32)
    assert all(p.dtype == np.float32 and p.backend == "numpy" for p in params)
    with pytest.raises(ValueError, match="float64"):
        model.to("scalar", np.float32)


def _roundtrip_model(backend, dtype):
    model = nn.Sequential(Block(), nn.Linear(2, 3, rng=5)).to(backend, dtype)
    model[0].count[...] = [4.0, 5.0]
    return model


@pytest.mark.parametrize("backend,dtype", [("numpy", np.float64), ("numpy", np.float32), ("scalar", None)])
def test_state_dict_save_load_round_trip_is_bit_exact(tmp_path, backend, dtype):
    src = _roundtrip_model(backend, dtype)
    for p in src.parameters():  # values with full mantissas
        p.data[...] = np.random.default_rng(1).standard_normal(p.shape).astype(p.dtype) if backend == "numpy" else p.data
    path = src.save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
    dst = nn.Sequential(Block(), nn.Linear(2, 3, rng=9)).to(backend, dtype)
    dst.load_state_dict(nn.load_state(path))
    a, b = src.state_dict(), dst.state_dict()
    assert list(a) == list(b) == ["0.scale", "0.count", "0.inner.weight", "0.inner.bias", "1.weight", "1.bias"]
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes(), k
    assert all(p.backend == backend for p in dst.parameters())


def test_state_dict_holds_copies():
    model = nn.Linear(2, 2, rng=0)
    state = model.state_dict()
    state["weight"][...] = 7.0
    assert not np.any(model.weight.numpy() == 7.0)


def test_save_takes_any_state_name_even_the_archive_writers_own(tmp_path):
    # np.savez(buf, **state) took "file" and "allow_pickle" as its own arguments
    class Named(nn.Module):
        def __init__(self):
            super().__init__()
            self.file = ad.Tensor(np.ones(2), requires_grad=True)
            self.allow_pickle = ad.Tensor(np.full(3, 2.0, dtype=np.float32), requires_grad=True)

    Named().save(tmp_path / "named.npz")
    other = Named()
    other.file.data[:] = 5.0
    other.load_state_dict(nn.load_state(tmp_path / "named.npz"))
    np.testing.assert_array_equal(other.file.numpy(), [1.0, 1.0])
    assert other.allow_pickle.dtype == np.float32 and other.allow_pickle.numpy().tolist() == [2.0] * 3


def test_save_overwrites_atomically(tmp_path):
    path = tmp_path / "m.npz"
    nn.Linear(2, 2, rng=0).save(path)
    model = nn.Linear(2, 2, rng=1)
    model.save(path)
    np.testing.assert_array_equal(nn.load_state(path)["weight"], model.weight.numpy())
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]


def test_load_state_dict_reports_missing_extra_and_misshaped_keys():
    model = nn.Linear(3, 2, rng=0)
    good = model.state_dict()
    with pytest.raises(ValueError, match="missing keys: bias"):
        model.load_state_dict({"weight": good["weight"]})
    with pytest.raises(ValueError, match="unexpected keys: extra"):
        model.load_state_dict({**good, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match=r"weight: expected shape \(3, 2\), got \(2, 3\)"):
        model.load_state_dict({**good, "weight": np.zeros((2, 3))})
    before = model.weight.numpy().copy()
    with pytest.raises(ValueError):
        model.load_state_dict({"weight": np.zeros((3, 2)), "bias": np.zeros(5)})
    np.testing.assert_array_equal(model.weight.numpy(), before)  # nothing applied on error
    result = model.load_state_dict({"weight": np.ones((3, 2))}, strict=False)
    assert result.missing_keys == ["bias"] and np.all(model.weight.numpy() == 1)


def test_bad_files_are_rejected(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("this is not an archive\n")
    with pytest.raises(ValueError, match="not an .npz"):
        nn.load_state(text)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, weight=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled"):
        nn.load_state(pickled)
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps({"weight": np.zeros(2)}))
    with pytest.raises(ValueError):
        nn.load_state(raw)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match="single array"):
        nn.load_state(single)
    broken = tmp_path / "broken.npz"
    with zipfile.ZipFile(broken, "w") as z:
        z.writestr("weight.npy", b"\x93NUMPY garbage")
    with pytest.raises(ValueError):
        nn.load_state(broken)
    with pytest.raises(FileNotFoundError):
        nn.load_state(tmp_path / "absent.npz")


def test_repr_lists_children():
    text = repr(nn.MLP([2, 4, 1], rng=0))
    assert "(0): Linear(in_features=2, out_features=4, bias=True)" in text and "(1): ReLU()" in text


def test_labels_follow_the_outermost_module():
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 2, rng=0)))
    model[0][0].weight = ad.Tensor(np.ones((2, 2)), requires_grad=True)  # assigned after nesting
    assert [p.label for p in model.parameters()] == ["0.0.weight", "0.0.bias"]
