"""One training step of a small CNN: autodiff vs a hand-written NumPy im2col step vs PyTorch (CPU).

Batch 32 of 1x28x28 images, conv 3x3 1->8, ReLU, conv 3x3 8->16, ReLU, max pool 2x2, linear to
10, softmax cross-entropy, float32; one step = forward, backward, SGD update. The steps are timed
side by side in one process, interleaved, and reported as ratios to the hand-written step (lower
is faster). All of them start from the same parameters and are checked once to give the same
loss and gradients before anything is timed. PyTorch is used only when importable (it is never a
project dependency); it gets as many threads as NumPy's BLAS.

    PYTHONPATH=. python benchmarks/bench_conv.py [--quick | --smoke] [--threads 1] [--clock cpu] [--json PATH]

On a shared 2-core machine a threaded BLAS mostly measures contention with other processes:
run with ``--threads 1`` (one BLAS thread, and PyTorch likewise; see benchmarks/README.md).
OPENBLAS_CORETYPE is left as the machine sets it, and noted.
"""

from __future__ import annotations

import sys

import common
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import autodiff as ad

LR = 0.01
BATCH, SIZE = 32, 28
SMOKE_BATCH, SMOKE_SIZE = 4, 12


def make_problem(n=BATCH, size=SIZE, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, size, size)).astype(np.float32)
    y = rng.integers(0, 10, n)
    flat = 16 * ((size - 4) // 2) ** 2  # two valid 3x3 convolutions, then a 2x2 pool

    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    params = {
        "w1": he((8, 1, 3, 3), 9), "b1": np.zeros(8, np.float32),
        "w2": he((16, 8, 3, 3), 72), "b2": np.zeros(16, np.float32),
        "w3": he((flat, 10), flat), "b3": np.zeros(10, np.float32),
    }
    return x, y, params


# --- (a) hand-written NumPy: im2col with sliding_window_view + matmul, backward by hand ---------


def _im2col(x, k):  # (N, C, H, W) -> (N*OH*OW, C*k*k)
    n, c, h, w = x.shape
    win = sliding_window_view(x, (k, k), axis=(2, 3))  # (N, C, OH, OW, k, k)
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * (h - k + 1) * (w - k + 1), c * k * k)


def _conv_forward(x, w, b):
    n, _, h, wd = x.shape
    o, _, k, _ = w.shape
    cols = _im2col(x, k)
    out = cols @ w.reshape(o, -1).T + b  # (N*OH*OW, O)
    return out.reshape(n, h - k + 1, wd - k + 1, o).transpose(0, 3, 1, 2), cols


def _conv_backward(dout, cols, x_shape, w, need_dx):
    o, c, k, _ = w.shape
    d2 = dout.transpose(0, 2, 3, 1).reshape(-1, o)  # (N*OH*OW, O)
    dw = (d2.T @ cols).reshape(w.shape)
    db = d2.sum(axis=0)
    if not need_dx:
        return None, dw, db
    n, _, oh, ow = dout.shape
    dcols = (d2 @ w.reshape(o, -1)).reshape(n, oh, ow, c, k, k)
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for i in range(k):
        for j in range(k):
            dx[:, :, i : i + oh, j : j + ow] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dx, dw, db


def numpy_step(x, y, p):
    a1, cols1 = _conv_forward(x, p["w1"], p["b1"])
    r1 = np.maximum(a1, 0)
    a2, cols2 = _conv_forward(r1, p["w2"], p["b2"])
    r2 = np.maximum(a2, 0)
    n, c, h, w = r2.shape
    win = r2.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    arg = win.argmax(axis=-1)[..., None]
    pooled = np.take_along_axis(win, arg, axis=-1)[..., 0]
    flat = pooled.reshape(n, -1)
    logits = flat @ p["w3"] + p["b3"]
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(n), y].mean()
    # backward
    dlogits = np.exp(logp)
    dlogits[np.arange(n), y] -= 1
    dlogits /= n
    g = {"w3": flat.T @ dlogits, "b3": dlogits.sum(axis=0)}
    dpool = (dlogits @ p["w3"].T).reshape(pooled.shape)
    dwin = np.zeros_like(win)
    np.put_along_axis(dwin, arg, dpool[..., None], axis=-1)
    dr2 = dwin.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)
    da2 = dr2 * (a2 > 0)
    dr1, g["w2"], g["b2"] = _conv_backward(da2, cols2, r1.shape, p["w2"], True)
    da1 = dr1 * (a1 > 0)
    _, g["w1"], g["b1"] = _conv_backward(da1, cols1, x.shape, p["w1"], False)
    for k in p:
        p[k] -= LR * g[k]
    return float(loss), g


# --- (b) autodiff ---------------------------------------------------------------------------


def autodiff_step(x, y, p):
    h = ad.conv2d(x, p["w1"], p["b1"]).relu()
    h = ad.conv2d(h, p["w2"], p["b2"]).relu()
    h = ad.max_pool2d(h, 2)
    n = x.shape[0]
    logits = h.reshape(n, -1) @ p["w3"] + p["b3"]
    loss = -ad.log_softmax(logits, axis=1)[np.arange(n), y].mean()
    loss.backward()
    grads = {}
    for k, t in p.items():
        grads[k] = t.grad.data
        t.data -= LR * t.grad.data
        t.grad = None
    return float(loss.item()), grads


# --- (c) PyTorch ----------------------------------------------------------------------------


def torch_setup(torch, p):
    F = torch.nn.functional
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}

    def step(x, y, p, keep=None):
        h = F.relu(F.conv2d(x, p["w1"], p["b1"]))
        h = F.relu(F.conv2d(h, p["w2"], p["b2"]))
        h = F.max_pool2d(h, 2)
        loss = F.cross_entropy(h.reshape(x.shape[0], -1) @ p["w3"] + p["b3"], y)
        loss.backward()
        if keep is not None:  # the agreement check's copy of the gradients
            keep.update({k: t.grad.numpy().copy() for k, t in p.items()})
        with torch.no_grad():
            for t in p.values():
                t -= LR * t.grad
                t.grad = None
        return float(loss.detach())

    return tp, step


# --- the benchmark --------------------------------------------------------------------------


def check_agreement(name, loss_ref, g_ref, loss, grads):
    """Raise AssertionError unless a first step's loss and gradients match the NumPy step's."""
    worst = max(float(np.abs(g_ref[k] - grads[k]).max() / (np.abs(g_ref[k]).max() + 1e-12)) for k in g_ref)
    assert abs(loss - loss_ref) <= 1e-5 * abs(loss_ref), f"{name}: loss {loss} differs from NumPy's {loss_ref}"
    assert worst < 1e-4, f"{name}: gradients differ from NumPy's (worst relative difference {worst:.1e})"
    return f"{name} {loss:.6f} (worst relative gradient difference {worst:.1e})"


def main(argv=None):
    args, report = common.start(argv, "bench_conv", __doc__)
    n, size = (SMOKE_BATCH, SMOKE_SIZE) if args.smoke else (BATCH, SIZE)
    x, y, params = make_problem(n, size)
    torch = common.optional_import("torch")
    if torch is None:
        report.note("PyTorch is not importable: its column is skipped")
    else:
        threads = common.blas_threads()
        torch.set_num_threads(threads)
        report.note(f"torch.set_num_threads({threads}) to match NumPy's BLAS threads")
    report.note(common.threads_note(args))

    # correctness first: the same step from the same parameters gives the same loss and gradients
    p_np = {k: v.copy() for k, v in params.items()}
    p_ad = {k: ad.Tensor(v, requires_grad=True) for k, v in params.items()}
    x_ad = ad.Tensor(x)
    loss_np, g_np = numpy_step(x, y, p_np)
    checked = [check_agreement("autodiff", loss_np, g_np, *autodiff_step(x_ad, y, p_ad))]
    cases = {"hand-written numpy": lambda: numpy_step(x, y, p_np), "autodiff": lambda: autodiff_step(x_ad, y, p_ad)}
    if torch is not None:
        p_t, torch_step = torch_setup(torch, params)
        x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
        g_t = {}
        checked.append(check_agreement("pytorch", loss_np, g_np, torch_step(x_t, y_t, p_t, keep=g_t), g_t))
        cases[f"pytorch {torch.__version__} cpu"] = lambda: torch_step(x_t, y_t, p_t)
    report.note(f"first step from the same parameters: loss numpy {loss_np:.6f}, " + ", ".join(checked))

    report.compare(f"small CNN (conv 3x3 1->8, conv 3x3 8->16, max pool 2, linear), batch {n} of 1x{size}x{size}, "
                   "float32 -- one training step", cases, baseline="hand-written numpy")
    return report.finish()


if __name__ == "__main__":
    main(sys.argv[1:])
