"""Vanishing gradients: per-layer gradient norms of a deep sigmoid network against a ReLU network
(and tanh) on the digits, at initialisation and while training with plain SGD.

    python examples/vanishing_gradients.py [--out runs] [--depth 10] [--epochs 15]

Backpropagation multiplies the gradient by σ'(z) ≤ 1/4 at every sigmoid layer, so the layers
near the input of a deep sigmoid net receive gradients orders of magnitude smaller than the top
ones and barely learn; ReLU (derivative 1 where active) with He initialisation keeps the norms
of all layers comparable.
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

NETS = {"sigmoid": ("sigmoid", "glorot_uniform"), "tanh": ("tanh", "glorot_uniform"), "relu": ("relu", "he")}


def layer_grad_norms(model, X, y):
    """‖∂L/∂W‖ (Frobenius) of every Linear layer's weight, input layer first, for one batch."""
    model.zero_grad()
    nn.cross_entropy(model(ad.Tensor(X)), y).backward()
    return [float(np.linalg.norm(m.weight.grad.numpy())) for m in model if isinstance(m, nn.Linear)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs", help="output folder (default: runs)")
    ap.add_argument("--depth", type=int, default=10, help="hidden layers (default 10)")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    X, y = datasets.digits()
    train, val, _ = datasets.train_val_test_split(X, y, val=0.15, test=0.15, seed=0)
    sizes = [64] + [args.width] * args.depth + [10]
    at_init, during, curves = {}, {}, {}
    for name, (act, init) in NETS.items():
        # the norms at initialisation, averaged over 5 random networks
        norms = [layer_grad_norms(nn.MLP(sizes, activation=act, init=init, rng=s), *train) for s in range(5)]
        at_init[name] = np.exp(np.mean(np.log(norms), axis=0))
        model = nn.MLP(sizes, activation=act, init=init, rng=args.seed)
        opt = nn.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
        during[name], losses = [], []
        for _ in range(args.epochs):
            h = nn.fit(model, nn.cross_entropy, opt, train, val, epochs=1, batch_size=32, rng=args.seed,
                       restore_best=False, progress=False)
            losses.append(h["train_loss"][0])
            during[name].append(layer_grad_norms(model, *train))
        curves[name] = (losses, h["val_acc"][0])
        ratio = at_init[name][0] / at_init[name][-1]
        print(f"{name:>7}: |grad W1| / |grad W_out| at init = {ratio:.1e}; "
              f"after {args.epochs} epochs: train loss {losses[-1]:.3f}, val accuracy {h['val_acc'][0]:.3f}")

    colors = {"sigmoid": "C3", "tanh": "C2", "relu": "C0"}
    layers = np.arange(1, len(sizes))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    ax = axes[0]
    for name, norms in at_init.items():
        ax.plot(layers, norms, "o-", color=colors[name], label=name)
    ax.set(yscale="log", xlabel="layer (1 = next to the input)", ylabel="‖∂L/∂W‖ (log scale)",
           title=f"Gradient norm per layer at initialisation\n(mean of 5 nets, {args.depth} hidden layers of {args.width})")
    ax.set_xticks(layers)
    ax.legend()
    ax = axes[1]
    for name, history in during.items():
        h = np.array(history)
        ax.plot(np.arange(1, args.epochs + 1), h[:, 0], "-", color=colors[name], label=f"{name}: layer 1")
        ax.plot(np.arange(1, args.epochs + 1), h[:, -1], "--", color=colors[name], label=f"{name}: output layer")
    ax.set(yscale="log", xlabel="epoch", ylabel="‖∂L/∂W‖ on the training set (log scale)",
           title="First and last layer during training")
    ax.legend(fontsize=8, ncol=1)
    ax = axes[2]
    for name, (losses, acc) in curves.items():
        ax.plot(np.arange(1, args.epochs + 1), losses, "o-", ms=3, color=colors[name],
                label=f"{name} (val accuracy {acc:.2f})")
    ax.axhline(np.log(10), color="gray", ls=":", label="chance: log 10")
    ax.set(xlabel="epoch", ylabel="training cross-entropy", title=f"SGD, lr {args.lr}, momentum 0.9")
    ax.legend(fontsize=9)
    fig.suptitle(f"Vanishing gradients in an MLP with {args.depth} hidden layers on the digits")
    fig.tight_layout()
    path = out / "vanishing_gradients.png"
    fig.savefig(path, dpi=110)
    print(f"wrote {path} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
