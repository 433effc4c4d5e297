"""Learning-rate schedulers: call ``scheduler.step()`` once per epoch, after the optimizer's steps.

Each sets every group's "lr" from its initial value by a closed form in the epoch count t
(PyTorch's ``_get_closed_form_lr``; the same values as its chained updates):

    StepLR          η_t = η₀ · γ^⌊t / step_size⌋
    ExponentialLR   η_t = η₀ · γ^t
    CosineLR        η_t = η_min + (η₀ - η_min)(1 + cos(π t / T_max)) / 2
"""

from __future__ import annotations

import math

__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "CosineLR", "CosineAnnealingLR"]


class LRScheduler:
    """Base class: remembers each group's initial lr (as "initial_lr") and sets "lr" for epoch t."""

    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def _lr(self, base: float, t: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set the new learning rates."""
        self.last_epoch += 1
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = self._lr(base, self.last_epoch)

    def get_last_lr(self) -> list:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update(state)


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if int(step_size) <= 0:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer, last_epoch)

    def _lr(self, base, t):
        return base * self.gamma ** (t // self.step_size)


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def _lr(self, base, t):
        return base * self.gamma**t


class CosineLR(LRScheduler):
    """Cosine annealing from the initial lr down to ``eta_min`` over ``T_max`` epochs (and back
    up after, as PyTorch's ``CosineAnnealingLR`` without restarts)."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if int(T_max) <= 0:
            raise ValueError(f"CosineLR: T_max must be a positive int, got {T_max}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer, last_epoch)

    def _lr(self, base, t):
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


CosineAnnealingLR = CosineLR  # PyTorch's name
