"""The lecture's filtering pictures: a noisy signal and what averaging, a Gaussian, sharpening, the
Laplacian and the Laplacian of a Gaussian make of it, side by side.

    python examples/signal_filters.py [--mode replicate] [--out runs/signal_filters.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from autodiff import signal  # noqa: E402
from autodiff.signal import filters  # noqa: E402


def test_signal(n=400, noise=0.15, seed=0):
    """A step, a ramp and a smooth bump, plus Gaussian noise."""
    t = np.arange(n)
    clean = np.where(t < n // 4, 0.0, 1.0)
    clean += np.clip((t - n // 2) / (n // 8), 0, 1) * (t < 3 * n // 4) - 1.0 * (t >= 3 * n // 4)
    clean += 0.8 * np.exp(-0.5 * ((t - 0.85 * n) / 8) ** 2)
    rng = np.random.default_rng(seed)
    return clean, clean + noise * rng.standard_normal(n)


def taps(w):
    return "[" + " ".join(f"{v:.2g}" for v in w) + "]" if len(w) <= 5 else f"{len(w)} taps"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="replicate", help="boundary mode (zero replicate mirror symmetric circular)")
    parser.add_argument("--out", default="runs/signal_filters.png")
    args = parser.parse_args()

    clean, noisy = test_signal()
    panels = [
        ("average(9): blur", filters.average(9)),
        ("gaussian(σ=3, m=9): smooth blur", filters.gaussian(3.0, 9)),
        ("sharpen(): edges steeper, noise louder", filters.sharpen()),
        ("laplacian(): ≈ -x'', buried in noise", filters.laplacian()),
        ("laplacian_of_gaussian(σ=4, m=12): edges and bumps", filters.laplacian_of_gaussian(4.0, 12)),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(15, 7), sharex=True)
    ax = axes.flat[0]
    ax.plot(noisy, color="tab:gray", lw=0.8, label="noisy x")
    ax.plot(clean, color="black", lw=1.5, label="clean")
    ax.set_title("input: step, ramp, bump + noise")
    ax.legend(loc="upper left", fontsize=8)
    for ax, (title, w) in zip(list(axes.flat)[1:], panels):
        z = signal.convolve1d(noisy, w, args.mode)
        ax.plot(noisy, color="tab:gray", lw=0.5, alpha=0.35)
        ax.plot(z, color="tab:blue", lw=1.2, label=f"z = x ⋆ w, w = {taps(w)}")
        ax.axhline(0, color="black", lw=0.4)
        ax.set_title(title)
        ax.legend(loc="upper left", fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("sample i")
    fig.suptitle(f"z_i = Σ_j w_j x_(i+j), boundary mode '{args.mode}'")
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"saved {out}")


if __name__ == "__main__":
    main()
