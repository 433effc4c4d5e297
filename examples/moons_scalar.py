"""micrograd's demo on the scalar back end: an MLP 2-16-16-1 separates the two moons with the
hinge loss + L2 regularisation, every number a Scalar node; then the decision boundary.

    python examples/moons_scalar.py [--out runs] [--steps 100]

As in micrograd's demo.ipynb: 100 points, full-batch SGD with the step size decaying linearly
from 1.0 to 0.1, loss = mean(relu(1 - y·score)) + 1e-4·Σw². The trained weights are copied to
the NumPy back end (``load_state_dict``) to draw the boundary on a fine grid quickly.
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
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    X, y01 = datasets.moons(100, noise=0.1, rng=args.seed)
    y = 2 * y01 - 1  # labels -1 / +1 for the hinge loss
    model = nn.MLP([2, 16, 16, 1], rng=args.seed).to("scalar")
    n_nodes = sum(p.size for p in model.parameters())
    opt = nn.optim.SGD(model.parameters(), lr=1.0)
    x = ad.Tensor(X, backend="scalar")
    losses, accs = [], []
    for k in range(args.steps):
        opt.param_groups[0]["lr"] = 1.0 - 0.9 * k / args.steps  # micrograd's linear decay
        scores = model(x).reshape(-1)
        data_loss = nn.hinge_loss(scores, y)
        loss = data_loss + nn.l2_penalty(model.parameters(), 2e-4)  # (2e-4 / 2)·Σw² = 1e-4·Σw²
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        accs.append(float(np.mean((scores.numpy() > 0) == (y > 0))))
        if k % 10 == 0 or k == args.steps - 1:
            print(f"step {k:3d}  loss {losses[-1]:.4f}  accuracy {accs[-1]:.0%}")
    train_time = time.perf_counter() - start

    fast = nn.MLP([2, 16, 16, 1], rng=args.seed)  # the same weights on the NumPy back end
    fast.load_state_dict(model.state_dict())
    xx, yy = np.meshgrid(np.linspace(-1.6, 2.6, 300), np.linspace(-1.1, 1.6, 200))
    with ad.no_grad():
        zz = fast(ad.Tensor(np.c_[xx.ravel(), yy.ravel()])).numpy().reshape(xx.shape)

    fig, (a0, a1) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1.5, 1]})
    a0.contourf(xx, yy, zz, levels=[-1e9, 0, 1e9], colors=["#f4b6b6", "#b6cdf4"], alpha=0.8)
    a0.contour(xx, yy, zz, levels=[-1, 1], colors="gray", linestyles=":", linewidths=1)
    a0.contour(xx, yy, zz, levels=[0], colors="k", linewidths=1.5)
    for label, color, marker in ((-1, "#c0392b", "o"), (1, "#1f4e9c", "s")):
        sel = y == label
        a0.scatter(X[sel, 0], X[sel, 1], c=color, marker=marker, edgecolors="k", s=30, label=f"y = {label:+d}")
    a0.set(xlabel="$x_1$", ylabel="$x_2$", title="Decision boundary (score 0, solid) and margins (±1, dotted)")
    a0.legend(loc="lower left")
    steps = np.arange(len(losses))
    a1.plot(steps, losses, color="C0")
    a1.set(xlabel="SGD step (full batch)", title="Training")
    a1.set_ylabel("hinge loss + L2 (log scale)", color="C0")
    a1.set_yscale("log")
    a2 = a1.twinx()
    a2.plot(steps, accs, color="C1")
    a2.set_ylabel("training accuracy", color="C1")
    a2.set_ylim(0.4, 1.02)
    fig.suptitle(f"MLP 2-16-16-1 on the scalar back end ({n_nodes} parameters, each a Scalar node): "
                 f"accuracy {accs[-1]:.0%}, {train_time:.0f} s for {args.steps} steps")
    fig.tight_layout()
    path = out / "moons_scalar.png"
    fig.savefig(path, dpi=110)
    print(f"wrote {path} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
