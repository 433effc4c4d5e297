"""One training step of an MLP 64-128-128-10 (ReLU, cross-entropy, batch 64) through the nn API
(MLP, nn.cross_entropy, optim.SGD) against the same step written with raw Tensors
(x @ W + b, relu, log_softmax · one-hot by hand, manual SGD update), in float64 and float32.

Both steps start from the same weights and are checked once to give the same loss before
timing. Rounds are interleaved (nn, raw, then raw, nn, ...) so both see the same machine load;
the tables show the median time per step and the median of the paired per-round ratios
nn / raw, and a last table that ratio's interquartile range (target: <= 1.1).

These matrices are small: on a shared 2-core machine a second BLAS thread waiting for a busy
core makes single steps vary by 2x, which hides the API overhead being measured (both sides use
the same BLAS calls). Run with ``--threads 1`` (one OpenBLAS thread); the run's setting is noted.

    PYTHONPATH=. python benchmarks/bench_nn.py [--quick | --smoke] [--threads 1] [--clock cpu] [--json PATH]
"""

from __future__ import annotations

import sys

import common
import numpy as np

import autodiff as ad
from autodiff import nn

SIZES, BATCH = [64, 128, 128, 10], 64
SMOKE_SIZES, SMOKE_BATCH = [8, 16, 16, 4], 8
TARGET = 1.1


def _nn_step(sizes, dtype, X, y):
    model = nn.MLP(sizes, rng=0, dtype=dtype)
    opt = nn.optim.SGD(model.parameters(), lr=0.01)
    x = ad.Tensor(X.astype(dtype))

    def step():
        opt.zero_grad()
        loss = nn.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _raw_step(sizes, dtype, X, y):
    rng = np.random.default_rng(0)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = ad.Tensor((rng.standard_normal((n_in, n_out)) * np.sqrt(2 / n_in)).astype(dtype), requires_grad=True)
        b = ad.Tensor(np.zeros(n_out, dtype), requires_grad=True)
        params += [W, b]
    W1, b1, W2, b2, W3, b3 = params
    x = ad.Tensor(X.astype(dtype))
    onehot = np.eye(sizes[-1], dtype=dtype)[y]
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


def main(argv=None):
    args, report = common.start(argv, "bench_nn", __doc__)
    report.note(common.threads_note(args))
    sizes, batch = (SMOKE_SIZES, SMOKE_BATCH) if args.smoke else (SIZES, BATCH)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch, sizes[0]))
    y = rng.integers(0, sizes[-1], batch)
    shape = f"MLP {'-'.join(map(str, sizes))}, batch {batch}"
    report.note("each dtype's first step is checked before it is timed: the nn API and raw Tensors give the same "
                "loss (rtol 1e-4)")
    rows, data = [], {}
    for dtype in (np.float64, np.float32):  # each dtype's steps built after the previous one's timing
        name = np.dtype(dtype).name
        a, b = _nn_step(sizes, dtype, X, y), _raw_step(sizes, dtype, X, y)
        la, lb = float(a().item()), float(b().item())  # same start, same loss (and a warm-up)
        if not np.isclose(la, lb, rtol=1e-4):
            raise AssertionError(f"{name}: the two steps disagree: loss {la} (nn API) vs {lb} (raw Tensors)")
        sec = report.compare(f"{shape}, {name} -- one training step, nn API vs raw Tensors",
                             {"nn API": a, "raw Tensors": b}, baseline="raw Tensors", rounds=30,
                             target=f"nn API / raw Tensors <= {TARGET}")
        ratios = common.paired_ratios(sec, "nn API", "raw Tensors")
        q1, q2, q3 = np.percentile(ratios, [25, 50, 75])
        rows.append([name, f"{q2:.3f}", f"{q1:.3f} - {q3:.3f}", len(ratios)])
        data[name] = {"median": q2, "q1": q1, "q3": q3}
    report.table(f"{shape}: nn API / raw Tensors, paired per-round ratios (each pair ran in the same round, "
                 f"under the same load; target <= {TARGET})", ["dtype", "ratio", "ratio IQR", "rounds"], rows, data)
    return report.finish()


if __name__ == "__main__":
    main(sys.argv[1:])
