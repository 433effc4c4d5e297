"""Optimizers (SGD, AdaGrad, RMSprop, Adam, AdamW), learning-rate schedulers and Bottou's
step-size search.

>>> opt = nn.optim.Adam(model.parameters(), lr=1e-3)
>>> opt.zero_grad(); loss.backward(); opt.step()
"""

from autodiff.nn.optim.methods import SGD, AdaGrad, Adagrad, Adam, AdamW, RMSprop
from autodiff.nn.optim.optimizer import Optimizer
from autodiff.nn.optim.schedulers import CosineAnnealingLR, CosineLR, ExponentialLR, LRScheduler, StepLR
from autodiff.nn.optim.step_size import find_step_size

__all__ = [
    "AdaGrad", "Adagrad", "Adam", "AdamW", "CosineAnnealingLR", "CosineLR", "ExponentialLR",
    "LRScheduler", "Optimizer", "RMSprop", "SGD", "StepLR", "find_step_size",
]
