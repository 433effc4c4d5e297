"""One training step of a small CNN: autodiff vs a hand-written NumPy im2col step vs PyTorch (CPU).

Batch 32 of 1x28x28 images, conv 3x3 1->8, ReLU, conv 3x3 8->16, ReLU, max pool 2x2, linear to
10, softmax cross-entropy, float32; one step = forward, backward, SGD update. The three steps
are timed side by side in one process, interleaved, and the medians are printed as ratios to
the hand-written step. PyTorch is used only when importable (it is never a project dependency).

    PYTHONPATH=. python benchmarks/bench_conv.py [--repeats 300]

BLAS runs on one thread (and PyTorch likewise) unless OPENBLAS_NUM_THREADS is set: on a shared
2-core machine a threaded BLAS mostly measures contention with other processes.
OPENBLAS_CORETYPE is left as the machine sets it, and printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import autodiff as ad

N, LR = 32, 0.01


def make_problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, N)

    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    params = {
        "w1": he((8, 1, 3, 3), 9), "b1": np.zeros(8, np.float32),
        "w2": he((16, 8, 3, 3), 72), "b2": np.zeros(16, np.float32),
        "w3": he((16 * 12 * 12, 10), 16 * 12 * 12), "b3": np.zeros(10, np.float32),
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
    logits = h.reshape(N, -1) @ p["w3"] + p["b3"]
    loss = -ad.log_softmax(logits, axis=1)[np.arange(N), y].mean()
    loss.backward()
    grads = {}
    for k, t in p.items():
        grads[k] = t.grad.data
        t.data -= LR * t.grad.data
        t.grad = None
    return float(loss.item()), grads


# --- (c) PyTorch ----------------------------------------------------------------------------


def torch_setup(p):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}

    def step(x, y, p):
        h = F.relu(F.conv2d(x, p["w1"], p["b1"]))
        h = F.relu(F.conv2d(h, p["w2"], p["b2"]))
        h = F.max_pool2d(h, 2)
        loss = F.cross_entropy(h.reshape(N, -1) @ p["w3"] + p["b3"], y)
        loss.backward()
        with torch.no_grad():
            for t in p.values():
                t -= LR * t.grad
                t.grad = None
        return float(loss.detach())

    torch.set_num_threads(int(os.environ["OPENBLAS_NUM_THREADS"]))
    return torch, tp, step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()

    x, y, params = make_problem()
    # correctness first: the same step from the same parameters gives the same gradients
    p_np = {k: v.copy() for k, v in params.items()}
    p_ad = {k: ad.Tensor(v, requires_grad=True) for k, v in params.items()}
    x_ad = ad.Tensor(x)
    loss_np, g_np = numpy_step(x, y, p_np)
    loss_ad, g_ad = autodiff_step(x_ad, y, p_ad)
    worst = max(float(np.abs(g_np[k] - g_ad[k]).max() / (np.abs(g_np[k]).max() + 1e-12)) for k in g_np)
    print(f"first step: loss numpy {loss_np:.6f}, autodiff {loss_ad:.6f}; worst relative gradient difference {worst:.1e}")

    steps = {"hand-written numpy": lambda: numpy_step(x, y, p_np), "autodiff": lambda: autodiff_step(x_ad, y, p_ad)}
    torch_parts = torch_setup(params)
    if torch_parts is not None:
        torch, p_t, torch_step = torch_parts
        x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
        steps[f"pytorch {torch.__version__} cpu"] = lambda: torch_step(x_t, y_t, p_t)
    else:
        print("PyTorch not importable: its column is skipped")

    times = {name: [] for name in steps}
    for r in range(args.warmup + args.repeats):
        order = list(steps.items())
        if r % 2:
            order.reverse()  # alternate the order so no one always runs right after another
        for name, fn in order:
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            if r >= args.warmup:
                times[name].append(dt)

    base = statistics.median(times["hand-written numpy"])
    print(f"one training step, batch {N}, float32; median of {args.repeats} interleaved runs")
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} (as set by the machine), "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, numpy {np.__version__}"
          + (f", torch threads {torch.get_num_threads()}" if torch_parts is not None else ""))
    print(f"{'implementation':<28}{'median ms':>12}{'p25 ms':>10}{'p75 ms':>10}{'ratio':>8}")
    for name, ts in times.items():
        q = statistics.quantiles(ts, n=4)
        med = statistics.median(ts)
        print(f"{name:<28}{med * 1e3:>12.2f}{q[0] * 1e3:>10.2f}{q[2] * 1e3:>10.2f}{med / base:>8.2f}")
    print("ratio = median time / median time of the hand-written NumPy step (lower is faster)")


if __name__ == "__main__":
    main()
