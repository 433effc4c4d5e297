"""Train an MLP on the bundled handwritten digits with nn.fit (Adam, early stopping) and draw the
learning curves and some test predictions (mistakes in red).

    python examples/digits_mlp.py [--out runs] [--epochs 40] [--hidden 128]
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
from autodiff import datasets, nn  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs", help="output folder (default: runs)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    X, y = datasets.digits()  # (1797, 64) in [0, 1]
    train, val, (Xte, yte) = datasets.train_val_test_split(X, y, val=0.15, test=0.15, seed=1)
    model = nn.MLP([64, args.hidden, 10], dropout=0.1, rng=args.seed)
    opt = nn.optim.Adam(model.parameters(), lr=2e-3)
    history = nn.fit(model, nn.cross_entropy, opt, train, val, epochs=args.epochs, batch_size=32,
                     rng=args.seed, early_stopping=8)
    model.eval()
    with ad.no_grad():
        logits = model(ad.Tensor(Xte))
    pred = logits.numpy().argmax(axis=1)
    test_acc = float(np.mean(pred == yte))
    best = history["best_epoch"]
    print(f"best epoch {best}: val accuracy {history['val_acc'][best]:.3f}; test accuracy {test_acc:.3f} "
          f"({len(yte)} images)")
    weights = model.save(out / "digits_mlp.npz")

    fig = plt.figure(figsize=(12, 8.5))
    grid = fig.add_gridspec(4, 8, height_ratios=[1.4, 1.4, 1, 1])
    ax = fig.add_subplot(grid[:2, :4])
    epochs = np.arange(len(history["train_loss"]))
    ax.plot(epochs, history["train_loss"], label="train")
    ax.plot(epochs, history["val_loss"], label="validation")
    ax.axvline(best, color="gray", ls=":", label=f"best epoch ({best}), weights restored")
    ax.set(xlabel="epoch", ylabel="cross-entropy (log scale)", yscale="log", title="Loss")
    ax.legend()
    ax = fig.add_subplot(grid[:2, 4:])
    ax.plot(epochs, history["train_acc"], label="train (running average, dropout on)")
    ax.plot(epochs, history["val_acc"], label="validation")
    ax.axhline(test_acc, color="k", ls="--", lw=1, label=f"test, best weights: {test_acc:.3f}")
    ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0.85, 1.002), title="Accuracy")
    ax.legend(loc="lower right")
    wrong = np.flatnonzero(pred != yte)[:8]
    show = np.r_[wrong, np.flatnonzero(pred == yte)[: 16 - len(wrong)]]
    for k, i in enumerate(show):
        a = fig.add_subplot(grid[2 + k // 8, k % 8])
        a.imshow(Xte[i].reshape(8, 8), cmap="gray_r")
        a.set_title(f"predicted {pred[i]}\n(true {yte[i]})", color="red" if pred[i] != yte[i] else "black",
                    fontsize=9)
        a.axis("off")
    fig.suptitle(f"MLP 64-{args.hidden}-10 (dropout 0.1, Adam) on the UCI digits: test accuracy {test_acc:.1%}; "
                 f"test images below, mistakes in red")
    fig.tight_layout()
    path = out / "digits_mlp.png"
    fig.savefig(path, dpi=110)
    print(f"wrote {path} and {weights} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
