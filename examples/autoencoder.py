"""An autoencoder and a denoising autoencoder on the digits (64 -> 128 -> 24 -> 128 -> 64), trained
with mean squared error; the picture shows noisy test digits and what each network makes of them.

    python examples/autoencoder.py [--out runs] [--epochs 80] [--noise 0.3]

The plain autoencoder learns to copy clean images through a 24-number bottleneck; the denoising
one sees corrupted inputs (Gaussian noise plus randomly blanked pixels, fresh every epoch) and
is trained to output the clean image, so it learns what digits look like rather than the
identity map.
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

CODE = 24  # size of the bottleneck


def corrupt(X, noise, rng):
    """Gaussian noise of std ``noise`` and a fraction ``noise`` of pixels blanked, clipped to [0, 1]."""
    keep = rng.random(X.shape) >= noise
    return np.clip(X * keep + rng.normal(scale=noise, size=X.shape), 0.0, 1.0)


def autoencoder(seed):
    return nn.Sequential(
        nn.MLP([64, 128, CODE], rng=seed),  # encoder: the last layer is linear (the code)
        nn.ReLU(),
        nn.MLP([CODE, 128, 64], rng=seed + 1),  # decoder
        nn.Sigmoid(),  # pixels in [0, 1]
    )


def train(model, Xtr, Xval, epochs, noise, rng):
    opt = nn.optim.Adam(model.parameters(), lr=3e-3)
    curve = []
    for _ in range(epochs):
        inputs = corrupt(Xtr, noise, rng) if noise else Xtr  # fresh corruption every epoch
        h = nn.fit(model, nn.mse_loss, opt, (inputs, Xtr), epochs=1, batch_size=64, rng=rng, metric=None,
                   restore_best=False, progress=False)
        curve.append(h["train_loss"][0])
    model.eval()
    with ad.no_grad():
        val = nn.mse_loss(model(ad.Tensor(corrupt(Xval, noise or 0.3, np.random.default_rng(1)))), Xval).item()
    return curve, val


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs", help="output folder (default: runs)")
    ap.add_argument("--epochs", type=int, default=80)
    ap.add_argument("--noise", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)

    X, _ = datasets.digits()
    (Xtr, _), _, (Xte, _) = datasets.train_val_test_split(X, np.zeros(len(X)), val=0.0, test=0.15, seed=0,
                                                         stratify=False)
    plain, denoising = autoencoder(args.seed), autoencoder(args.seed)
    curve_ae, val_ae = train(plain, Xtr, Xte, args.epochs, 0.0, rng)
    curve_dae, val_dae = train(denoising, Xtr, Xte, args.epochs, args.noise, rng)
    print(f"test MSE on corrupted inputs (noise {args.noise}): autoencoder {val_ae:.4f}, "
          f"denoising autoencoder {val_dae:.4f}")

    show = Xte[:8]
    noisy = corrupt(show, args.noise, np.random.default_rng(2))
    with ad.no_grad():
        rows = [
            ("original", show),
            ("autoencoder\n(original)", plain(ad.Tensor(show)).numpy()),
            (f"corrupted\n(noise {args.noise})", noisy),
            ("autoencoder\n(corrupted)", plain(ad.Tensor(noisy)).numpy()),
            ("denoising AE\n(corrupted)", denoising(ad.Tensor(noisy)).numpy()),
        ]
    fig = plt.figure(figsize=(13, 7))
    grid = fig.add_gridspec(len(rows), len(show), left=0.11, right=0.6, top=0.88, bottom=0.05, wspace=0.08, hspace=0.12)
    for r, (name, images) in enumerate(rows):
        for c, img in enumerate(images):
            a = fig.add_subplot(grid[r, c])
            a.imshow(img.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            a.set_xticks([])
            a.set_yticks([])
            if c == 0:
                a.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    ax = fig.add_axes([0.69, 0.2, 0.29, 0.6])
    ax.plot(curve_ae, label="autoencoder (clean inputs)")
    ax.plot(curve_dae, label="denoising (corrupted inputs)")
    ax.set(xlabel="epoch", ylabel="training MSE against the clean image (log scale)", yscale="log",
           title="Training loss")
    ax.legend(fontsize=9)
    fig.suptitle(f"Autoencoders 64-128-{CODE}-128-64 on test digits. Test MSE from corrupted inputs: "
                 f"plain {val_ae:.4f}, denoising {val_dae:.4f}")
    path = out / "autoencoder.png"
    fig.savefig(path, dpi=110)
    print(f"wrote {path} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
