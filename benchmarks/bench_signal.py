"""Speed of autodiff.signal.convolve1d: forward against scipy.ndimage.correlate1d and np.convolve,
and forward+backward on Tensors against the same filtering written by hand in NumPy.

Run:  PYTHONPATH=. python benchmarks/bench_signal.py [--n 1000000] [--repeats 15]
SciPy is optional (its columns are skipped without it). Repeats are interleaved (every candidate
once per round) and medians are reported, so drifting machine load hits all candidates alike; forward candidates and
forward+backward candidates are timed in separate groups (each compared within its group).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import autodiff as ad
from autodiff import signal
from autodiff.signal import filters

try:
    from scipy import ndimage
except ImportError:  # the comparison is optional
    ndimage = None

NUMPY_MODE = {"zero": "constant", "replicate": "edge", "mirror": "reflect"}
SCIPY_MODE = {"zero": "constant", "replicate": "nearest", "mirror": "mirror"}


def numpy_forward_backward(x, w, grad, mode):
    """The filtering and its gradients written directly in NumPy (the baseline for Tensors)."""
    m, n = len(w) // 2, x.shape[-1]
    xp = np.pad(x, m, mode=NUMPY_MODE[mode])
    z = np.correlate(xp, w, "valid")
    gxp = np.convolve(grad, w, "full")  # d/dxp: correlation of grad with the flipped filter
    gx = gxp[m : m + n].copy()
    if mode != "zero":  # fold the padded cells back onto the samples they copy
        src = np.pad(np.arange(n), m, mode=NUMPY_MODE[mode])
        cells = np.r_[0:m, m + n : n + 2 * m]
        np.add.at(gx, src[cells], gxp[cells])
    gw = np.array([np.einsum("i,i->", xp[k : k + n], grad) for k in range(len(w))])
    return z, gx, gw


def tensor_forward_backward(xt, wt, grad, mode):
    xt.grad = wt.grad = None
    z = signal.convolve1d(xt, wt, mode)
    z.backward(grad)
    return z, xt.grad, wt.grad


def run_interleaved(candidates, repeats):
    """Median ms per candidate; every round runs each candidate once, starting with a different
    one each round, so neither drifting load nor the previous candidate's memory use favours one."""
    names = list(candidates)
    times = {name: [] for name in names}
    kept = {}  # each candidate's latest result lives until its next call, as a program keeps its
    # arrays; freeing it at once lets malloc hand the pages back to the OS, and on this kind of
    # machine re-faulting 8 MB of fresh pages costs ~4 ms, more than the filtering itself
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            result = candidates[name]()
            times[name].append(time.perf_counter() - t0)
            kept[name] = result
    return {name: float(np.median(ts)) * 1e3 for name, ts in times.items()}


def check_agreement(x, w, grad, mode):
    ours = signal.convolve1d(x, w, mode)
    if ndimage is not None:
        np.testing.assert_allclose(ours, ndimage.correlate1d(x, w, mode=SCIPY_MODE[mode]), atol=1e-12)
    z, gx, gw = numpy_forward_backward(x, w, grad, mode)
    zt, gxt, gwt = tensor_forward_backward(ad.Tensor(x, requires_grad=True), ad.Tensor(w, requires_grad=True), grad, mode)
    for a, b in ((ours, z), (zt.numpy(), z), (gxt.numpy(), gx), (gwt.numpy(), gw)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-9)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x, grad = rng.standard_normal(args.n), rng.standard_normal(args.n)
    w = filters.gaussian(1.5, 4)  # 9 taps
    xt, wt = ad.Tensor(x, requires_grad=True), ad.Tensor(w, requires_grad=True)
    print(
        f"n = {args.n:,} float64 samples, 9-tap Gaussian, {args.repeats} interleaved repeats, medians in ms\n"
        f"numpy {np.__version__}, python {platform.python_version()}, {os.cpu_count()} cores, "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
        f"scipy {'available' if ndimage is not None else 'not installed'}"
    )
    rows = []
    for mode in ("zero", "replicate", "mirror"):
        check_agreement(x, w, grad, mode)
        forward = {
            "ours": lambda mode=mode: signal.convolve1d(x, w, mode),
            "np.convolve": lambda: np.convolve(x, w[::-1], "same"),
        }
        if ndimage is not None:
            forward["scipy"] = lambda mode=mode: ndimage.correlate1d(x, w, mode=SCIPY_MODE[mode])
        both = {
            "tensor f+b": lambda mode=mode: tensor_forward_backward(xt, wt, grad, mode),
            "numpy f+b": lambda mode=mode: numpy_forward_backward(x, w, grad, mode),
        }
        rows.append((mode, {**run_interleaved(forward, args.repeats), **run_interleaved(both, args.repeats)}))

    nan = float("nan")
    header = (
        f"{'mode':<10}{'ours':>8}{'scipy':>8}{'np.conv':>9}{'ours/scipy':>12}{'ours/np.conv':>14}"
        f"{'T f+b':>8}{'NumPy f+b':>11}{'T/NumPy':>9}"
    )
    print(header)
    print("-" * len(header))
    for mode, t in rows:
        sp = t.get("scipy", nan)
        print(
            f"{mode:<10}{t['ours']:8.2f}{sp:8.2f}{t['np.convolve']:9.2f}{t['ours'] / sp:12.2f}"
            f"{t['ours'] / t['np.convolve']:14.2f}{t['tensor f+b']:8.2f}{t['numpy f+b']:11.2f}"
            f"{t['tensor f+b'] / t['numpy f+b']:9.2f}"
        )
    print("targets: ours/scipy < 1, ours/np.conv <= 1.5, T/NumPy <= 1.2 "
          "(np.convolve has no boundary modes: it is the compiled-kernel reference for every mode)")
    batched(w, args.repeats)


def batched(w, repeats):
    """Batches of rows (the last axis filtered), mirror mode: ours against SciPy along axis -1 and
    a Python loop of np.convolve over the rows (boundary ignored: a lower bound for such a loop)."""
    rng = np.random.default_rng(1)
    print(f"\nbatched forward, mode 'mirror', same filter, {repeats} interleaved repeats, medians in ms")
    header = f"{'shape':<14}{'ours':>8}{'scipy':>8}{'row loop':>10}{'ours/scipy':>12}{'ours/loop':>11}"
    print(header)
    print("-" * len(header))
    for shape in ((1000, 1000), (100_000, 10), (10, 100_000)):
        x = rng.standard_normal(shape)
        cands = {
            "ours": lambda x=x: signal.convolve1d(x, w, "mirror"),
            "loop": lambda x=x: np.stack([np.convolve(row, w[::-1], "same") for row in x]),
        }
        if ndimage is not None:
            cands["scipy"] = lambda x=x: ndimage.correlate1d(x, w, axis=-1, mode="mirror")
            np.testing.assert_allclose(cands["ours"](), cands["scipy"](), atol=1e-12)
        t = run_interleaved(cands, repeats)
        sp = t.get("scipy", float("nan"))
        print(f"{str(shape):<14}{t['ours']:8.2f}{sp:8.2f}{t['loop']:10.2f}{t['ours'] / sp:12.2f}{t['ours'] / t['loop']:11.2f}")


if __name__ == "__main__":
    main()
