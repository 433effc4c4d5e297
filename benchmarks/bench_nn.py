"""One training step of an MLP 64-128-128-10 (ReLU, cross-entropy, batch 64) through the nn API
(MLP, nn.cross_entropy, optim.SGD) against the same step written with raw Tensors
(x @ W + b, relu, log_softmax · one-hot by hand, manual SGD update), in float64 and float32.

Repeats are interleaved (nn, raw, nn, raw, ...) so both see the same machine load; the table
shows the median time per step and the ratio nn / raw (target: <= 1.1).

    PYTHONPATH=. python benchmarks/bench_nn.py [--repeats 30] [--steps 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import autodiff as ad
from autodiff import nn


def _nn_step(dtype, X, y):
    model = nn.MLP([64, 128, 128, 10], rng=0, dtype=dtype)
    opt = nn.optim.SGD(model.parameters(), lr=0.01)
    x = ad.Tensor(X.astype(dtype))

    def step():
        opt.zero_grad()
        loss = nn.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _raw_step(dtype, X, y):
    rng = np.random.default_rng(0)
    sizes = [64, 128, 128, 10]
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = ad.Tensor((rng.standard_normal((n_in, n_out)) * np.sqrt(2 / n_in)).astype(dtype), requires_grad=True)
        b = ad.Tensor(np.zeros(n_out, dtype), requires_grad=True)
        params += [W, b]
    W1, b1, W2, b2, W3, b3 = params
    x = ad.Tensor(X.astype(dtype))
    onehot = np.eye(10, dtype=dtype)[y]
    n = len(y)

    def step():
        for p in params:
            p.grad = None
        h = ad.relu(x @ W1 + b1)
        h = ad.relu(h @ W2 + b2)
        logits = h @ W3 + b3
        loss = -(ad.log_softmax(logits, axis=-1) * onehot).sum() / n
        loss.backward()
        for p in params:
            p.data -= 0.01 * p.grad.data
        return loss

    return step


def _time(step, steps):
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t) / steps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 64))
    y = rng.integers(0, 10, 64)
    print(f"numpy {np.__version__}, python {platform.python_version()}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}, cpus={os.cpu_count()}")
    print(f"MLP 64-128-128-10, batch 64; median of {args.repeats} interleaved repeats of {args.steps} steps")
    print(f"{'dtype':<8} {'nn API':>12} {'raw Tensors':>12} {'ratio':>7}")
    for dtype in (np.float64, np.float32):
        a, b = _nn_step(dtype, X, y), _raw_step(dtype, X, y)
        la, lb = float(a().item()), float(b().item())  # warm up; same start, same loss
        if not np.isclose(la, lb, rtol=1e-4):
            raise SystemExit(f"the two steps disagree: loss {la} vs {lb}")
        ta, tb = [], []
        for _ in range(args.repeats):
            ta.append(_time(a, args.steps))
            tb.append(_time(b, args.steps))
        ma, mb = np.median(ta), np.median(tb)
        print(f"{np.dtype(dtype).name:<8} {ma * 1e6:>9.1f} us {mb * 1e6:>9.1f} us {ma / mb:>7.3f}")


if __name__ == "__main__":
    main()
