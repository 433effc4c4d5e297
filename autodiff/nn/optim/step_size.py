"""Bottou's step-size trick: try step sizes on a small sample of the training set and keep the
one that lowers the loss most after a few steps (L. Bottou, "Stochastic Gradient Descent Tricks",
Neural Networks: Tricks of the Trade, 2012, §5.2)."""

from __future__ import annotations

import math

import numpy as np

from autodiff._mode import no_grad
from autodiff.nn.data import batches
from autodiff.nn.init import _rng
from autodiff.nn.optim.methods import SGD
from autodiff.tensor import Tensor

__all__ = ["find_step_size"]


def _as_input(X, model):
    if isinstance(X, Tensor):
        return X
    p = next(model.parameters(), None)
    backend, dtype = ("numpy", np.float64) if p is None else (p.backend, p.dtype)
    return Tensor(np.asarray(X, dtype=dtype), backend=backend)


def find_step_size(model, loss_fn, X, y, optimizer=SGD, *, lo=1e-4, hi=10.0, sample=0.05, min_sample=64,
                   steps=10, batch_size=32, refine=4, rng=None, return_losses=False, **optimizer_kwargs):
    """The step size (learning rate) that lowers ``loss_fn(model(X), y)`` most after ``steps``
    optimizer steps on a random ``sample`` of the data (a fraction, at least ``min_sample`` rows).

    The search runs on a log scale: every power of ten in [lo, hi] first, then a binary
    search around the best — halving the log-interval ``refine`` times (each round tries the
    geometric midpoints on both sides of the best so far). Every trial starts from the model's
    current weights with a fresh ``optimizer(model.parameters(), lr=..., **optimizer_kwargs)``
    and the same batches; a diverging trial (nan/inf) counts as infinitely bad. The model is
    left as it was. Returns the step size, or ``(step size, {step size: loss})`` with
    ``return_losses=True``.

    >>> lr = nn.optim.find_step_size(model, nn.cross_entropy, Xtr, ytr)      # then SGD(..., lr=lr)
    """
    if not 0 < lo < hi:
        raise ValueError(f"find_step_size: need 0 < lo < hi, got lo={lo}, hi={hi}")
    gen = _rng(rng)
    n = len(X)
    m = min(n, max(int(math.ceil(sample * n)), int(min_sample)))
    idx = gen.permutation(n)[:m]
    Xs, ys = X[idx], (y[idx] if isinstance(y, Tensor) else np.asarray(y)[idx])
    seed = int(gen.integers(2**31))
    start = model.state_dict()
    was_training = model.training
    losses: dict = {}

    def trial(lr):
        lr = float(lr)
        if lr in losses:
            return losses[lr]
        model.load_state_dict(start)
        model.train()
        opt = optimizer(model.parameters(), lr=lr, **optimizer_kwargs)
        order = np.random.default_rng(seed)
        done = 0
        with np.errstate(all="ignore"):
            while done < steps:
                for Xb, yb in batches(Xs, ys, batch_size, rng=order):
                    opt.zero_grad()
                    loss_fn(model(_as_input(Xb, model)), yb).backward()
                    opt.step()
                    done += 1
                    if done == steps:
                        break
            model.eval()
            with no_grad():
                value = float(loss_fn(model(_as_input(Xs, model)), ys).item())
        losses[lr] = value if math.isfinite(value) else math.inf
        return losses[lr]

    try:
        exps = np.arange(math.ceil(math.log10(lo) - 1e-9), math.floor(math.log10(hi) + 1e-9) + 1)
        grid = [10.0**e for e in exps] or [math.sqrt(lo * hi)]
        best = min(grid, key=trial)
        half = 0.5  # log10 half-interval: the neighbours of the best power of ten, then halved
        for _ in range(int(refine)):
            cands = [c for c in (best * 10**-half, best, best * 10**half) if lo <= c <= hi]
            best = min(cands, key=trial)
            half /= 2
    finally:
        model.load_state_dict(start)
        model.train(was_training)
        for p in model.parameters():
            p.grad = None
    return (best, dict(sorted(losses.items()))) if return_losses else best
