"""autodiff.nn: modules, layers, initialisers, losses, optimizers and the training loop.

>>> from autodiff import nn
>>> model = nn.MLP([64, 128, 10])
>>> opt = nn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> loss = nn.cross_entropy(model(X), y); opt.zero_grad(); loss.backward(); opt.step()
"""

from autodiff.nn import data, init, optim
from autodiff.nn.activation import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from autodiff.nn.container import MLP, Sequential
from autodiff.nn.conv import AvgPool1d, AvgPool2d, Conv1d, Conv2d, MaxPool1d, MaxPool2d
from autodiff.nn.data import batches, standardize
from autodiff.nn.linear import Flatten, Identity, Linear
from autodiff.nn.losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    l1_penalty,
    l2_penalty,
    mse_loss,
    one_hot,
)
from autodiff.nn.module import Module, load_state
from autodiff.nn.norm import BatchNorm1d, BatchNorm2d, Dropout
from autodiff.nn.train import EarlyStopping, accuracy, fit

__all__ = [
    "AvgPool1d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv1d", "Conv2d", "Dropout",
    "EarlyStopping", "Flatten", "Identity", "LeakyReLU", "Linear", "MLP", "MaxPool1d", "MaxPool2d",
    "Module", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "accuracy", "batches",
    "binary_cross_entropy_with_logits", "cross_entropy", "data", "fit", "hinge_loss", "init",
    "l1_penalty", "l2_penalty", "load_state", "mse_loss", "one_hot", "optim", "standardize",
]
