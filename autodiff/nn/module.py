"""Module: the base class of layers and models (parameters, sub-modules, modes, state and files).

>>> class Affine(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.w = ad.Tensor(np.ones(3), requires_grad=True)    # a parameter
...     def forward(self, x):
...         return x * self.w
>>> Affine().state_dict()
{'w': array([1., 1., 1.])}

A Tensor that requires grad assigned to a module attribute is a parameter; a Module is a
sub-module; ``register_buffer`` keeps an ndarray (running statistics) in the state too.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections import namedtuple
from pathlib import Path

import numpy as np

from autodiff._mode import _scope
from autodiff.tensor import BACKENDS, Tensor, _scalars

__all__ = ["Module", "load_state"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _assign(p: Tensor, values: np.ndarray) -> None:
    """Write ``values`` into ``p`` in place on either back end (the object keeps its identity).

    On the scalar back end every element is a leaf Scalar: its ``.data`` is overwritten, so
    anything holding the Scalars (an optimizer, a graph viewer) sees the new value.
    """
    if p.data.dtype == object:
        for s, v in zip(p.data.flat, np.asarray(values, dtype=np.float64).ravel().tolist()):
            s.data = v
    else:
        p.data[...] = values


def _label(p: Tensor, name: str) -> None:
    """Name a parameter (and, on the scalar back end, its Scalars) for graph pictures."""
    p.label = name
    if p.data.dtype == object:
        if p.ndim == 0:
            p.data[()].label = name
        else:
            for idx in np.ndindex(p.shape):
                p.data[idx].label = f"{name}[{','.join(map(str, idx))}]"


def _convert(p: Tensor, backend: str, dtype) -> None:
    """Move a leaf Tensor to ``backend``/``dtype`` in place (its gradient is dropped)."""
    values = p.numpy()
    if dtype is not None:
        values = values.astype(dtype)
    if backend == "scalar":
        data = _scalars(values)
    else:
        data = np.array(values, dtype=values.dtype)  # never alias the old storage
    # The Tensor object is kept (optimizers and labels refer to it); only its storage changes.
    p.data, p._backend, p._grad = data, backend, None
    if p.label:
        _label(p, p.label)


def _check_dtype(backend, dtype, where):
    if dtype is None:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"{where}: {dtype!r} is neither a back end {BACKENDS} nor a dtype") from None
    if dt.kind != "f":
        raise TypeError(f"{where}: parameters must be floating point, not {dt}")
    if backend == "scalar" and dt != np.float64:
        raise ValueError(f"{where}: the scalar back end computes in float64, not {dt}")
    return dt


class Module:
    """Base class of layers and models: subclass it, assign parameters and sub-modules in
    ``__init__`` (after ``super().__init__()``), and write ``forward``.

    Calling a module runs ``forward`` inside a named scope, so ``viz.draw(cluster=True)`` boxes
    the nodes each call made; the scope of a sub-module call is ``Parent/Class[attribute]``
    (the names PyTorch's graph tracer uses).
    """

    def __init__(self):
        d = self.__dict__
        d["_parameters"], d["_buffers"], d["_modules"] = {}, {}, {}
        d["training"] = True
        d["_scope_part"] = type(self).__name__

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        # module_scope's context variable, set directly: this runs once per layer per step.
        outer = _scope.get()
        part = self._scope_part
        token = _scope.set(part if outer is None else outer + "/" + part)
        try:
            return self.forward(*args, **kwargs)
        finally:
            _scope.reset(token)

    # --- registration -------------------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise TypeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, Tensor) and value.requires_grad:
            if not value.is_leaf:
                raise ValueError(
                    f"{type(self).__name__}.{name}: a parameter must be a leaf Tensor "
                    f"(use .detach().requires_grad_())"
                )
            params[name] = value
            _label(value, name)
            buffers.pop(name, None)
        elif isinstance(value, Module):
            modules[name] = value
            value.__dict__["_scope_part"] = f"{type(value).__name__}[{name}]"
            for pname, p in value.named_parameters():
                _label(p, f"{name}.{pname}")
            buffers.pop(name, None)
        elif name in buffers:
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(f"{type(self).__name__}.{name} is a buffer: assign an ndarray or None")
            buffers[name] = value
        d[name] = value

    def __delattr__(self, name):
        for registry in ("_parameters", "_buffers", "_modules"):
            self.__dict__[registry].pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, array) -> None:
        """Keep ``array`` (an ndarray, or None) as state that is saved but not trained."""
        if array is not None and not isinstance(array, np.ndarray):
            raise TypeError(f"register_buffer: {name!r} must be an ndarray or None, got {type(array).__name__}")
        self.__dict__["_buffers"][name] = array
        self.__dict__[name] = array

    def register_parameter(self, name: str, param) -> None:
        """Same as ``self.name = param`` for a Tensor that requires grad."""
        if param is not None and not (isinstance(param, Tensor) and param.requires_grad):
            raise TypeError(f"register_parameter: {name!r} must be a Tensor with requires_grad=True")
        setattr(self, name, param)

    # --- traversal ----------------------------------------------------------------------------
    def named_modules(self, prefix: str = ""):
        """(name, module) for this module and every descendant, depth first; each once."""
        seen, stack = set(), [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self):
        return (m for _, m in self.named_modules())

    def children(self):
        return iter(list(self._modules.values()))

    def named_parameters(self, prefix: str = ""):
        """(name, parameter) pairs; names are dotted paths such as ``"0.weight"``; shared
        parameters appear once."""
        seen = set()
        for mname, m in self.named_modules(prefix):
            for k, p in m._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{k}" if mname else k), p

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def named_buffers(self, prefix: str = ""):
        for mname, m in self.named_modules(prefix):
            for k, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{k}" if mname else k), b

    def buffers(self):
        return (b for _, b in self.named_buffers())

    # --- modes --------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch norm uses batch statistics); returns self."""
        for m in self.modules():
            m.__dict__["training"] = bool(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Drop every parameter's gradient (``.grad = None``, as PyTorch's default)."""
        for p in self.parameters():
            p.grad = None

    def to(self, backend=None, dtype=None) -> Module:
        """Move every parameter to ``backend`` ("numpy" or "scalar") and/or ``dtype`` in place,
        and return self. ``model.to(np.float32)`` or ``model.to("float32")`` changes the dtype.
        Parameters keep their identity; their gradients are dropped."""
        if backend is not None and backend not in BACKENDS:
            backend, dtype = None, backend
        for p in self.parameters():
            b = backend or p.backend
            dt = _check_dtype(b, dtype, "Module.to")
            if b != p.backend or (dt is not None and dt != p.dtype):
                _convert(p, b, dt)
        if dtype is not None:
            dt = _check_dtype(backend or "numpy", dtype, "Module.to")
            for m in self.modules():
                for k, buf in list(m._buffers.items()):
                    if buf is not None and buf.dtype.kind == "f":
                        m.register_buffer(k, buf.astype(dt))
        return self

    # --- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """A dict of name -> ndarray copy, parameters then buffers of each module (float values
        on both back ends)."""
        state = {}
        for mname, m in self.named_modules():
            for k, p in m._parameters.items():
                state[f"{mname}.{k}" if mname else k] = np.array(p.numpy(), copy=True)
            for k, b in m._buffers.items():
                if b is not None:
                    state[f"{mname}.{k}" if mname else k] = np.array(b, copy=True)
        return state

    def load_state_dict(self, state, strict: bool = True):
        """Copy ``state`` (from ``state_dict`` or ``nn.load_state``) into the parameters and
        buffers in place. Missing or extra keys (when ``strict``) and any shape mismatch raise
        ``ValueError`` listing them all; nothing is changed then. Returns the missing and
        unexpected keys (PyTorch's named tuple)."""
        targets = {}
        for mname, m in self.named_modules():
            for k, p in m._parameters.items():
                targets[f"{mname}.{k}" if mname else k] = p
            for k, b in m._buffers.items():
                if b is not None:
                    targets[f"{mname}.{k}" if mname else k] = b
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        shapes = []
        for k, t in targets.items():
            if k in state:
                v = np.asarray(state[k].numpy() if isinstance(state[k], Tensor) else state[k])
                if v.shape != tuple(t.shape):
                    shapes.append(f"{k}: expected shape {tuple(t.shape)}, got {v.shape}")
                elif v.dtype.kind not in "biuf":
                    shapes.append(f"{k}: expected numbers, got dtype {v.dtype}")
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        problems += shapes
        if problems:
            raise ValueError(f"load_state_dict for {type(self).__name__}: " + "; ".join(problems))
        for k, t in targets.items():
            if k not in state:
                continue
            v = state[k].numpy() if isinstance(state[k], Tensor) else np.asarray(state[k])
            if isinstance(t, Tensor):
                _assign(t, v)
            else:
                t[...] = v
        return IncompatibleKeys(missing, unexpected)

    def save(self, path) -> Path:
        """Write ``state_dict()`` to ``path`` as an ``.npz`` archive, atomically (a temporary
        file in the same folder, then ``os.replace``), and return the path."""
        path = Path(path)
        folder = path.parent if str(path.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **self.state_dict())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    # --- printing -----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"({k}): " + repr(m).replace("\n", "\n  ") for k, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def load_state(path) -> dict:
    """Read a state saved by ``Module.save`` (no pickles are ever loaded) as a dict of name ->
    ndarray for ``load_state_dict``. A file that is not such an archive raises ``ValueError``."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as e:  # NumPy's answer for anything that is not .npy/.npz (it guesses pickle)
        raise ValueError(f"load_state: {path} is not an .npz archive written by Module.save ({e})") from None
    except FileNotFoundError:
        raise
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"load_state: cannot read {path} as an .npz archive ({e})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"load_state: {path} holds a single array (.npy), not an .npz archive of named arrays")
    state = {}
    with archive:
        for k in archive.files:
            try:
                state[k] = archive[k]
            except (OSError, zipfile.BadZipFile, EOFError) as e:
                raise ValueError(f"load_state: {path} entry {k!r} is damaged ({e})") from None
            except ValueError:
                raise ValueError(
                    f"load_state: {path} entry {k!r} holds Python objects (pickled data), which are never "
                    f"loaded; save states with Module.save"
                ) from None
            if state[k].dtype.kind not in "biuf":
                raise ValueError(f"load_state: {path} entry {k!r} has dtype {state[k].dtype}, not numbers")
    return state
