"""The Scalar engine on micrograd's moons demo: autodiff.Scalar vs micrograd's Value vs Tensors on the scalar back end.

MLP 2-16-16-1 (ReLU), 100 moons points, hinge loss mean(relu(1 - y*score)) + 1e-4 * sum(p**2),
one full-batch step: forward over all points, zero grad, backward, SGD update. The model is
written once in micrograd's style (Neuron/Layer/MLP classes taking a ``Value`` class) and run with
``Value = autodiff.Scalar`` and with ``micrograd.engine.Value`` (as shipped, when installed); the
same model as Tensors (``x @ W + b``, relu) runs on the scalar back end (the Tensor wrapper over
the same Scalars) and, for scale, on the NumPy back end. All variants start from the same weights
and are checked to give the same loss and gradients before timing.

A variant with the garbage collector off shows what the collector costs (the Scalar graph has no
reference cycles, so it is freed all the same). With the collector on, building the graph
triggers a full collection, which scans every object of the process: the same step is slower in
a process that has imported torch (~1.7e5 objects), so this module does not import it. Also reported: nodes per step and memory per node (tracemalloc: bytes still allocated after the
forward pass built the graph, divided by the number of nodes it created).

    PYTHONPATH=. python benchmarks/bench_scalar.py [--quick | --smoke] [--json PATH] [--profile]
"""

from __future__ import annotations

import gc
import sys
import tracemalloc

import common
import numpy as np

ALPHA = 1e-4  # L2 strength, as in micrograd's demo
LR = 0.1
SIZES = (2, 16, 16, 1)
POINTS = 100
SMOKE_SIZES = (2, 4, 4, 1)
SMOKE_POINTS = 10


def make_moons(n=100, noise=0.1, seed=1):
    """Two interleaving half circles (sklearn's make_moons recipe, seeded): X (n, 2), y in {-1, +1}."""
    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.vstack([np.c_[np.cos(t_out), np.sin(t_out)], np.c_[1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5]])
    y = np.r_[-np.ones(n_out), np.ones(n_in)]
    X += noise * rng.standard_normal(X.shape)
    perm = rng.permutation(n)
    return X[perm], y[perm]


def init_params(sizes, seed=0):
    """[W1, b1, W2, b2, ...], W of shape (in, out) uniform in [-1, 1] as micrograd's Neuron, b small."""
    rng = np.random.default_rng(seed)
    params = []
    for nin, nout in zip(sizes[:-1], sizes[1:]):
        params += [rng.uniform(-1, 1, (nin, nout)), rng.uniform(-0.1, 0.1, nout)]
    return params


# --- the model in micrograd's style, for any Value class ----------------------------------------


class Module:
    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0

    def parameters(self):
        return []


class Neuron(Module):
    def __init__(self, w, b, nonlin, Value):
        self.w = [Value(float(wi)) for wi in w]
        self.b = Value(float(b))
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class Layer(Module):
    def __init__(self, W, b, nonlin, Value):
        self.neurons = [Neuron(W[:, j], b[j], nonlin, Value) for j in range(W.shape[1])]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP(Module):
    def __init__(self, params, Value):
        n = len(params) // 2
        self.layers = [Layer(params[2 * i], params[2 * i + 1], i < n - 1, Value) for i in range(n)]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def grad_arrays(self):
        """The gradients laid out as the weight arrays [W1, b1, ...] (for the agreement check)."""
        out = []
        for layer in self.layers:
            out.append(np.array([[float(w.grad) for w in n.w] for n in layer.neurons]).T)
            out.append(np.array([float(n.b.grad) for n in layer.neurons]))
        return out


class ValueVariant:
    """micrograd's demo step with a given Value class (autodiff.Scalar or micrograd's Value)."""

    def __init__(self, Value, params0, X, y, numpy_inputs=False):
        self.Value, self.model = Value, MLP(params0, Value)
        if numpy_inputs:  # micrograd's demo as shipped: make_moons rows (np.float64), labels np.int64
            self.X, self.y = list(X), list(y.astype(np.int64))
        else:  # Python floats: every engine's fastest case
            self.X, self.y = X.tolist(), y.tolist()

    def forward(self):
        Value, model = self.Value, self.model
        inputs = [list(map(Value, row)) for row in self.X]
        scores = [model(x) for x in inputs]
        losses = [(1 + -yi * si).relu() for yi, si in zip(self.y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = ALPHA * sum(p * p for p in model.parameters())
        return data_loss + reg_loss

    def root(self, loss):
        return loss

    def loss_and_grads(self):
        loss = self.forward()
        self.model.zero_grad()
        loss.backward()
        return float(loss.data), self.model.grad_arrays()

    def step(self):
        loss = self.forward()
        self.model.zero_grad()
        loss.backward()
        for p in self.model.parameters():
            p.data -= LR * p.grad
        return loss

    def n_params(self):
        return len(self.model.parameters())


class TensorVariant:
    """The same model as autodiff Tensors: x @ W + b, relu, hinge loss, L2, on a given back end."""

    def __init__(self, backend, params0, X, y):
        import autodiff as ad

        self.ad, self.backend = ad, backend
        self.params = [ad.Tensor(p, requires_grad=True, backend=backend) for p in params0]
        self.X, self.y = X, y[:, None]

    def forward(self):
        x = self.ad.Tensor(self.X, backend=self.backend)
        h = x
        n = len(self.params) // 2
        for i in range(n):
            h = h @ self.params[2 * i] + self.params[2 * i + 1]
            if i < n - 1:
                h = h.relu()
        data_loss = (1 - self.y * h).relu().mean()
        reg_loss = ALPHA * sum((p * p).sum() for p in self.params)
        return data_loss + reg_loss

    def root(self, loss):
        return loss.data.item() if self.backend == "scalar" else loss

    def loss_and_grads(self):
        loss = self.forward()
        loss.backward()
        grads = [p.grad.numpy().copy() for p in self.params]
        for p in self.params:
            p.grad = None
        return loss.item(), grads

    def step(self):
        loss = self.forward()
        loss.backward()
        for p in self.params:
            if self.backend == "scalar":  # update the leaf Scalars in place (they stay the leaves)
                for s, g in zip(p.data.flat, p.grad.numpy().flat):
                    s.data -= LR * g
            else:
                p.data -= LR * p.grad.data
            p.grad = None  # also zeroes the Scalars' own .grad on the scalar back end
        return loss

    def n_params(self):
        return sum(p.size for p in self.params)


def _loop(step, n):
    """``n`` training steps in a row, as one call."""

    def run():
        for _ in range(n):
            step()

    return run


def without_gc(fn):
    """``fn`` run with the cyclic garbage collector off (what the collector costs a step)."""

    def run():
        gc.disable()
        try:
            return fn()
        finally:
            gc.enable()

    return run


# --- graph size and memory ---------------------------------------------------------------------


def count_nodes(root):
    """Nodes reachable from a Scalar/Value ``root`` through ``_prev`` (iterative, by identity)."""
    seen = {id(root)}
    stack = [root]
    while stack:
        for p in stack.pop()._prev:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return len(seen)


def graph_memory(variant, collect=True):
    """(nodes in the graph, nodes created by the forward, bytes retained, peak bytes) of one forward."""
    if collect:
        gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        loss = variant.forward()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    root = variant.root(loss)
    nodes = count_nodes(root)
    created = nodes - variant.n_params()
    del loss, root
    return nodes, created, retained - base, peak - base


def check_agreement(name, ref, got):
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-9, err_msg=f"{name}: loss differs from autodiff.Scalar's")
    for i, (g, r) in enumerate(zip(got[1], ref[1])):
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12,
                                   err_msg=f"{name}: gradient of parameter {i} differs from autodiff.Scalar's")


def main(argv=None):
    args, report = common.start(argv, "bench_scalar", __doc__)
    import autodiff as ad

    sizes, points = (SMOKE_SIZES, SMOKE_POINTS) if args.smoke else (SIZES, POINTS)
    X, y = make_moons(points)
    params0 = init_params(sizes)
    variants = {"autodiff.Scalar": ValueVariant(ad.Scalar, params0, X, y)}
    mg = common.optional_import("micrograd.engine")
    if mg is None:
        report.note("micrograd is not installed: its column is skipped")
    else:
        variants["micrograd Value"] = ValueVariant(mg.Value, params0, X, y)
        # The baseline: the demo notebook feeds NumPy scalars, so every micrograd value
        # computes in np.float64 (~3x slower than with Python floats). autodiff.Scalar converts.
        variants["micrograd, demo as shipped"] = ValueVariant(mg.Value, params0, X, y, numpy_inputs=True)
    variants["Tensor backend=scalar"] = TensorVariant("scalar", params0, X, y)
    gc_off = "autodiff.Scalar, gc off"  # the Scalar graph has no cycles: reference counting frees it
    variants["Tensor backend=numpy"] = TensorVariant("numpy", params0, X, y)

    ref = variants["autodiff.Scalar"].loss_and_grads()
    for name, v in variants.items():
        if name != "autodiff.Scalar":
            check_agreement(name, ref, v.loss_and_grads())
    report.note("every variant checked against autodiff.Scalar (same loss and gradients) before timing")

    shape = f"MLP {'-'.join(map(str, sizes))}, {points} moons points"
    report.compare(f"{shape}: one full-batch training step (forward, zero grad, backward, SGD)",
                   {**{n: v.step for n, v in variants.items()}, gc_off: without_gc(variants["autodiff.Scalar"].step)},
                   baseline="autodiff.Scalar", rounds=7, warmup=1,
                   target="micrograd (as shipped) >= 10x slower than autodiff.Scalar; Tensor backend=scalar close to 1x")
    loop = {n: v for n, v in variants.items() if n in ("autodiff.Scalar", "micrograd Value", "micrograd, demo as shipped")}
    steps = 1 if args.smoke else 10
    report.compare(f"{shape}: {steps} consecutive steps as a training loop runs them (the collector runs as "
                   "it would, so each engine pays for the garbage of its own earlier steps); times for all the steps",
                   {n: _loop(v.step, steps) for n, v in loop.items()}, baseline="autodiff.Scalar",
                   rounds=5, warmup=1,
                   target="micrograd (as shipped) >= 10x slower than autodiff.Scalar")
    report.compare(f"{shape}: forward only (building the graph)",
                   {**{n: v.forward for n, v in variants.items()}, gc_off: without_gc(variants["autodiff.Scalar"].forward)},
                   baseline="autodiff.Scalar", rounds=7, warmup=1)

    rows, data = [], {}
    for name, v in variants.items():
        if name == "Tensor backend=numpy":
            continue  # no Scalar graph to count
        nodes, created, retained, peak = graph_memory(v, collect=not args.smoke)
        data[name] = {"nodes": nodes, "created": created, "retained_bytes": retained, "peak_bytes": peak,
                      "bytes_per_node": retained / created}
        rows.append([name, nodes, created, f"{retained / 2**20:.2f} MiB", f"{peak / 2**20:.2f} MiB",
                     f"{retained / created:.0f}"])
    report.table(f"{shape}: graph of one step (tracemalloc; target < 300 bytes/node, micrograd ~640)",
                 ["variant", "nodes", "created by forward", "retained", "peak", "bytes/node"], rows, data)
    return report.finish()


if __name__ == "__main__":
    main(sys.argv[1:])
