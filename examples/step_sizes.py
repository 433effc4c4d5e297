"""Choosing the step size: babysitting plain SGD by hand, Bottou's search on a small sample
(``nn.optim.find_step_size``), and Adam with its default — training-loss curves on the digits.

    python examples/step_sizes.py [--out runs] [--epochs 20]

Babysitting trains once per candidate step size and keeps the best curve (each candidate costs a
full run). Bottou's trick spends a few steps on ~5% of the training set per candidate, picks the
step size that lowers the loss most, then trains once. Adam adapts per-coordinate steps and is
usually fine with lr = 1e-3.
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from autodiff import datasets, nn  # noqa: E402

SIZES = [64, 128, 64, 10]


def run(train, val, make_optimizer, epochs, seed):
    model = nn.MLP(SIZES, rng=seed)
    opt = make_optimizer(model.parameters())
    t = time.perf_counter()
    h = nn.fit(model, nn.cross_entropy, opt, train, val, epochs=epochs, batch_size=32, rng=seed, progress=False)
    return h, time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs", help="output folder (default: runs)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    X, y = datasets.digits()
    train, val, _ = datasets.train_val_test_split(X, y, val=0.15, test=0.15, seed=0)

    babysat = {}
    for lr in (1e-3, 1e-2, 1e-1, 1.0, 3.0):
        babysat[lr] = run(train, val, lambda ps, lr=lr: nn.optim.SGD(ps, lr=lr), args.epochs, args.seed)
        h = babysat[lr][0]
        print(f"SGD lr {lr:<6g} final train loss {h['train_loss'][-1]:.4f}  val accuracy {h['val_acc'][-1]:.3f}")
    finite = {lr: r for lr, r in babysat.items() if np.isfinite(r[0]["train_loss"][-1])}
    best_lr = min(finite, key=lambda lr: finite[lr][0]["train_loss"][-1])

    t = time.perf_counter()
    probe = nn.MLP(SIZES, rng=args.seed)
    found, tried = nn.optim.find_step_size(probe, nn.cross_entropy, *train, steps=20, rng=args.seed,
                                           return_losses=True)
    search_time = time.perf_counter() - t
    bottou, bottou_time = run(train, val, lambda ps: nn.optim.SGD(ps, lr=found), args.epochs, args.seed)
    adam, adam_time = run(train, val, lambda ps: nn.optim.Adam(ps), args.epochs, args.seed)
    print(f"Bottou search: lr {found:.3g} after {len(tried)} trials in {search_time:.1f} s; "
          f"final train loss {bottou['train_loss'][-1]:.4f}, val accuracy {bottou['val_acc'][-1]:.3f}")
    print(f"Adam lr 1e-3: final train loss {adam['train_loss'][-1]:.4f}, val accuracy {adam['val_acc'][-1]:.3f}")

    epochs = np.arange(1, args.epochs + 1)
    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    ax = axes[0]
    cmap = plt.get_cmap("viridis")
    for i, (lr, (h, _)) in enumerate(babysat.items()):
        loss = np.asarray(h["train_loss"], dtype=float)
        ok = np.isfinite(loss) & (loss < 10)
        note = "" if ok.all() else " (blew up, then stuck)"
        ax.plot(epochs[ok], loss[ok], "o-", ms=3, color=cmap(i / (len(babysat) - 1)), label=f"lr {lr:g}{note}")
    ax.set(yscale="log", xlabel="epoch", ylabel="training cross-entropy (log scale)",
           title=f"Babysitting: plain SGD, one full run per step size\n(best: lr {best_lr:g}, "
                 f"{len(babysat)} runs, {sum(t for _, t in babysat.values()):.0f} s)")
    ax.legend(fontsize=9)
    ax = axes[1]
    lrs = np.array(list(tried))
    losses = np.array([tried[k] for k in tried])
    finite_l = np.isfinite(losses)
    ax.plot(lrs[finite_l], losses[finite_l], "o", color="C0", label="one trial (20 steps)")
    if not finite_l.all():
        ax.plot(lrs[~finite_l], np.full((~finite_l).sum(), np.nanmax(losses[finite_l]) * 1.5), "x", color="C3",
                label="trial diverged (nan/inf)")
    ax.axvline(found, color="C1", label=f"chosen lr {found:.3g}")
    ax.set(xscale="log", yscale="log", xlabel="step size", ylabel="loss on the 5% sample (log scale)",
           title=f"Bottou's search on ~5% of the training set\n({len(tried)} trials, {search_time:.1f} s)")
    ax.legend(fontsize=9, loc="center left")
    ax = axes[2]
    hb = babysat[best_lr][0]
    ax.plot(epochs, hb["train_loss"], "o-", ms=3, color="gray",
            label=f"best babysat SGD, lr {best_lr:g} (val acc {hb['val_acc'][-1]:.3f})")
    ax.plot(epochs, bottou["train_loss"], "o-", ms=3, color="C1",
            label=f"SGD, Bottou's lr {found:.3g} (val acc {bottou['val_acc'][-1]:.3f})")
    ax.plot(epochs, adam["train_loss"], "o-", ms=3, color="C2",
            label=f"Adam, default lr 1e-3 (val acc {adam['val_acc'][-1]:.3f})")
    ax.set(yscale="log", xlabel="epoch", ylabel="training cross-entropy (log scale)",
           title="The three choices, one run each")
    ax.legend(fontsize=9)
    fig.suptitle(f"Step sizes for an MLP {'-'.join(map(str, SIZES))} on the digits (batch 32)")
    fig.tight_layout()
    path = out / "step_sizes.png"
    fig.savefig(path, dpi=110)
    print(f"wrote {path} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
