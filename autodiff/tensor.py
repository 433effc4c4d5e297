"""Tensor: the array front end, on the NumPy back end (vectorised) or the scalar back end (a graph
of Scalar nodes), with the same semantics on both."""

from __future__ import annotations

import numbers

import numpy as np

from autodiff._mode import default_rng
from autodiff.scalar import NOGRAD as _NOGRAD, Scalar

__all__ = [
    "Tensor", "tensor", "as_tensor", "zeros", "ones", "full", "randn", "rand", "arange", "eye",
    "zeros_like", "ones_like", "BACKENDS",
]

BACKENDS = ("numpy", "scalar")
_new = object.__new__
_make_scalars = np.frompyfunc(Scalar, 1, 1)


def _scalars(values: np.ndarray) -> np.ndarray:
    """An object array of new leaf Scalars holding ``values``."""
    out = _make_scalars(np.asarray(values, dtype=np.float64))
    if type(out) is not np.ndarray:  # frompyfunc gives a bare object for 0-d input
        a = np.empty((), dtype=object)
        a[()] = out
        out = a
    return out


def _check_backend(backend):
    if backend not in BACKENDS:
        raise ValueError(f"unknown back end {backend!r}; choose 'numpy' or 'scalar'")


def _to_array(data, dtype):
    """An ndarray for ``data`` with the API's dtype rules (Python numbers and lists -> float64)."""
    if isinstance(data, Tensor):
        arr = data.numpy()
    elif isinstance(data, Scalar):
        arr = np.asarray(data.data)
    elif isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data)
    else:
        arr = np.asarray(data)
        if arr.dtype.kind in "biu" and dtype is None:
            arr = arr.astype(np.float64)
    if arr.dtype == object:  # a list or array of Scalars
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError("Tensor: data must hold numbers (or Scalars)") from None
    if dtype is not None:
        arr = arr.astype(np.dtype(dtype), copy=False)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Tensor: unsupported dtype {arr.dtype} (use float, integer or boolean data)")
    return arr


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    >>> W = ad.Tensor(np.ones((3, 4)), requires_grad=True)
    >>> (ad.Tensor(np.ones((2, 3))) @ W).sum().backward()
    >>> W.grad.shape
    (3, 4)

    ``backend="scalar"`` stores every element as a ``Scalar`` node, so the recorded graph is the
    graph of Scalars (float64 only); ``backend="numpy"`` (the default) runs vectorised.
    """

    # _node: what the engine recorded about the op that made this Tensor (None for a leaf); _rg:
    # requires_grad; _grad: the gradient Tensor (or None); _backend: "numpy" or "scalar".
    __slots__ = ("data", "_rg", "_grad", "_node", "_backend", "label", "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad=False, dtype=None, backend="numpy"):
        _check_backend(backend)
        if backend == "scalar" and dtype is not None and np.dtype(dtype).kind == "f" and np.dtype(dtype) != np.float64:
            raise ValueError(f"Tensor: the scalar back end computes in float64, not {np.dtype(dtype)}")
        arr = _to_array(data, dtype)
        if arr is data or isinstance(data, (np.ndarray, Tensor)):
            arr = arr.copy()  # a Tensor never aliases the caller's array
        if backend == "scalar" and arr.dtype.kind == "f":
            arr = _scalars(arr)
        self.data = arr
        self._backend = backend
        self._grad = self._node = self.label = None
        self._rg = False
        if requires_grad:
            self.requires_grad_()

    @staticmethod
    def _wrap(data: np.ndarray, backend: str) -> Tensor:
        """A leaf Tensor around ``data`` as it is (no copy, no checks)."""
        t = _new(Tensor)
        t.data, t._backend, t._grad, t._rg, t._node, t.label = data, backend, None, False, None, None
        return t

    # --- attributes ---------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float64) if self.data.dtype == object else self.data.dtype

    @property
    def backend(self) -> str:
        return self._backend

    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` on a leaf (in place) and return self. On a Tensor made by an op
        (which requires grad already) ``requires_grad_()`` does nothing, as in PyTorch."""
        if self._node is not None:
            if requires_grad:
                return self
            raise RuntimeError("requires_grad_: only leaf Tensors can change requires_grad; use .detach()")
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(f"requires_grad: only floating-point Tensors can require gradients, not {self.dtype}")
        self._rg = bool(requires_grad)
        return self

    @property
    def grad(self):
        """The gradient that backward accumulated (a Tensor of the same shape and back end), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is None and self._backend == "numpy":  # zero_grad's case, kept short
            self._grad = None
            return
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(value, backend=self._backend)
        if value is not None and value.shape != self.shape:
            raise ValueError(f"grad: shape {value.shape} does not match the Tensor's shape {self.shape}")
        if value is None and self._backend == "scalar" and self.data.dtype == object:
            for s in self.data.flat:  # keep the Scalars' own .grad in step with the Tensor's
                s.grad = _NOGRAD
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def op(self) -> str:
        """Name of the op that made this Tensor ("" for a leaf)."""
        return self._node.op.name if self._node is not None else ""

    @property
    def parents(self) -> tuple:
        """The Tensor inputs of the op that made this Tensor, in operand order (empty for a leaf,
        and once a backward pass without ``retain_graph`` has released the graph)."""
        node = self._node
        if node is None or node.args is None:
            return ()
        return tuple(p for p in node.args if isinstance(p, Tensor))

    @property
    def T(self) -> Tensor:
        return self.transpose()

    # --- conversion ---------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The values as an ndarray (shared with the Tensor on the NumPy back end)."""
        if self.data.dtype == object:
            return self.data.astype(np.float64)
        return self.data

    def __array__(self, dtype=None, copy=None):
        # NumPy's protocol: copy=True always copies, False never (raises if it must), None if needed
        a = self.numpy()
        if dtype is not None and a.dtype != dtype:
            if copy is False:
                raise ValueError(f"Tensor: converting {a.dtype} to {np.dtype(dtype)} needs a copy (copy=False)")
            return a.astype(dtype)
        return a.copy() if copy else a

    def item(self):
        if self.size != 1:
            raise ValueError(f"item: only one-element Tensors can be converted, shape is {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.size != 1:
            raise ValueError(f"the truth value of a Tensor with {self.size} elements is ambiguous")
        return bool(self.item())

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d Tensor")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", prefix="Tensor(")
        extra = ""
        if self.dtype != np.float64:
            extra += f", dtype={self.dtype}"
        if self._backend != "numpy":
            extra += f", backend={self._backend!r}"
        if self._node is not None:
            extra += f", op={self.op!r}"
        elif self._rg:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    def to(self, backend: str) -> Tensor:
        """A copy on the other back end (self when already there); a leaf keeps requires_grad.

        Unlike PyTorch's ``.to``, the copy of a non-leaf is detached: the two back ends record
        different graphs (Tensor ops vs Scalar nodes), so no edge can join them."""
        _check_backend(backend)
        if backend == self._backend:
            return self
        return Tensor(self.numpy(), requires_grad=self._rg and self._node is None, backend=backend)

    def detach(self) -> Tensor:
        """The same values, cut from the graph (shares memory on the NumPy back end)."""
        if self._backend == "scalar" and self.data.dtype == object:
            return Tensor(self.numpy(), backend="scalar")
        return Tensor._wrap(self.data, self._backend)

    def copy_(self, values) -> Tensor:
        """Overwrite the values in place, unrecorded (optimizers and ``load_state_dict`` use it, as
        PyTorch does under ``no_grad``); the object and, on the scalar back end, its Scalars keep
        their identity, so graphs and viewers see the change. Returns self."""
        if isinstance(values, Tensor):
            values = values.numpy()
        if self.data.dtype == object:
            for s, v in zip(self.data.flat, np.broadcast_to(np.asarray(values, dtype=np.float64), self.shape).ravel().tolist()):
                s.data = v
        else:
            self.data[...] = values
        return self

    def to_(self, backend: str, dtype=None) -> Tensor:
        """Move a leaf to ``backend`` (and ``dtype``) in place, dropping its gradient, and return
        it: ``Module.to`` keeps the same Tensor objects, so optimizers holding them stay valid."""
        _check_backend(backend)
        if self._node is not None:
            raise RuntimeError("to_: only leaf Tensors can change back end in place")
        if backend == "scalar" and dtype is not None and np.dtype(dtype) != np.float64:
            raise ValueError(f"to_: the scalar back end computes in float64, not {np.dtype(dtype)}")
        values = self.numpy() if dtype is None else self.numpy().astype(dtype)
        self.data = _scalars(values) if backend == "scalar" else np.array(values)  # never alias
        self._backend, self._grad = backend, None
        return self

    def astype(self, dtype) -> Tensor:
        return _ops.astype(self, dtype=np.dtype(dtype))

    # --- autograd -----------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``gradient`` (shape of self) is required unless self has one element. The graph is freed
        afterwards unless ``retain_graph``; ``create_graph=True`` records the backward pass so the
        gradients can be differentiated again.
        """
        _backward.run([self], [gradient], retain_graph, create_graph)

    # --- arithmetic ---------------------------------------------------------------------------
    def __add__(self, other):
        return _apply(_add, (self, other), {})

    def __radd__(self, other):
        return _apply(_add, (other, self), {})

    def __sub__(self, other):
        return _apply(_sub, (self, other), {})

    def __rsub__(self, other):
        return _apply(_sub, (other, self), {})

    def __mul__(self, other):
        return _apply(_mul, (self, other), {})

    def __rmul__(self, other):
        return _apply(_mul, (other, self), {})

    def __truediv__(self, other):
        return _apply(_div, (self, other), {})

    def __rtruediv__(self, other):
        return _apply(_div, (other, self), {})

    def __pow__(self, other):
        if isinstance(other, numbers.Real) and not isinstance(other, bool):
            return _ops.pow_const(self, p=float(other))
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __matmul__(self, other):
        return _apply(_matmul, (self, other), {})

    def __rmatmul__(self, other):
        return _apply(_matmul, (other, self), {})

    def __neg__(self):
        return _apply(_neg, (self,), {})

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    # comparisons: boolean Tensors, never recorded
    def _compare(self, other, ufunc):
        ov = other.numpy() if isinstance(other, Tensor) else other
        return Tensor._wrap(np.asarray(ufunc(self.numpy(), ov)), self._backend)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    __hash__ = object.__hash__

    def __getitem__(self, index):
        return _apply(_getitem, (self,), {"index": _ops.normalize_index(index)})

    # --- elementwise --------------------------------------------------------------------------
    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def abs(self):
        return _ops.abs(self)

    def sin(self):
        return _ops.sin(self)

    def cos(self):
        return _ops.cos(self)

    def tanh(self):
        return _ops.tanh(self)

    def sigmoid(self):
        return _ops.sigmoid(self)

    def relu(self):
        return _apply(_relu, (self,), {})

    def leaky_relu(self, slope=0.01):
        return _ops.leaky_relu(self, slope=float(slope))

    def softplus(self):
        return _ops.softplus(self)

    def clip(self, lo=None, hi=None):
        return _ops.clip(self, lo, hi)

    # --- reductions ---------------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        if axis is None and not keepdims:  # the loss's case, without the axis checks
            return _apply(_reduce._sum, (self,), {"axis": None, "keepdims": False})
        return _ops.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        if axis is None and not keepdims:
            return _apply(_reduce._mean, (self,), {"axis": None, "keepdims": False})
        return _ops.mean(self, axis, keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        return _ops.var(self, axis, ddof, keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops.min(self, axis, keepdims)

    def logsumexp(self, axis=None, keepdims=False):
        return _ops.logsumexp(self, axis, keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _ops.argmax(self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _ops.argmin(self, axis, keepdims)

    def softmax(self, axis=-1):
        return _ops.softmax(self, axis)

    def log_softmax(self, axis=-1):
        return _ops.log_softmax(self, axis)

    # --- shape --------------------------------------------------------------------------------
    def reshape(self, *shape):
        return _ops.reshape(self, *shape)

    def transpose(self, *axes):
        return _ops.transpose(self, *axes)

    def flatten(self, start_dim=0, end_dim=-1):
        return _ops.flatten(self, start_dim, end_dim)

    def squeeze(self, axis=None):
        return _ops.squeeze(self, axis)

    def unsqueeze(self, axis):
        return _ops.unsqueeze(self, axis)

    def broadcast_to(self, shape):
        return _ops.broadcast_to(self, shape)

    def pad(self, pad_width, mode="zero"):
        return _ops.pad(self, pad_width, mode)


# --- creation -------------------------------------------------------------------------------


def tensor(data, requires_grad=False, dtype=None, backend="numpy") -> Tensor:
    """Alias of ``Tensor(...)``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, backend=backend)


def as_tensor(data, backend=None) -> Tensor:
    """A Tensor that shares ``data`` when it can (PyTorch's ``as_tensor``): a float, integer or
    boolean ndarray is used as it is (no copy; the NumPy back end), and an object array of
    Scalars becomes a scalar-back-end Tensor holding those very Scalars. Anything else is
    copied, as ``Tensor(data, backend=...)`` does."""
    if isinstance(data, Tensor):
        return data if backend in (None, data.backend) else data.to(backend)
    if type(data) is np.ndarray:
        if data.dtype == object and backend in (None, "scalar"):
            if not all(isinstance(s, Scalar) for s in data.flat):
                raise TypeError("as_tensor: an object array must hold Scalars")
            return Tensor._wrap(data, "scalar")
        if data.dtype.kind in "biuf" and backend in (None, "numpy"):
            return Tensor._wrap(data, "numpy")
    return Tensor(data, backend=backend or "numpy")


def _shape_arg(shape, fn):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: shape must be ints or a tuple of ints, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{fn}: negative dimension in shape {shape}")
    return shape


def _from_values(values, requires_grad, backend):
    _check_backend(backend)
    data = _scalars(values) if backend == "scalar" and values.dtype.kind == "f" else values
    return Tensor._wrap(data, backend).requires_grad_(requires_grad) if requires_grad else Tensor._wrap(data, backend)


def _float_dtype(dtype, backend):
    dt = np.dtype(np.float64 if dtype is None else dtype)
    if backend == "scalar" and dt.kind == "f" and dt != np.float64:
        raise ValueError(f"the scalar back end computes in float64, not {dt}")
    return dt


def full(*shape, fill_value=0.0, dtype=None, backend="numpy", requires_grad=False) -> Tensor:
    """A Tensor of the given shape filled with ``fill_value``."""
    if len(shape) == 2 and isinstance(shape[0], (tuple, list)):  # full((2, 3), 7.0) as in NumPy
        shape, fill_value = (shape[0],), shape[1]
    shape = _shape_arg(shape, "full")
    return _from_values(np.full(shape, fill_value, dtype=_float_dtype(dtype, backend)), requires_grad, backend)


def zeros(*shape, dtype=None, backend="numpy", requires_grad=False) -> Tensor:
    return full(_shape_arg(shape, "zeros"), fill_value=0.0, dtype=dtype, backend=backend, requires_grad=requires_grad)


def ones(*shape, dtype=None, backend="numpy", requires_grad=False) -> Tensor:
    return full(_shape_arg(shape, "ones"), fill_value=1.0, dtype=dtype, backend=backend, requires_grad=requires_grad)


def zeros_like(t: Tensor, requires_grad=False) -> Tensor:
    return zeros(t.shape, dtype=t.dtype, backend=t.backend, requires_grad=requires_grad)


def ones_like(t: Tensor, requires_grad=False) -> Tensor:
    return ones(t.shape, dtype=t.dtype, backend=t.backend, requires_grad=requires_grad)


def randn(*shape, rng=None, dtype=None, backend="numpy", requires_grad=False) -> Tensor:
    """Standard normal samples from ``rng`` (default: the generator behind ``manual_seed``)."""
    shape = _shape_arg(shape, "randn")
    rng = default_rng() if rng is None else rng
    values = rng.standard_normal(shape).astype(_float_dtype(dtype, backend), copy=False)
    return _from_values(values, requires_grad, backend)


def rand(*shape, rng=None, dtype=None, backend="numpy", requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) from ``rng`` (default: the generator behind ``manual_seed``)."""
    shape = _shape_arg(shape, "rand")
    rng = default_rng() if rng is None else rng
    values = rng.random(shape).astype(_float_dtype(dtype, backend), copy=False)
    return _from_values(values, requires_grad, backend)


def arange(*args, dtype=None, backend="numpy", requires_grad=False) -> Tensor:
    """``np.arange(*args)`` as a Tensor (float64 unless ``dtype`` says otherwise)."""
    return _from_values(np.arange(*args, dtype=_float_dtype(dtype, backend)), requires_grad, backend)


def eye(n, m=None, dtype=None, backend="numpy", requires_grad=False) -> Tensor:
    return _from_values(np.eye(n, m, dtype=_float_dtype(dtype, backend)), requires_grad, backend)


# Tensor's methods call the ops, which build Tensors: imported last, once Tensor exists.
from autodiff import _backward, ops as _ops  # noqa: E402
from autodiff._engine import apply as _apply  # noqa: E402
from autodiff.ops import reduce as _reduce  # noqa: E402
from autodiff.ops.elementwise import add as _add, div as _div, mul as _mul, neg as _neg, relu as _relu, sub as _sub  # noqa: E402
from autodiff.ops.linalg import matmul as _matmul  # noqa: E402
from autodiff.ops.shape import getitem as _getitem  # noqa: E402
