"""Optimizer: parameter groups, per-parameter state, and the update loop shared by all methods.

Each method writes one ``_update(w, g, state, group)`` on float ndarrays. On the NumPy back end
``w`` is the parameter's own array, updated in place; on the scalar back end it is a float
copy whose new values are then written into the parameter's Scalars.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np

from autodiff._mode import enable_grad
from autodiff.nn.module import Module
from autodiff.nn.state import _assign
from autodiff.tensor import Tensor

__all__ = ["Optimizer"]


class Optimizer:
    """Base class: ``Method(params, lr=..., ...)`` where ``params`` is an iterable of Tensors,
    a Module, or a list of parameter groups — dicts with ``"params"`` and any hyper-parameters
    that differ from the defaults::

        opt = nn.optim.SGD([{"params": weights}, {"params": biases, "lr": 0.2}], lr=0.1)

    ``param_groups`` (a list of dicts) can be edited between steps (schedulers change "lr").
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list = []
        self.state: dict = {}  # id(parameter) -> dict of that parameter's buffers
        if isinstance(params, Module):
            params = params.parameters()
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors, not a Tensor")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (missing ones from defaults)."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{type(self).__name__}: a parameter group is a dict with a 'params' entry")
        ps = group["params"]
        ps = [ps] if isinstance(ps, Tensor) else list(ps.parameters() if isinstance(ps, Module) else ps)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in ps:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameters must be Tensors, got {type(p).__name__}")
            if not (p.requires_grad and p.is_leaf):
                raise ValueError(f"{type(self).__name__}: can only optimize leaf Tensors with requires_grad=True")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: a parameter appears in more than one group (or twice)")
            seen.add(id(p))
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown hyper-parameter(s) {sorted(unknown)}")
        full = {**self.defaults, **group, "params": ps}
        self._check(full)
        self.param_groups.append(full)

    def _check(self, group: dict) -> None:
        """Validate a group's hyper-parameters (ValueError naming the optimizer)."""
        for key in ("lr", "weight_decay", "eps", "momentum"):
            v = group.get(key, 0.0)
            if not isinstance(v, numbers.Real) or v < 0:
                raise ValueError(f"{type(self).__name__}: {key} must be a number >= 0, got {v!r}")

    def zero_grad(self) -> None:
        """Drop the gradients of every parameter (``.grad = None``)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self, closure=None):
        """Update every parameter that has a gradient. ``closure`` (optional) recomputes the
        loss, with gradients, before the update; its value is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group: dict) -> None:
        """Update the parameters of one group that have a gradient."""
        for p in group["params"]:
            grad = p.grad
            if grad is not None:
                self._step_param(p, grad.numpy(), group)

    def _step_param(self, p: Tensor, g: np.ndarray, group: dict) -> None:
        """Update one parameter by ``_update`` with its state."""
        st = self.state.get(id(p))
        if st is None:
            st = self.state[id(p)] = {}
        if p.backend == "numpy":
            self._update(p.data, g, st, group)
        else:  # scalar back end: compute on floats, write back
            w = p.numpy()
            self._update(w, g, st, group)
            _assign(p, w)

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError

    # --- state --------------------------------------------------------------------------------
    def _params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict:
        """PyTorch's layout: ``{"state": {index: {name: value}}, "param_groups": [{..., "params":
        [indices]}]}``, indices counting parameters across groups in order; values are copies."""
        index = {id(p): i for i, p in enumerate(self._params())}
        groups, start = [], 0
        for g in self.param_groups:
            d = {k: v for k, v in g.items() if k != "params"}
            d["params"] = list(range(start, start + len(g["params"])))
            start += len(g["params"])
            groups.append(d)
        state = {index[k]: copy.deepcopy(v) for k, v in self.state.items() if k in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and buffers saved by ``state_dict`` (same parameter layout)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)
        ):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the parameter groups do not match this optimizer's")
        params = self._params()
        new_state = {}
        for i, st in state_dict["state"].items():
            i = int(i)
            if not 0 <= i < len(params):
                raise ValueError(f"{type(self).__name__}.load_state_dict: no parameter {i}")
            p = params[i]
            st = copy.deepcopy(st)
            for k, v in st.items():
                if isinstance(v, np.ndarray) and v.shape != p.shape:
                    raise ValueError(
                        f"{type(self).__name__}.load_state_dict: state {k!r} of parameter {i} has shape "
                        f"{v.shape}, the parameter {p.shape}"
                    )
            new_state[id(p)] = st
        for g, saved in zip(self.param_groups, groups):
            g.update({k: v for k, v in saved.items() if k != "params"})
        self.state = new_state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            hp = ", ".join(f"{k}={v}" for k, v in g.items() if k != "params")
            lines.append(f"  group {i}: {len(g['params'])} parameters, {hp}")
        return "\n".join(lines) + "\n)"
