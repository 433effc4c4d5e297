"""Speed of autodiff.signal.convolve1d: forward against scipy.ndimage.correlate1d and np.convolve,
and forward+backward on Tensors against the same filtering written by hand in NumPy.

n = 1,000,000 float64 samples, 9-tap Gaussian, modes zero, replicate and mirror; then batches of
rows (the last axis filtered, mode mirror) against SciPy and a Python loop of np.convolve.
Targets: ours/scipy < 1, ours/np.conv <= 1.5, T/NumPy <= 1.2 (np.convolve has no boundary modes:
it is the compiled-kernel reference for every mode). Every candidate is checked against the
others once, before timing. SciPy is optional (its columns are skipped without it).

    PYTHONPATH=. python benchmarks/bench_signal.py [--quick | --smoke] [--threads 1] [--clock cpu] [--json PATH]

Rounds are interleaved (every candidate once per round, a different one first each round), so
drifting load hits all candidates alike; forward and forward+backward candidates are timed in
separate comparisons. Medians are the headline; the tables also give the fastest round (``min``),
because on a machine shared with other jobs a millisecond-long call is often preempted and the
medians jump. Each candidate keeps its latest result until its next call, as a program keeps its
arrays (freeing it at once lets malloc return the pages, and re-faulting 8 MB of fresh pages can
cost more than the filtering itself).
"""

from __future__ import annotations

import sys

import common
import numpy as np

import autodiff as ad
from autodiff import signal
from autodiff.signal import filters

N, SMOKE_N = 1_000_000, 1000
MODES = ("zero", "replicate", "mirror")
BATCH_SHAPES = ((1000, 1000), (100_000, 10), (10, 100_000))
SMOKE_BATCH_SHAPES = ((10, 100), (100, 10), (2, 1000))
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


def keeping_result(fn):
    """``fn`` whose latest result lives until its next call (replaced only once the next one exists)."""
    kept = [None]

    def run():
        kept[0] = fn()

    return run


def check_agreement(ndimage, x, w, grad, mode):
    ours = signal.convolve1d(x, w, mode)
    if ndimage is not None:
        np.testing.assert_allclose(ours, ndimage.correlate1d(x, w, mode=SCIPY_MODE[mode]), atol=1e-12)
    z, gx, gw = numpy_forward_backward(x, w, grad, mode)
    zt, gxt, gwt = tensor_forward_backward(ad.Tensor(x, requires_grad=True), ad.Tensor(w, requires_grad=True), grad, mode)
    for a, b in ((ours, z), (zt.numpy(), z), (gxt.numpy(), gx), (gwt.numpy(), gw)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-9)


def ratio_rows(label, sec, pairs):
    """One row of a summary table: for each (case, over) of the comparison ``sec``, the median of
    the per-round ratios and the ratio of the fastest rounds; "n/a" when a case was skipped."""
    fastest = {r["case"]: r["min_s"] for r in sec["results"]}
    row, data = [label], {}
    for case, over in pairs:
        if case not in fastest or over not in fastest:
            row += ["n/a", "n/a"]
            continue
        med = float(np.median(common.paired_ratios(sec, case, over)))
        best = fastest[case] / fastest[over]
        row += [f"{med:.2f}", f"{best:.2f}"]
        data[f"{case}/{over}"] = {"median_of_ratios": med, "ratio_of_mins": best}
    return row, data


def main(argv=None):
    args, report = common.start(argv, "bench_signal", __doc__)
    ndimage = common.optional_import("scipy.ndimage")
    if ndimage is None:
        report.note("SciPy is not installed: its columns are skipped")
    report.note(common.threads_note(args))
    n = SMOKE_N if args.smoke else N
    rng = np.random.default_rng(0)
    x, grad = rng.standard_normal(n), rng.standard_normal(n)
    w = filters.gaussian(1.5, 4)  # 9 taps
    xt, wt = ad.Tensor(x, requires_grad=True), ad.Tensor(w, requires_grad=True)
    report.note("each mode is checked before it is timed: ours = scipy (when installed) = the NumPy filtering, "
                "and the Tensor forward+backward = the NumPy one")
    rows, data = [], {}
    for mode in MODES:
        check_agreement(ndimage, x, w, grad, mode)
        forward = {
            "ours": lambda mode=mode: signal.convolve1d(x, w, mode),
            "np.convolve": lambda: np.convolve(x, w[::-1], "same"),
        }
        if ndimage is not None:
            forward["scipy"] = lambda mode=mode: ndimage.correlate1d(x, w, mode=SCIPY_MODE[mode])
        both = {
            "Tensor f+b": lambda mode=mode: tensor_forward_backward(xt, wt, grad, mode),
            "NumPy f+b": lambda mode=mode: numpy_forward_backward(x, w, grad, mode),
        }
        fwd = report.compare(f"convolve1d forward, n = {n:,} float64, 9-tap Gaussian, mode '{mode}'",
                             {k: keeping_result(f) for k, f in forward.items()}, baseline="np.convolve",
                             target="ours/np.conv <= 1.5; ours/scipy < 1 (summary table below)")
        fb = report.compare(f"convolve1d forward+backward on Tensors vs by hand in NumPy, n = {n:,}, mode '{mode}'",
                            {k: keeping_result(f) for k, f in both.items()}, baseline="NumPy f+b",
                            target="T/NumPy <= 1.2")
        row_f, data_f = ratio_rows(mode, fwd, [("ours", "scipy"), ("ours", "np.convolve")])
        row_b, data_b = ratio_rows(mode, fb, [("Tensor f+b", "NumPy f+b")])
        rows.append(row_f + row_b[1:])
        data[mode] = {**data_f, **data_b}
    report.table(f"convolve1d, n = {n:,}: the target ratios (ours/scipy < 1, ours/np.conv <= 1.5, T/NumPy <= 1.2); "
                 "med = median of the per-round ratios, min = ratio of the fastest rounds (insensitive to other "
                 "processes on a busy machine)",
                 ["mode", "ours/scipy med", "min", "ours/np.conv med", "min", "T/NumPy med", "min"], rows, data)
    batched(report, ndimage, w, SMOKE_BATCH_SHAPES if args.smoke else BATCH_SHAPES)
    return report.finish()


def batched(report, ndimage, w, shapes):
    """Batches of rows (the last axis filtered), mirror mode: ours against SciPy along axis -1 and
    a Python loop of np.convolve over the rows (boundary ignored: a lower bound for such a loop)."""
    rng = np.random.default_rng(1)
    m = len(w) // 2
    rows, data = [], {}
    for shape in shapes:
        x = rng.standard_normal(shape)
        cands = {
            "ours": lambda x=x: signal.convolve1d(x, w, "mirror"),
            "row loop": lambda x=x: np.stack([np.convolve(row, w[::-1], "same") for row in x]),
        }
        if ndimage is not None:
            cands["scipy"] = lambda x=x: ndimage.correlate1d(x, w, axis=-1, mode="mirror")
            np.testing.assert_allclose(cands["ours"](), cands["scipy"](), atol=1e-12)
        # the loop pads with zeros: it agrees with ours away from the boundary
        np.testing.assert_allclose(cands["ours"]()[:, m:-m], cands["row loop"]()[:, m:-m], atol=1e-12)
        sec = report.compare(f"batched convolve1d forward, shape {shape}, mode 'mirror', same filter",
                             {k: keeping_result(f) for k, f in cands.items()}, baseline="row loop")
        row, data[str(shape)] = ratio_rows(str(shape), sec, [("ours", "scipy"), ("ours", "row loop")])
        rows.append(row)
    report.table("batched forward, mode 'mirror': ratios (med = median of the per-round ratios, min = ratio of "
                 "the fastest rounds); the row loop ignores the boundary (a lower bound for such a loop)",
                 ["shape", "ours/scipy med", "min", "ours/loop med", "min"], rows, data)


if __name__ == "__main__":
    main(sys.argv[1:])
