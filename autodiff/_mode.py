"""Global modes: gradient recording, anomaly detection, the module scope and the default generator."""

from __future__ import annotations

import contextvars
import functools

import numpy as np

# The only hidden state of the engine (STYLE §7): the grad mode, anomaly mode, the name of the
# nn.Module call being run (for graph clusters) and the generator behind manual_seed.
_grad_enabled = contextvars.ContextVar("autodiff_grad_enabled", default=True)
_anomaly = contextvars.ContextVar("autodiff_anomaly", default=False)
_scope = contextvars.ContextVar("autodiff_scope", default=None)
_default_rng = np.random.default_rng()


def is_grad_enabled() -> bool:
    """True when operations are recorded for backward."""
    return _grad_enabled.get()


class _SetMode:
    """Context manager and decorator that sets a context variable for a block."""

    _var: contextvars.ContextVar

    def __init__(self, value):
        self._value = value
        self._tokens = []

    def __enter__(self):
        self._tokens.append(self._var.set(self._value))
        return self

    def __exit__(self, *exc):
        self._var.reset(self._tokens.pop())
        return False

    def __call__(self, fn):
        var, value = self._var, self._value

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            token = var.set(value)
            try:
                return fn(*args, **kwargs)
            finally:
                var.reset(token)

        return wrapper


class set_grad_enabled(_SetMode):
    """``with ad.set_grad_enabled(False): ...`` turns recording off (or on) for the block."""

    _var = _grad_enabled

    def __init__(self, mode: bool):
        super().__init__(bool(mode))


class no_grad(set_grad_enabled):
    """Context manager and decorator: operations inside are not recorded."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Context manager and decorator: operations inside are recorded, even under ``no_grad``."""

    def __init__(self):
        super().__init__(True)


class detect_anomaly(_SetMode):
    """Inside this context a NaN or inf made by any op, forward or backward, raises
    ``FloatingPointError`` naming the op."""

    _var = _anomaly

    def __init__(self, mode: bool = True):
        super().__init__(bool(mode))


class module_scope(_SetMode):
    """Names the nn.Module call that the nodes made inside belong to (for ``viz.draw(cluster=True)``)."""

    _var = _scope

    def __init__(self, name):
        super().__init__(name)


def manual_seed(seed: int) -> np.random.Generator:
    """Re-seed the default generator used when no ``rng`` is passed (randn, dropout, init)."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)
    return _default_rng


def default_rng() -> np.random.Generator:
    """The generator behind ``manual_seed``."""
    return _default_rng
