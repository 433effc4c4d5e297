"""Sequential (a chain of modules) and MLP (a Sequential of Linear layers and activations)."""

from __future__ import annotations

import numpy as np

from autodiff.nn import init as _init
from autodiff.nn.activation import LeakyReLU, ReLU, Sigmoid, Tanh
from autodiff.nn.linear import Identity, Linear
from autodiff.nn.module import Module
from autodiff.nn.norm import BatchNorm1d, Dropout

__all__ = ["Sequential", "MLP", "ACTIVATIONS"]

ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "leaky_relu": LeakyReLU, "identity": Identity}


class Sequential(Module):
    """Applies its modules in order; ``seq[i]`` is the i-th (a slice gives a Sequential).

    >>> net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    >>> [name for name, _ in net.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *modules):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, index):
        layers = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*layers[index])
        return layers[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))


class MLP(Sequential):
    """A multi-layer perceptron: ``sizes = [in, hidden..., out]``.

    Each hidden layer is Linear → [BatchNorm1d] → activation → [Dropout]; the output layer is a
    plain Linear (logits). ``activation`` is "relu", "tanh", "sigmoid", "leaky_relu",
    "identity" or a Module class; ``init`` defaults to "he" for relu-like activations and
    "glorot_uniform" otherwise; ``rng`` (Generator or seed) draws the weights and the dropout
    masks.

    >>> model = nn.MLP([64, 128, 10], dropout=0.1, rng=0)
    >>> model(ad.randn(5, 64)).shape
    (5, 10)
    """

    def __init__(self, sizes, activation="relu", dropout=0.0, batch_norm=False, init=None, *, bias=True,
                 rng=None, dtype=np.float64, backend="numpy"):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least an input and an output size, got {sizes}")
        if isinstance(activation, str):
            if activation not in ACTIVATIONS:
                raise ValueError(f"MLP: unknown activation {activation!r}; use one of {', '.join(map(repr, ACTIVATIONS))}")
            act = ACTIVATIONS[activation]
        elif isinstance(activation, type) and issubclass(activation, Module):
            act = activation
        else:
            raise TypeError(f"MLP: activation must be a name or a Module class, got {activation!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        if init is None:
            init = "he" if act in (ReLU, LeakyReLU) else "glorot_uniform"
        _init.get(init, "MLP")
        rng = _init._rng(rng)
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out, bias=bias, init=init, rng=rng, dtype=dtype, backend=backend))
            if i == len(sizes) - 2:
                break
            if batch_norm:
                layers.append(BatchNorm1d(n_out, dtype=dtype, backend=backend))
            layers.append(act())
            if dropout:
                layers.append(Dropout(dropout, rng=rng))
        super().__init__(*layers)
        self.sizes = sizes

    def extra_repr(self):
        return f"sizes={self.sizes}"
