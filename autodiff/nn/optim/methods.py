"""The update rules, with PyTorch's hyper-parameter names, defaults and formulas (torch.optim's
documented algorithms). Each writes into ``w`` in place; ``g`` is never modified.

    SGD       b ← μb + (1-τ)g (b₁ = g);  g ← g + μb (Nesterov) or b;  w ← w - η·g
    AdaGrad   s ← s + g²;  w ← w - η/(1+(t-1)·decay) · g / (√s + ε)
    RMSprop   v ← αv + (1-α)g²;  w ← w - η·g / (√v + ε)   (+ momentum, centered)
    Adam      m ← β₁m + (1-β₁)g;  v ← β₂v + (1-β₂)g²;  w ← w - η/(1-β₁ᵗ) · m / (√v/√(1-β₂ᵗ) + ε)
    AdamW     w ← w(1 - η·λ), then Adam without weight decay in the gradient
with weight decay λ added to the gradient first (g ← g + λw) except in AdamW.
"""

from __future__ import annotations

import math

import numpy as np

from autodiff.nn.optim.optimizer import Optimizer

__all__ = ["SGD", "AdaGrad", "Adagrad", "RMSprop", "Adam", "AdamW"]


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and weight decay."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def _step_group(self, group):
        if (group["momentum"] or group["weight_decay"]
                or getattr(self._update, "__func__", None) is not SGD._update
                or getattr(self._step_param, "__func__", None) is not Optimizer._step_param):
            super()._step_group(group)  # (an update rule of a subclass or an instance is always used)
            return
        # Plain SGD, w ← w - η·g, keeps no state: one loop without the per-parameter state and
        # update call (1 µs of a 165 µs step of bench_mlp's small MLP)
        lr = group["lr"]
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            if p.backend == "numpy":
                p.data -= lr * grad.data
            else:
                self._step_param(p, grad.numpy(), group)

    def _update(self, w, g, state, group):
        mu, wd, lr = group["momentum"], group["weight_decay"], group["lr"]
        if wd:
            g = g + wd * w
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, copy=True)
            else:
                buf *= mu
                buf += g if group["dampening"] == 0 else (1 - group["dampening"]) * g
            g = g + mu * buf if group["nesterov"] else buf
        w -= lr * g


class AdaGrad(Optimizer):
    """AdaGrad: per-coordinate step η/√(sum of squared gradients) (PyTorch's ``Adagrad``)."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _update(self, w, g, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(w, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"]:
            g = g + group["weight_decay"] * w
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        s += g * g
        denom = np.sqrt(s)
        denom += group["eps"]
        w -= clr * g / denom


Adagrad = AdaGrad  # PyTorch's spelling


class RMSprop(Optimizer):
    """RMSprop: divide the step by a running root-mean-square of the gradients."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _update(self, w, g, state, group):
        alpha = group["alpha"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(w)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(w)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(w)
        state["step"] += 1
        if group["weight_decay"]:
            g = g + group["weight_decay"] * w
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            ga = state["grad_avg"]
            ga *= alpha
            ga += (1 - alpha) * g
            avg = np.sqrt(v - ga * ga)
        else:
            avg = np.sqrt(v)
        avg += group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += g / avg
            w -= group["lr"] * buf
        else:
            w -= group["lr"] * g / avg


class Adam(Optimizer):
    """Adam: bias-corrected running means of the gradient and of its square (optionally
    AMSGrad's running maximum of the latter)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"{type(self).__name__}: betas must lie in [0, 1), got {betas}")
        super().__init__(params, dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    _decoupled = False

    def _update(self, w, g, state, group):
        b1, b2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(w)
            state["exp_avg_sq"] = np.zeros_like(w)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(w)
        state["step"] += 1
        t = state["step"]
        if wd:
            if self._decoupled:
                w *= 1 - lr * wd
            else:
                g = g + wd * w
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        if group["amsgrad"]:
            vmax = state["max_exp_avg_sq"]
            np.maximum(vmax, v, out=vmax)
            v = vmax
        denom = np.sqrt(v)
        denom /= math.sqrt(1 - b2**t)
        denom += group["eps"]
        w -= (lr / (1 - b1**t)) * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay: w ← w(1 - η·λ) before the Adam step (default λ = 0.01)."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
