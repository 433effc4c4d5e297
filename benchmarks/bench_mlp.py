"""One MLP training step (forward, backward, SGD update): autodiff Tensors vs hand-written NumPy vs PyTorch.

Models: 64-128-128-10 (ReLU, softmax cross-entropy, batch 64) in float64 and float32, and
784-1024-1024-10 (batch 256, float32). Every implementation starts from the same weights and is
checked once to give the same loss and gradients as the NumPy step before anything is timed.

    PYTHONPATH=. python benchmarks/bench_mlp.py [--quick | --smoke] [--json PATH] [--profile]
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass

import common
import numpy as np

LR = 0.01


@dataclass
class Config:
    title: str
    sizes: tuple
    batch: int
    dtype: type
    target: str = ""


CONFIGS = [
    Config("small MLP 64-128-128-10, batch 64, float64", (64, 128, 128, 10), 64, np.float64,
           "autodiff within 1.2x of NumPy (issue #12; the minimal tape shows what recording in Python costs)"),
    Config("small MLP 64-128-128-10, batch 64, float32", (64, 128, 128, 10), 64, np.float32,
           "autodiff within 1.2x of NumPy (issue #12; the NLL rows build the loss from 4-5 ops)"),
    Config("large MLP 784-1024-1024-10, batch 256, float32", (784, 1024, 1024, 10), 256, np.float32,
           "autodiff within 1.05x of NumPy"),
]
SMOKE_SIZES = (8, 16, 16, 4)
SMOKE_BATCH = 8


def make_problem(sizes, batch, dtype, seed=0):
    """Inputs, integer labels and He-initialised weights [W1, b1, W2, b2, ...] (W is (in, out))."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], size=batch)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(dtype))
        params.append((0.01 * rng.standard_normal(fan_out)).astype(dtype))
    return X, y, params


# --- (b) NumPy by hand: the floor for any NumPy engine --------------------------------------------


@functools.lru_cache
def _ones_column(k, dtype):
    return np.ones((k, 1), dtype=dtype)


def _row_reduce(ufunc, a):
    """``ufunc.reduce(a, axis=1, keepdims=True)`` for short rows, as autodiff's softmax and
    cross-entropy do it, so the floor is as fast: NumPy reduces a short last axis row by row
    (64 x 10 row maxima: 3.5 µs); over a transposed copy 1.6 µs. Sums are a product with a
    column of ones (0.9 µs)."""
    if ufunc is np.add:
        return a @ _ones_column(a.shape[1], a.dtype)
    return ufunc.reduce(np.ascontiguousarray(a.T), axis=0)[:, None]


def numpy_loss_and_grads(params, X, y):
    """Mean softmax cross-entropy of the ReLU MLP and its gradients, written out by hand.

    In place wherever the array is ours (bias add, ReLU, the softmax shift and normalisation);
    only the matmuls and the reductions allocate, and each activation is released once the
    backward pass has used it (the memory floor of bench_memory too).
    """
    n = X.shape[0]
    rows = np.arange(n)
    hs = [X]  # inputs of each layer
    h = X
    nlayers = len(params) // 2
    for i in range(nlayers):
        z = h @ params[2 * i]
        z += params[2 * i + 1]
        if i < nlayers - 1:
            np.maximum(z, 0, out=z)
            hs.append(z)
        h = z
    logits = h
    logits -= _row_reduce(np.maximum, logits)
    z_y = logits[rows, y]
    e = np.exp(logits, out=logits)
    s = _row_reduce(np.add, e)
    loss = (np.log(s).sum() - z_y.sum()) / n
    # d loss / d logits = (softmax - onehot) / n
    e /= s
    e[rows, y] -= 1
    e *= 1.0 / n
    g = e
    del e, logits, h, z
    grads = [None] * len(params)
    for i in range(nlayers - 1, -1, -1):
        h = hs.pop()  # (each activation is let go once used: the floor's memory is as low as its time)
        grads[2 * i] = h.T @ g
        grads[2 * i + 1] = g.sum(axis=0)
        if i > 0:
            g = g @ params[2 * i].T
            g *= h > 0  # ReLU'
    return loss, grads


def numpy_step_fn(params0, X, y):
    params = [p.copy() for p in params0]

    def step():
        loss, grads = numpy_loss_and_grads(params, X, y)
        for p, g in zip(params, grads):
            g *= LR
            p -= g
        return loss

    return step


# --- (a) autodiff Tensors, raw API ----------------------------------------------------------------


def autodiff_fns(params0, X, y, nll="indexed"):
    """(loss_and_grads, step) for autodiff on the NumPy back end: x @ W + b, relu, log_softmax and
    an indexed (``logp[rows, y]``) or one-hot NLL, mean, backward, manual SGD update; or with
    ``nll="fused"`` the library's one-node layer and loss, ``ad.linear`` and ``nn.cross_entropy``."""
    import autodiff as ad
    from autodiff import nn

    params = [ad.Tensor(p, requires_grad=True) for p in params0]
    x = ad.Tensor(X)
    n = X.shape[0]
    rows = np.arange(n)
    onehot = np.zeros((n, params0[-1].shape[0]), dtype=X.dtype)
    onehot[rows, y] = 1

    def forward():
        h = x
        nlayers = len(params) // 2
        for i in range(nlayers):
            if nll == "fused":
                h = ad.linear(h, params[2 * i], params[2 * i + 1])
            else:
                h = h @ params[2 * i] + params[2 * i + 1]
            if i < nlayers - 1:
                h = h.relu()
        if nll == "fused":
            return nn.cross_entropy(h, y)
        logp = ad.log_softmax(h, axis=-1)
        if nll == "indexed":
            return -logp[rows, y].mean()
        return -(logp * onehot).sum() * (1.0 / n)

    def loss_and_grads():
        loss = forward()
        loss.backward()
        grads = [p.grad.numpy().copy() for p in params]
        for p in params:
            p.grad = None
        return loss.item(), grads

    def step():
        loss = forward()
        loss.backward()
        for p in params:  # the same in-place update as the NumPy step's
            g = p.grad.data
            g *= LR
            p.data -= g
            p.grad = None
        return loss

    return loss_and_grads, step


def autodiff_nn_fns(params0, X, y):
    """(loss_and_grads, step) for autodiff.nn as a user writes it: Sequential of Linear and ReLU,
    nn.cross_entropy with integer labels, optim.SGD -- the same program as the PyTorch nn case."""
    import autodiff as ad
    from autodiff import nn

    layers = []
    for i in range(len(params0) // 2):
        W, b = params0[2 * i], params0[2 * i + 1]
        lin = nn.Linear(W.shape[0], W.shape[1], dtype=W.dtype)
        lin.weight.data[...] = W
        lin.bias.data[...] = b
        layers += [lin, nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    opt = nn.optim.SGD(model.parameters(), lr=LR)
    x = ad.Tensor(X)

    def loss_and_grads():
        opt.zero_grad()
        loss = nn.cross_entropy(model(x), y)
        loss.backward()
        grads = [p.grad.numpy().copy() for p in model.parameters()]
        opt.zero_grad()
        return loss.item(), grads

    def step():
        opt.zero_grad()
        loss = nn.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return loss_and_grads, step


# --- (d) the smallest define-by-run tape in Python -------------------------------------------------


def minimal_tape_fns(params0, X, y):
    """(loss_and_grads, step) for a bare tape: one object per value holding its parents and a
    closure for its vector-Jacobian product, a depth-first order, nothing else (no broadcasting
    rules, dtype or shape checks, grad modes, errors or graph to draw). The same program as
    "autodiff (indexed NLL)": how close a Python engine can come to the NumPy floor, for scale."""

    class V:
        __slots__ = ("data", "parents", "vjp", "grad", "pending")

        def __init__(self, data, parents=(), vjp=None):
            self.data, self.parents, self.vjp, self.grad, self.pending = data, parents, vjp, None, None

    def matmul(a, w):  # a may be the (constant) input
        return V(a.data @ w.data, (a, w), lambda g: (g @ w.data.T if a.parents or a.vjp else None, a.data.T @ g))

    def add_bias(a, b):
        return V(a.data + b.data, (a, b), lambda g: (g, g.sum(axis=0)))

    def relu(a):
        return V(np.maximum(a.data, 0), (a,), lambda g: (g * (a.data > 0),))

    def log_softmax(a):
        z = a.data - _row_reduce(np.maximum, a.data)  # the floor's (and autodiff's) row reductions
        out = z - np.log(_row_reduce(np.add, np.exp(z)))
        return V(out, (a,), lambda g: (g - np.exp(out) * _row_reduce(np.add, g),))

    def pick(a, index):  # a[index]; the gradient is scattered back (repeated indices add up)
        def vjp(g):
            d = np.zeros_like(a.data)
            np.add.at(d, index, g)
            return (d,)

        return V(a.data[index], (a,), vjp)

    def mean(a):
        return V(a.data.mean(), (a,), lambda g: (np.broadcast_to(g / a.data.size, a.data.shape),))

    def neg(a):
        return V(-a.data, (a,), lambda g: (-g,))

    def backward(root):
        order, seen, stack = [], set(), [(root, iter(root.parents))]
        while stack:
            node, it = stack[-1]
            for p in it:
                if id(p) not in seen and (p.parents or p.vjp is None):
                    seen.add(id(p))
                    stack.append((p, iter(p.parents)))
                    break
            else:
                stack.pop()
                order.append(node)
        root.pending = np.ones((), dtype=root.data.dtype)
        for node in reversed(order):
            g, node.pending = node.pending, None
            if g is None:
                continue
            if node.vjp is None:
                node.grad = g
                continue
            for p, pg in zip(node.parents, node.vjp(g)):
                if pg is not None:
                    p.pending = pg if p.pending is None else p.pending + pg

    params = [V(p.copy()) for p in params0]
    x, rows = V(X), np.arange(X.shape[0])
    x.vjp = False  # a constant: not a leaf that takes a gradient

    def forward():
        h = x
        nlayers = len(params) // 2
        for i in range(nlayers):
            h = add_bias(matmul(h, params[2 * i]), params[2 * i + 1])
            if i < nlayers - 1:
                h = relu(h)
        return neg(mean(pick(log_softmax(h), (rows, y))))  # autodiff's three ops

    def loss_and_grads():
        loss = forward()
        backward(loss)
        grads = [p.grad.copy() for p in params]
        for p in params:
            p.grad = None
        return float(loss.data), grads

    def step():
        loss = forward()
        backward(loss)
        for p in params:
            g = p.grad
            g *= LR
            p.data -= g
            p.grad = None
        return loss

    return loss_and_grads, step


# --- (c) PyTorch ----------------------------------------------------------------------------------


def torch_nn_fns(torch, params0, X, y):
    """torch.nn.Sequential + F.cross_entropy + torch.optim.SGD."""
    nn, F = torch.nn, torch.nn.functional
    layers = []
    for i in range(len(params0) // 2):
        W, b = params0[2 * i], params0[2 * i + 1]
        lin = nn.Linear(W.shape[0], W.shape[1], dtype=torch.from_numpy(W).dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin, nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def loss_and_grads():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        grads = []
        for m in model:
            if isinstance(m, nn.Linear):
                grads += [m.weight.grad.numpy().T.copy(), m.bias.grad.numpy().copy()]
        opt.zero_grad(set_to_none=True)
        return loss.item(), grads

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss

    return loss_and_grads, step


def torch_functional_fns(torch, params0, X, y):
    """PyTorch without nn: the same raw program as autodiff's (x @ W + b, relu, log_softmax, index)."""
    params = [torch.tensor(p, requires_grad=True) for p in params0]
    xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    rows = torch.arange(X.shape[0])

    def forward():
        h = xt
        nlayers = len(params) // 2
        for i in range(nlayers):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < nlayers - 1:
                h = torch.relu(h)
        return -torch.log_softmax(h, dim=-1)[rows, yt].mean()

    def loss_and_grads():
        loss = forward()
        loss.backward()
        grads = [p.grad.numpy().copy() for p in params]
        for p in params:
            p.grad = None
        return loss.item(), grads

    def step():
        loss = forward()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
                p.grad = None
        return loss

    return loss_and_grads, step


# --- the benchmark --------------------------------------------------------------------------------


def check_agreement(name, ref, got, dtype):
    """Raise AssertionError unless ``got`` (loss, grads) matches the NumPy reference ``ref``."""
    rtol, atol = (1e-9, 1e-12) if dtype == np.float64 else (2e-3, 2e-5)
    np.testing.assert_allclose(got[0], ref[0], rtol=rtol, atol=atol, err_msg=f"{name}: loss differs from NumPy's")
    for i, (g, r) in enumerate(zip(got[1], ref[1])):
        scale = np.abs(r).max()
        np.testing.assert_allclose(g, r, rtol=rtol, atol=atol + rtol * scale,
                                   err_msg=f"{name}: gradient of parameter {i} differs from NumPy's")


def run_config(report, cfg: Config, torch, smoke=False):
    sizes, batch = (SMOKE_SIZES, SMOKE_BATCH) if smoke else (cfg.sizes, cfg.batch)
    X, y, params0 = make_problem(sizes, batch, cfg.dtype)
    ref = numpy_loss_and_grads([p.copy() for p in params0], X, y)
    cases = {"numpy (by hand)": numpy_step_fn(params0, X, y)}
    impls = {
        "autodiff (indexed NLL)": autodiff_fns(params0, X, y, "indexed"),
        "autodiff (one-hot NLL)": autodiff_fns(params0, X, y, "onehot"),
        "autodiff (linear + CE)": autodiff_fns(params0, X, y, "fused"),
        "autodiff nn + optim.SGD": autodiff_nn_fns(params0, X, y),
        "minimal Python tape": minimal_tape_fns(params0, X, y),
    }
    if torch is not None:
        impls["torch nn + optim.SGD"] = torch_nn_fns(torch, params0, X, y)
        impls["torch functional"] = torch_functional_fns(torch, params0, X, y)
    for name, (loss_and_grads, step) in impls.items():
        check_agreement(name, ref, loss_and_grads(), cfg.dtype)
        cases[name] = step
    title = cfg.title if not smoke else f"{cfg.title} [smoke: {'-'.join(map(str, sizes))}, batch {batch}]"
    report.compare(title + " -- one training step", cases, baseline="numpy (by hand)",
                   rounds=21 if cfg.sizes[0] < 100 else 15, target=cfg.target)


def main(argv=None):
    args, report = common.start(argv, "bench_mlp", __doc__)
    torch = common.optional_import("torch")
    if torch is None:
        report.note("PyTorch is not installed: its columns are skipped")
    else:
        threads = common.blas_threads()
        torch.set_num_threads(threads)
        report.note(f"torch.set_num_threads({threads}) to match NumPy's BLAS threads")
    report.note("all implementations checked against the NumPy step (same loss and gradients) before timing")
    for cfg in CONFIGS:
        run_config(report, cfg, torch, smoke=args.smoke)
    return report.finish()


if __name__ == "__main__":
    main(sys.argv[1:])
