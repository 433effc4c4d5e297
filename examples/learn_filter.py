"""Learn a filter by gradient descent: recover a known Gaussian from input/output pairs.

The data are random signals x and their filtered versions y = convolve1d(x, w_true) plus a
little noise; the model is convolve1d(x, w) with w a Tensor, fitted by minimising the mean
squared error with plain gradient descent.

    python examples/learn_filter.py [--steps 150] [--lr 0.05] [--out runs/learn_filter.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
from autodiff import signal  # noqa: E402
from autodiff.signal import filters  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--mode", default="mirror")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/learn_filter.png")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    w_true = filters.gaussian(1.5, 4)
    x = rng.standard_normal((32, 256))  # 32 training signals
    y = signal.convolve1d(x, w_true, args.mode) + 0.01 * rng.standard_normal(x.shape)
    x_t, y_t = ad.Tensor(x), ad.Tensor(y)

    w = ad.Tensor(np.zeros_like(w_true), requires_grad=True)
    losses = []
    for step in range(args.steps):
        loss = ((signal.convolve1d(x_t, w, args.mode) - y_t) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
        w = ad.Tensor(w.numpy() - args.lr * w.grad.numpy(), requires_grad=True)  # a gradient step
        if step % 25 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {losses[-1]:.3e}  max |w - w_true| {np.abs(w.numpy() - w_true).max():.2e}")

    error = np.abs(w.numpy() - w_true).max()
    print(f"learned {np.round(w.numpy(), 4)}\ntrue    {np.round(w_true, 4)}\nmax error {error:.2e}")

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    j = np.arange(-4, 5)
    left.bar(j - 0.18, w_true, width=0.36, label="true: gaussian(1.5, 4)", color="black")
    left.bar(j + 0.18, w.numpy(), width=0.36, label=f"learned ({args.steps} steps)", color="tab:orange")
    left.set_xlabel("tap j")
    left.set_title(f"filter taps w_j (max error {error:.1e})")
    left.legend()
    right.semilogy(losses)
    right.set_xlabel("gradient step")
    right.set_title("training loss (mean squared error)")
    right.axhline(1e-4, color="gray", lw=0.8, ls="--", label="noise floor (0.01²)")
    right.legend()
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"saved {out}")


if __name__ == "__main__":
    main()
