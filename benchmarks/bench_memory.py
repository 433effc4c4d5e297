"""Memory of one training step (tracemalloc, float32): autodiff vs the hand-written NumPy step.

Models: (a) the MLP 784-1024-1024-10 (ReLU, softmax cross-entropy, batch 256) of bench_mlp.py,
and (b) the small CNN of bench_conv.py (batch 32 of 1x28x28, conv 3x3 1->8, ReLU, conv 3x3
8->16, ReLU, max pool 2, linear to 10, cross-entropy). Each compares autodiff as a user writes
it with the hand-written NumPy step of the same model, imported from those modules:

- MLP: ``ad.linear`` + ``relu`` + ``nn.cross_entropy``; ``nn.Sequential`` of ``nn.Linear`` and
  ``nn.ReLU`` with ``nn.cross_entropy``; and, for reference, the raw program of bench_mlp's
  "indexed NLL" case (``x @ W + b``, ``relu``, ``log_softmax``, ``-logp[rows, y].mean()``: two
  nodes per layer); against ``bench_mlp.numpy_loss_and_grads`` (forward and backward, in place
  where it can, no update).
- CNN: the forward of ``bench_conv.autodiff_step``, line for line (that function drops the
  gradients itself, so it cannot be measured after backward), backward, then the same SGD update;
  against ``bench_conv.numpy_step`` (forward, backward and SGD update; it keeps both im2col
  matrices until it returns, so it is a plain NumPy step, not a memory floor). The autodiff
  update runs after measurement (2), so both peaks include the update's temporaries.

What is measured, for each implementation, with tracemalloc (which sees NumPy's array buffers as
well as Python objects):

- The parameters, the input batch (for autodiff: already wrapped as Tensors) and the labels are
  allocated before tracemalloc starts, so they are not counted. Each measurement starts from a
  fresh state (gradients None: a gradient accumulated into an old array would hide its bytes)
  after ``gc.collect()``, and after a first step has run (the agreement check), so one-time
  caches are warm.
- (1) peak: ``tracemalloc.reset_peak()``, then the forward and backward pass (for autodiff
  ``loss.backward()`` without retain_graph), then the peak of traced memory: everything the step
  had allocated at its worst moment, the gradients included.
- (2) held - grads: the traced memory still allocated right after backward while the caller
  still holds the loss (autodiff: the loss Tensor; NumPy: the returned loss and gradients),
  minus the bytes of the parameter gradients (the sum of their ``nbytes``), i.e. what the graph
  keeps alive once backward is over. It is taken before any collection: garbage in reference
  cycles counts until the collector runs (a note says when ``gc.collect()`` would free some).
- grads: the sum of the gradients' nbytes (the same for every implementation of a model).

Targets for the engine: autodiff's peak <= 1.1x the NumPy step's peak, and held - grads <= 10%
of the NumPy step's peak. Each measurement is repeated (3 times, once with --smoke) and the
median reported. Before measuring, every implementation is checked to give the NumPy step's loss
and gradients (rtol 2e-3, float32). A note lists where the autodiff memory still held after
backward was allocated (by the autodiff source line that allocated each block). The same steps
are then timed, with the NumPy step as the baseline of each model (tracemalloc off).

    PYTHONPATH=. python benchmarks/bench_memory.py [--quick | --smoke] [--threads 1] [--json PATH]
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import tracemalloc

import bench_conv
import bench_mlp
import common
import numpy as np

import autodiff as ad
from autodiff import nn

MiB = 2**20
PEAK_TARGET, HELD_TARGET = 1.1, 0.10
MLP_SIZES, MLP_BATCH = (784, 1024, 1024, 10), 256


# --- the implementations: run() is forward + backward, returning what the caller holds ----------


class NumpyMLP:
    """``bench_mlp.numpy_loss_and_grads``: returns (loss, grads); nothing else outlives it."""

    def __init__(self, params0, X, y):
        self.params, self.X, self.y = [p.copy() for p in params0], X, y

    def reset(self):
        pass

    def run(self):
        return bench_mlp.numpy_loss_and_grads(self.params, self.X, self.y)

    def update(self, held):
        pass

    def loss(self, held):
        return float(held[0])

    def grads(self, held):
        return held[1]


class AutodiffMLP:
    """``ad.linear`` + ``relu`` + ``nn.cross_entropy`` on Tensors that require grad."""

    def __init__(self, params0, X, y):
        self.params = [ad.Tensor(p.copy(), requires_grad=True) for p in params0]
        self.x, self.y = ad.Tensor(X), y

    def forward(self):
        h, n = self.x, len(self.params) // 2
        for i in range(n):
            h = ad.linear(h, self.params[2 * i], self.params[2 * i + 1])
            if i < n - 1:
                h = h.relu()
        return nn.cross_entropy(h, self.y)

    def reset(self):
        for p in self.params:
            p.grad = None

    def run(self):
        loss = self.forward()
        loss.backward()
        return loss

    def update(self, held):
        pass

    def loss(self, held):
        return float(held.item())

    def grads(self, held):
        return [p.grad.data for p in self.params]


class AutodiffRaw(AutodiffMLP):
    """The raw program of bench_mlp's "autodiff (indexed NLL)": ``x @ W + b``, ``relu``,
    ``log_softmax`` and ``-logp[rows, y].mean()`` (two nodes per layer and three for the loss)."""

    def forward(self):
        h, n = self.x, len(self.params) // 2
        for i in range(n):
            h = h @ self.params[2 * i] + self.params[2 * i + 1]
            if i < n - 1:
                h = h.relu()
        return -ad.log_softmax(h, axis=-1)[np.arange(len(self.y)), self.y].mean()


class AutodiffSequential(AutodiffMLP):
    """``nn.Sequential(nn.Linear, nn.ReLU, ...)`` + ``nn.cross_entropy``, the weights set from params0."""

    def __init__(self, params0, X, y):
        layers = []
        for W, b in zip(params0[0::2], params0[1::2]):
            lin = nn.Linear(W.shape[0], W.shape[1], dtype=W.dtype)
            lin.weight.data[...] = W
            lin.bias.data[...] = b
            layers += [lin, nn.ReLU()]
        self.model = nn.Sequential(*layers[:-1])
        self.params = list(self.model.parameters())  # W1, b1, W2, b2, ...: the NumPy order
        self.x, self.y = ad.Tensor(X), y

    def forward(self):
        return nn.cross_entropy(self.model(self.x), self.y)

    def reset(self):
        self.model.zero_grad()


class NumpyCNN:
    """``bench_conv.numpy_step``: forward, backward and SGD update; returns (loss, grads)."""

    def __init__(self, x, y, params):
        self.x, self.y, self.p = x, y, {k: v.copy() for k, v in params.items()}

    def reset(self):
        pass

    def run(self):
        return bench_conv.numpy_step(self.x, self.y, self.p)

    def update(self, held):
        pass  # done inside numpy_step

    def loss(self, held):
        return float(held[0])

    def grads(self, held):
        return [held[1][k] for k in self.p]


class AutodiffCNN:
    """The forward of ``bench_conv.autodiff_step`` (which drops the gradients itself, so it cannot
    be measured after backward), backward, then the same SGD update in ``update``."""

    def __init__(self, x, y, params):
        self.p = {k: ad.Tensor(v.copy(), requires_grad=True) for k, v in params.items()}
        self.x, self.y, self.rows = ad.Tensor(x), y, np.arange(x.shape[0])

    def forward(self):
        x, y, p = self.x, self.y, self.p
        h = ad.conv2d(x, p["w1"], p["b1"]).relu()
        h = ad.conv2d(h, p["w2"], p["b2"]).relu()
        h = ad.max_pool2d(h, 2)
        n = x.shape[0]
        logits = h.reshape(n, -1) @ p["w3"] + p["b3"]
        return -ad.log_softmax(logits, axis=1)[self.rows, y].mean()

    def reset(self):
        for t in self.p.values():
            t.grad = None

    def run(self):
        loss = self.forward()
        loss.backward()
        return loss

    def update(self, held):
        for t in self.p.values():
            t.data -= bench_conv.LR * t.grad.data

    def loss(self, held):
        return float(held.item())

    def grads(self, held):
        return [self.p[k].grad.data for k in self.p]


# --- measuring ----------------------------------------------------------------------------------


def measure_once(impl):
    """{peak, held (minus the gradients), grads, held_collected} in bytes, for one step from a fresh state."""
    impl.reset()
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        held = impl.run()
        current = tracemalloc.get_traced_memory()[0]
        impl.update(held)
        peak = tracemalloc.get_traced_memory()[1]
        grads = sum(g.nbytes for g in impl.grads(held))
        gc.collect()  # what reference cycles were keeping (counted above, until a collection)
        collected = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del held
    impl.reset()
    return {"peak": peak - base, "held": current - base - grads, "grads": grads,
            "held_collected": collected - base - grads}


def measure(impl, repeats):
    runs = [measure_once(impl) for _ in range(repeats)]
    out = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    out["runs"] = runs
    return out


def held_sites(impl, top=6):
    """Where the memory still held after backward was allocated: (bytes, blocks, site) of the
    largest groups, a site being the innermost source line of autodiff outside _engine.py and
    tensor.py (the op's forward or backward rule, or the library function that called the op),
    else outside _engine.py (a Tensor operator), else the innermost autodiff line. The gradients
    are among them."""
    impl.reset()
    gc.collect()
    tracemalloc.start(40)
    try:
        held = impl.run()
        snap = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    del held
    impl.reset()
    pkg = os.path.dirname(ad.__file__)
    groups = {}
    for trace in snap.traces:
        frames = list(reversed(trace.traceback))  # innermost first
        ours = [f for f in frames if f.filename.startswith(pkg)]
        ops = [f for f in ours if os.path.basename(f.filename) not in ("_engine.py", "tensor.py")]
        methods = [f for f in ours if os.path.basename(f.filename) != "_engine.py"]  # e.g. Tensor.__add__
        frame = (ops or methods or ours or frames)[0]
        site = f"{os.path.relpath(frame.filename, os.path.dirname(pkg))}:{frame.lineno}"
        total, count = groups.get(site, (0, 0))
        groups[site] = (total + trace.size, count + 1)
    return sorted(((s, c, site) for site, (s, c) in groups.items()), reverse=True)[:top]


def mib(b):
    return f"{b / MiB:.2f}"


def size(b):
    return f"{b / MiB:.2f} MiB" if b >= 0.1 * MiB else f"{b / 1024:.1f} KiB"


def run_model(report, title, impls, baseline, repeats, check):
    """Check agreement, measure each implementation, add the table; return the cases to time."""
    ref_impl = impls[baseline]
    held = ref_impl.run()  # the first step: every implementation starts from the same parameters
    ref = (ref_impl.loss(held), [g.copy() for g in ref_impl.grads(held)])
    del held
    for name, impl in impls.items():
        if impl is ref_impl:
            continue
        impl.reset()
        held = impl.run()
        got = (impl.loss(held), [np.asarray(g).copy() for g in impl.grads(held)])
        impl.update(held)
        del held
        impl.reset()
        check(name, ref, got)
    results = {name: measure(impl, repeats) for name, impl in impls.items()}
    base_peak = results[baseline]["peak"]
    rows = []
    for name, r in results.items():
        peak_ratio, held_ratio = r["peak"] / base_peak, r["held"] / base_peak
        r.update(peak_ratio=peak_ratio, held_ratio=held_ratio)
        missed = [w for w, bad in (("peak", peak_ratio > PEAK_TARGET), ("held", held_ratio > HELD_TARGET)) if bad]
        met = "-" if name == baseline else f"no ({', '.join(missed)})" if missed else "yes"
        rows.append([name, mib(r["peak"]), f"{peak_ratio:.2f}x", mib(r["held"]), f"{held_ratio:.1%}",
                     mib(r["grads"]), met])
    report.table(f"{title} -- memory of one step (tracemalloc, MiB; targets: autodiff peak <= {PEAK_TARGET}x the "
                 f"NumPy peak, held - grads <= {HELD_TARGET:.0%} of the NumPy peak)",
                 ["step", "peak MiB", "peak / numpy peak", "held - grads MiB", "held - grads / numpy peak",
                  "grads MiB", "targets met"], rows, results)
    for name, r in results.items():
        cyc = r["held"] - r["held_collected"]
        if cyc > 0.005 * base_peak:  # (a few KiB of cycles are noise next to a step's MiB)
            report.note(f"{title}, {name}: gc.collect() after backward frees {size(cyc)} more "
                        "(reference cycles), counted in held - grads above")
        spread = {run["peak"] for run in r["runs"]}
        if max(spread) - min(spread) > 0.01 * r["peak"]:
            report.note(f"{title}, {name}: the peak varied over the repeats ({', '.join(mib(s) for s in sorted(spread))} MiB)")
    for name, impl in impls.items():
        if name == baseline:
            continue
        sites = held_sites(impl)
        report.note(f"{title}, {name}: held after backward (gradients included) by allocation site: "
                    + "; ".join(f"{site} {size(s)} in {c} blocks" for s, c, site in sites))

    def timed(impl):
        def step():
            held = impl.run()
            impl.update(held)
            impl.reset()
            return held

        return step

    return {name: timed(impl) for name, impl in impls.items()}


def check_float32(name, ref, got):
    bench_mlp.check_agreement(name, ref, got, np.float32)  # rtol 2e-3, atol 2e-5 (+ rtol * max|grad|)


def main(argv=None):
    args, report = common.start(argv, "bench_memory", __doc__)
    report.note(common.threads_note(args))
    repeats = 1 if args.smoke else 3

    # (a) the MLP
    sizes, batch = (bench_mlp.SMOKE_SIZES, bench_mlp.SMOKE_BATCH) if args.smoke else (MLP_SIZES, MLP_BATCH)
    X, y, params0 = bench_mlp.make_problem(sizes, batch, np.float32)
    mlp_title = f"MLP {'-'.join(map(str, sizes))}, batch {batch}, float32"
    mlp = {"numpy (by hand)": NumpyMLP(params0, X, y),
           "autodiff (ad.linear + relu + nn.cross_entropy)": AutodiffMLP(params0, X, y),
           "autodiff nn.Sequential + nn.cross_entropy": AutodiffSequential(params0, X, y),
           "autodiff raw (x @ W + b, log_softmax[rows, y])": AutodiffRaw(params0, X, y)}
    mlp_cases = run_model(report, mlp_title, mlp, "numpy (by hand)", repeats, check_float32)

    # (b) the CNN of bench_conv
    n, side = (bench_conv.SMOKE_BATCH, bench_conv.SMOKE_SIZE) if args.smoke else (bench_conv.BATCH, bench_conv.SIZE)
    x, yc, params = bench_conv.make_problem(n, side)
    cnn_title = f"small CNN of bench_conv, batch {n} of 1x{side}x{side}, float32"
    cnn = {"hand-written numpy": NumpyCNN(x, yc, params), "autodiff": AutodiffCNN(x, yc, params)}
    cnn_cases = run_model(report, cnn_title, cnn, "hand-written numpy", repeats, check_float32)
    report.note("every autodiff step checked against the NumPy step (same loss and gradients, rtol 2e-3) "
                "before measuring")

    report.compare(f"{mlp_title} -- time of the measured step (forward + backward), tracemalloc off",
                   mlp_cases, baseline="numpy (by hand)", rounds=11)
    report.compare(f"{cnn_title} -- time of the measured step (forward + backward + SGD), tracemalloc off",
                   cnn_cases, baseline="hand-written numpy", rounds=11)
    return report.finish()


if __name__ == "__main__":
    main(sys.argv[1:])
