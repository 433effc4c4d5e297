"""Shape ops and indexing: they move values, so each rule moves the gradient back."""

from __future__ import annotations

import numbers

import numpy as np

from autodiff._engine import Op, owned
from autodiff.tensor import Tensor

__all__ = [
    "reshape", "transpose", "flatten", "squeeze", "unsqueeze", "broadcast_to", "concatenate",
    "stack", "getitem", "index_add", "normalize_index", "swap_last",
]

_reshape = Op(
    "reshape",
    lambda x, shape: x.reshape(shape),
    (lambda g, out, a, shape: _reshape(g, shape=a.shape),),
    scalar=owned(lambda x, shape: x.reshape(shape)),
)
_transpose = Op(
    "transpose",
    lambda x, axes: x.transpose(axes),
    (lambda g, out, a, axes: _transpose(g, axes=tuple(np.argsort(axes).tolist())),),
    scalar=owned(lambda x, axes: x.transpose(axes)),
)
def one_value(x, shape):
    """A read-only view of the one element of ``x`` (an ndarray) at every place of ``shape``:
    zero strides, no copy (a full reduction's gradient, broadcast_to of one value)."""
    out = np.ndarray(shape, x.dtype, x, 0, (0,) * len(shape))  # (one element: contiguous)
    out.setflags(write=False)
    return out


def _broadcast_forward(x, shape):
    if x.shape == shape:
        return x
    if x.size == 1 and x.ndim <= len(shape) and x.dtype.kind != "O":
        return one_value(x, shape)
    if x.ndim == len(shape) and x.dtype != object and x.flags.c_contiguous:
        # A read-only view with zero strides, ten times cheaper than np.broadcast_to.
        strides = tuple(0 if n == 1 and s != 1 else st for n, s, st in zip(x.shape, shape, x.strides))
        if all(n == s or n == 1 for n, s in zip(x.shape, shape)):
            out = np.ndarray(shape, x.dtype, x, 0, strides)
            out.flags.writeable = False
            return out
    return np.broadcast_to(x, shape)


# The engine sums a gradient back to its input's shape, so broadcasting's rule is the identity.
_broadcast_to = Op(
    "broadcast_to", _broadcast_forward, (lambda g, out, a, shape: g,), scalar=owned(lambda x, shape: np.broadcast_to(x, shape))
)


def _shape_of(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(x, *shape):
    """``x`` with a new shape (one entry may be -1)."""
    return _reshape(x, shape=_shape_of(shape))


def transpose(x, *axes):
    """Permute the axes (reverse them when none are given)."""
    ndim = np.ndim(x.data if isinstance(x, Tensor) else x)
    axes = _shape_of(axes) if axes and axes[0] is not None else tuple(range(ndim))[::-1]
    if sorted(a % ndim if ndim else a for a in axes) != list(range(ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {ndim} axes")
    return _transpose(x, axes=tuple(a % ndim for a in axes))


def swap_last(x):
    """Swap the last two axes (the batched matrix transpose)."""
    n = x.ndim
    return _transpose(x, axes=tuple(range(n - 2)) + (n - 1, n - 2))


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes start_dim..end_dim into one (PyTorch's flatten)."""
    shape = x.shape
    if not shape:
        return reshape(x, 1)
    s, e = start_dim % len(shape), end_dim % len(shape)
    return _reshape(x, shape=shape[:s] + (int(np.prod(shape[s : e + 1])),) + shape[e + 1 :])


def squeeze(x, axis=None):
    """Remove axes of length one (all of them, or the given ones, which must have length one)."""
    shape = x.shape
    if axis is None:
        return _reshape(x, shape=tuple(s for s in shape if s != 1))
    axes = {a % len(shape) for a in ((axis,) if isinstance(axis, numbers.Integral) else axis)}
    for a in axes:
        if shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has length {shape[a]}, not 1 (shape {shape})")
    return _reshape(x, shape=tuple(s for i, s in enumerate(shape) if i not in axes))


def unsqueeze(x, axis):
    """Insert an axis of length one at ``axis``."""
    shape = list(x.shape)
    axis = axis if axis >= 0 else axis + len(shape) + 1
    if not 0 <= axis <= len(shape):
        raise ValueError(f"unsqueeze: axis {axis} out of range for shape {tuple(shape)}")
    shape.insert(axis, 1)
    return _reshape(x, shape=tuple(shape))


def broadcast_to(x, shape):
    """``x`` broadcast to ``shape`` (NumPy's rules)."""
    return _broadcast_to(x, shape=_shape_of((shape,)))


def _concat_vjp(g, out, *xs, needs, axis):
    bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
    grads, start = [], 0
    for need, stop in zip(needs, list(bounds) + [g.shape[axis]]):
        if need:
            index = (slice(None),) * (axis % g.ndim) + (slice(int(start), int(stop)),)
            grads.append(getitem(g, index=index))
        else:
            grads.append(None)
        start = stop
    return grads


_concatenate = Op(
    "concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis), vjp=_concat_vjp,
    scalar=owned(lambda *xs, axis: np.concatenate(xs, axis=axis)),
)


def concatenate(tensors, axis=0):
    """Join Tensors along an existing axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate: needs at least one Tensor")
    return _concatenate(*tensors, axis=axis)


def stack(tensors, axis=0):
    """Join Tensors along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: needs at least one Tensor")
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all Tensors must have the same shape, got {sorted(shapes)}")
    return concatenate([unsqueeze(t, axis) for t in tensors], axis=axis)


# --- indexing ---------------------------------------------------------------------------------


def normalize_index(index):
    """Index entries as NumPy understands them: Tensors and lists become integer/boolean arrays."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for it in items:
        if isinstance(it, Tensor):
            it = it.numpy() if it.dtype.kind == "f" else it.data
        if isinstance(it, list):
            it = np.asarray(it)
        if isinstance(it, np.ndarray) and it.dtype.kind not in "biu":
            raise IndexError(f"indexing: index arrays must hold integers or booleans, not {it.dtype}")
        out.append(it)
    return tuple(out) if isinstance(index, tuple) else out[0]


def _is_basic(index):
    """True when no cell can be picked twice: slices, integers, None, Ellipsis and masks."""
    for i in index if isinstance(index, tuple) else (index,):
        if isinstance(i, np.ndarray):
            if i.dtype != bool:  # an integer array may repeat a position
                return False
        elif not isinstance(i, (slice, numbers.Integral, type(None), type(Ellipsis))):
            return False
    return True


def _index_add_forward(g, index, shape):
    z = np.zeros(shape, dtype=g.dtype)
    if _is_basic(index):  # every cell is picked at most once
        z[index] = g
    else:  # repeated indices accumulate
        np.add.at(z, index, g)
    return z


index_add = Op(  # scatter-add of g into zeros(shape) at index; its adjoint is indexing
    "index_add", _index_add_forward, (lambda g, out, a, index, shape: getitem(g, index=index),)
)


def _getitem_forward(x, index):
    try:
        return x[index]
    except IndexError as e:
        raise IndexError(f"getitem: {e} (shape {x.shape})") from None


getitem = Op(
    "getitem",
    _getitem_forward,
    (lambda g, out, a, index: index_add(g, index=index, shape=a.shape),),
    scalar=owned(_getitem_forward),
    fresh=True,
)
