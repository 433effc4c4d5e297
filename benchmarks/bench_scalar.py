"""The Scalar engine on micrograd's moons demo: autodiff.Scalar vs micrograd's Value vs Tensors on the scalar back end.

MLP 2-16-16-1 (ReLU), 100 moons points, hinge loss mean(relu(1 - y*score)) + 1e-4 * sum(p**2),
one full-batch step: forward over all points, zero grad, backward, SGD update, as in micrograd's
demo notebook. All variants start from the same weights (``init_params``: micrograd's MLP draws
its own with ``random.uniform``, which are overwritten) and are checked to give the same loss and
gradients before timing.

Target: micrograd's demo step run with micrograd's OWN model code (``micrograd.nn``'s
Neuron/Layer/MLP) and ``Value = autodiff.Scalar``, garbage collector on, >= 15x faster than
micrograd running the same code as shipped.

The model code each row runs:

- "autodiff.Scalar", "autodiff.Scalar, gc off": micrograd's ``micrograd/nn.py`` when micrograd is
  installed -- a second copy of the module, executed from its source (``inspect.getsource``) in a
  fresh module whose ``Value`` is ``autodiff.Scalar`` (``Neuron.__init__`` looks ``Value`` up
  when the model is built). The installed package is not modified and micrograd's own rows do not
  see the replacement. Without micrograd, this module's copy of micrograd's classes
  (``Module``/``Neuron``/``Layer``/``MLP`` below, the same code with ``Value`` as an argument).
- "micrograd Value" (inputs as Python floats) and "micrograd, demo as shipped" (the notebook's
  NumPy rows and int64 labels, so every value computes in np.float64): ``micrograd.nn`` as
  installed, with ``micrograd.engine.Value``.
- "Tensor backend=scalar" / "Tensor backend=numpy": the same model as autodiff Tensors
  (``x @ W + b``, relu), on the scalar back end (the Tensor wrapper over the same Scalars) and,
  for scale, on the NumPy back end.

A variant with the garbage collector off shows what the collector costs (the Scalar graph has no
reference cycles, so it is freed all the same). With the collector on, building the graph
triggers a full collection, which scans every object of the process: the same step is slower in
a process that has imported torch (~1.7e5 objects), so this module does not import it. Also
reported: 10 consecutive steps as a training loop runs them, the forward alone, nodes per step
and memory per node (tracemalloc: bytes still allocated after the forward pass built the graph,
divided by the number of nodes it created).

    PYTHONPATH=. python benchmarks/bench_scalar.py [--quick | --smoke] [--threads 1] [--clock cpu] [--json PATH] [--profile]
"""

from __future__ import annotations

import gc
import inspect
import random
import sys
import tracemalloc
import types

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


# --- the model code: micrograd's nn.py, or this copy of it when micrograd is not installed --------


def micrograd_nn_with(Value):
    """A second copy of ``micrograd.nn`` whose classes build their parameters with ``Value``.

    The module's source is executed in a fresh module object; its ``from micrograd.engine import
    Value`` runs there too, and ``Value`` is then rebound in that module only (``Neuron.__init__``
    reads the global when a model is built). ``micrograd.nn`` itself is left untouched."""
    import micrograd.nn as mnn

    mod = types.ModuleType(f"{mnn.__name__}[Value={Value.__module__}.{Value.__qualname__}]")
    mod.__file__ = mnn.__file__
    exec(compile(inspect.getsource(mnn), mnn.__file__, "exec"), mod.__dict__)
    mod.Value = Value
    return mod


def micrograd_model(nn_module, params0):
    """``nn_module.MLP`` (micrograd's signature: nin, nouts) with the weights of ``params0``.

    micrograd's Neuron draws its weights with ``random.uniform``: the global ``random`` state is
    restored afterwards, and every parameter's ``.data`` is overwritten from ``params0``."""
    sizes = [params0[0].shape[0]] + [W.shape[1] for W in params0[0::2]]
    state = random.getstate()
    try:
        model = nn_module.MLP(sizes[0], sizes[1:])
    finally:
        random.setstate(state)
    for layer, W, b in zip(model.layers, params0[0::2], params0[1::2]):
        for j, neuron in enumerate(layer.neurons):
            for wi, v in zip(neuron.w, W[:, j]):
                wi.data = float(v)
            neuron.b.data = float(b[j])
    return model


def grad_arrays(model):
    """The gradients of a micrograd-style MLP laid out as the weight arrays [W1, b1, ...]."""
    out = []
    for layer in model.layers:
        out.append(np.array([[float(w.grad) for w in n.w] for n in layer.neurons]).T)
        out.append(np.array([float(n.b.grad) for n in layer.neurons]))
    return out


# The fallback: micrograd's classes, with Value passed in and the weights given (used only when
# micrograd is not installed, e.g. in the project's own venv).


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


class ValueVariant:
    """micrograd's demo step with a given Value class (autodiff.Scalar or micrograd's Value) on a
    micrograd-style model: ``micrograd.nn``'s (or a copy of it, see ``micrograd_nn_with``) when
    ``nn_module`` is given, else this module's fallback classes."""

    def __init__(self, Value, params0, X, y, numpy_inputs=False, nn_module=None):
        model = micrograd_model(nn_module, params0) if nn_module is not None else MLP(params0, Value)
        kinds = {type(p) for p in model.parameters()}
        if kinds != {Value}:
            raise TypeError(f"the model's parameters are {sorted(k.__qualname__ for k in kinds)}, not {Value.__qualname__}")
        self.Value, self.model = Value, model
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
        return float(loss.data), grad_arrays(self.model)

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
    mg = common.optional_import("micrograd.engine")
    mg_nn = common.optional_import("micrograd.nn") if mg is not None else None
    if mg_nn is None:
        report.note("micrograd is not installed: its rows are skipped, and autodiff.Scalar runs this module's "
                    "copy of micrograd's Neuron/Layer/MLP (the target is measured with micrograd's own nn.py)")
        variants = {"autodiff.Scalar": ValueVariant(ad.Scalar, params0, X, y)}
    else:
        ad_nn = micrograd_nn_with(ad.Scalar)  # micrograd/nn.py once more, with Value = autodiff.Scalar
        variants = {"autodiff.Scalar": ValueVariant(ad.Scalar, params0, X, y, nn_module=ad_nn)}
        variants["micrograd Value"] = ValueVariant(mg.Value, params0, X, y, nn_module=mg_nn)
        # The baseline: the demo notebook feeds NumPy scalars, so every micrograd value
        # computes in np.float64 (~3x slower than with Python floats). autodiff.Scalar converts.
        variants["micrograd, demo as shipped"] = ValueVariant(mg.Value, params0, X, y, numpy_inputs=True,
                                                              nn_module=mg_nn)
        if mg_nn.Value is not mg.Value:
            raise AssertionError("micrograd.nn.Value was replaced: the micrograd rows would not run micrograd")
        report.note(f"model code: autodiff.Scalar rows run micrograd's own nn.py ({mg_nn.__file__}), executed "
                    "again in a separate module whose Value is autodiff.Scalar; the micrograd rows run it as "
                    "installed; the Tensor rows run x @ W + b, relu")
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
                   target="micrograd (demo as shipped) >= 15x slower than autodiff.Scalar running micrograd's own "
                          "nn.py, gc on; Tensor backend=scalar close to 1x")
    loop = {n: v for n, v in variants.items() if n in ("autodiff.Scalar", "micrograd Value", "micrograd, demo as shipped")}
    steps = 1 if args.smoke else 10
    report.compare(f"{shape}: {steps} consecutive steps as a training loop runs them (the collector runs as "
                   "it would, so each engine pays for the garbage of its own earlier steps); times for all the steps",
                   {n: _loop(v.step, steps) for n, v in loop.items()}, baseline="autodiff.Scalar",
                   rounds=5, warmup=1,
                   target="micrograd (demo as shipped) >= 15x slower than autodiff.Scalar")
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
