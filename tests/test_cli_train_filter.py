"""`autodiff train` and `autodiff filter` in subprocesses: they need autodiff.nn/datasets and
autodiff.signal. A tiny training config keeps this fast; filter outputs are checked by hand."""

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("autodiff.nn")


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "autodiff", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def assert_usage_error(proc):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines and ": error: " in lines[-1]
    if not lines[0].startswith("usage:"):
        assert len(lines) == 1, proc.stderr


def test_train_tiny_config_on_a_csv_file_writes_everything(tmp_path):
    from autodiff import nn

    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) * 3 + 2  # labels 2 and 5: remapped to classes 0, 1
    np.savetxt(tmp_path / "data.csv", np.column_stack([X, y]), delimiter=",", header="a,b,c,label")
    out = tmp_path / "run"
    proc = run_cli("train", "--data", "data.csv", "--hidden", "4", "--epochs", "1", "--batch-size", "16",
                   "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test accuracy:" in proc.stdout
    names = {p.name for p in out.iterdir()}
    assert {"model.npz", "history.json", "history.csv", "history.png"} <= names
    assert names & {"step-graph.svg", "step-graph.dot"}
    history = json.loads((out / "history.json").read_text())
    assert len(history["train_loss"]) == 1 and history["best_epoch"] == 0
    state = nn.load_state(out / "model.npz")
    assert any(v.shape == (3, 4) or v.shape == (4, 3) for v in state.values())  # the 3 -> 4 layer
    assert (out / "history.csv").read_text().splitlines()[0] == "epoch,train_loss,val_loss,train_acc,val_acc"


def test_train_bad_arguments(tmp_path):
    assert_usage_error(run_cli("train", "--data", "nowhere.csv", cwd=tmp_path))
    assert_usage_error(run_cli("train", "--data", "mnist", cwd=tmp_path))
    assert_usage_error(run_cli("train", "--lr", "fast", "--epochs", "1", cwd=tmp_path))
    assert_usage_error(run_cli("train", "--hidden", "12,x", cwd=tmp_path))
    assert not (tmp_path / "runs").exists()


def test_train_bad_data_files_and_divergence_are_one_line_errors(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    y = (X[:, 0] > 0).astype(float)
    y_inf = y.copy()
    y_inf[3] = np.inf  # once read as a third class
    np.savetxt(tmp_path / "inf_label.csv", np.column_stack([X, y_inf]), delimiter=",")
    np.savez(tmp_path / "strings.npz", X=np.array([["a", "b"], ["c", "d"]]), y=np.array([0, 1]))
    np.savez(tmp_path / "zero_d.npz", X=np.array(3.0), y=np.array([0]))
    np.savez(tmp_path / "empty.npz", X=np.ones((0, 2)), y=np.ones(0))
    np.savez(tmp_path / "complex.npz", X=X + 1j, y=y)
    for name in ("inf_label.csv", "strings.npz", "zero_d.npz", "empty.npz", "complex.npz"):
        assert_usage_error(run_cli("train", "--data", name, "--epochs", "1", "--hidden", "4", "--out", "o", cwd=tmp_path))
    np.savetxt(tmp_path / "big.csv", np.column_stack([X * 1e3, y]), delimiter=",")
    proc = run_cli("train", "--data", "big.csv", "--epochs", "2", "--lr", "1e300", "--optimizer", "sgd",
                   "--hidden", "4", "--out", "o", cwd=tmp_path)
    assert_usage_error(proc)
    assert "diverged" in proc.stderr and not (tmp_path / "o" / "model.npz").exists()


def test_filter_average_and_translation_by_hand(tmp_path):
    pytest.importorskip("autodiff.signal")
    x = np.array([0.0, 0.0, 3.0, 0.0, 0.0, 6.0])
    np.savetxt(tmp_path / "sig.csv", x)
    proc = run_cli("filter", "sig.csv", "--filter", "average", "--arg", "width=3", "--mode", "circular",
                   "--out", "avg.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # z_i = (x_{i-1} + x_i + x_{i+1}) / 3, wrapping around: [2, 1, 1, 1, 2, 2]
    assert np.allclose(np.loadtxt(tmp_path / "avg.csv"), [2, 1, 1, 1, 2, 2])
    assert (tmp_path / "avg.png").read_bytes()[:4] == b"\x89PNG"
    proc = run_cli("filter", "sig.csv", "--weights", "0,0,1", "--mode", "valid", "--out", "t.npy", "--no-plot",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # [0 0 1] is translation(1): z_i = x_{i+1} on the 4 positions with a full window
    assert np.allclose(np.load(tmp_path / "t.npy"), [3, 0, 0, 6])
    assert not (tmp_path / "t.png").exists()


def test_filter_bad_arguments(tmp_path):
    pytest.importorskip("autodiff.signal")
    np.savetxt(tmp_path / "sig.csv", np.arange(5.0))
    assert_usage_error(run_cli("filter", "missing.csv", "--filter", "identity", cwd=tmp_path))
    assert_usage_error(run_cli("filter", "sig.csv", "--filter", "nope", cwd=tmp_path))
    assert_usage_error(run_cli("filter", "sig.csv", "--filter", "average", "--arg", "sigma=2", cwd=tmp_path))
    assert_usage_error(run_cli("filter", "sig.csv", "--filter", "identity", "--mode", "reflect", cwd=tmp_path))
    assert_usage_error(run_cli("filter", "sig.csv", "--weights", "1,1", cwd=tmp_path))
    (tmp_path / "bad.csv").write_text("1,2\nthree,4\n")
    assert_usage_error(run_cli("filter", "bad.csv", "--filter", "identity", cwd=tmp_path))


def test_graph_mlp_on_the_scalar_back_end_is_boxed_by_layer(tmp_path):
    proc = run_cli("graph", "--mlp", "2,3,1", "--out", "mlp.dot", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    src = (tmp_path / "mlp.dot").read_text()
    for box in ("<B>MLP</B>", "<B>Linear[0]</B>", "<B>Tanh[1]</B>", "<B>Linear[2]</B>"):
        assert box in src
    # 2*3 + 3*1 weights and 3 + 1 biases are parameters; the 2 inputs are plain leaves
    assert src.count("param</FONT>") == 13 and src.count("leaf</FONT>") == 2
    assert_usage_error(run_cli("graph", "--mlp", "8,64,64,1", "--out", "big.dot", cwd=tmp_path))
    assert not (tmp_path / "big.dot").exists()
