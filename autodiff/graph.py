"""The recorded graph, read-only: what the engine walks and does at each node, for tools to read.

``viz`` draws and explains graphs with these functions only, and a user's tool can do the same:

>>> x = ad.Tensor([1.0, 2.0], requires_grad=True); y = (x * x).sum()
>>> [t.op or "leaf" for t in ad.graph.toposort([y])]          # parents first
['leaf', 'mul', 'sum']
>>> ad.graph.step(y, 1.0)                                       # backward's step at y
[(0, Tensor(..., op='mul'), array([1., 1.]))]

A value is a ``Tensor`` or a ``Scalar``; its ``.op``, ``.parents`` and ``.is_leaf`` say how it was
made. A backward pass without ``retain_graph`` releases each node as it passes it (its inputs'
arrays, its edges, what it saved): ``freed`` tells, and ``toposort`` and ``step`` then raise
a RuntimeError that says to pass ``retain_graph=True``.
"""

from __future__ import annotations

import numpy as np

from autodiff import _backward, _scalar_backward as _scalar
from autodiff._engine import Node
from autodiff._mode import no_grad
from autodiff.scalar import Scalar
from autodiff.tensor import Tensor

__all__ = ["toposort", "step", "params", "saved", "scope", "freed"]


def _check(value, where):
    if not isinstance(value, (Tensor, Scalar)):
        raise TypeError(f"{where}: expected a Tensor or a Scalar, got {type(value).__name__}")


def toposort(roots) -> list:
    """The values backward passes through from ``roots`` (a value or a list of them), every one
    after its parents: the order backward runs, reversed. For Scalars every node; for Tensors
    those made by ops (the engine's own order) with the leaves that require grad placed before
    their first use. Raises RuntimeError when the graph was released by backward."""
    roots = [roots] if isinstance(roots, (Tensor, Scalar)) else list(roots)
    for r in roots:
        _check(r, "toposort")
    if not roots:
        return []
    if isinstance(roots[0], Scalar):
        return _scalar.toposort(roots)
    order, seen = [], set()
    for t in [r for r in roots if r._node is None and r.requires_grad] + _backward.toposort(roots):
        node = t._node
        for _, p in () if node is None else node.edges:
            if p._node is None and id(p) not in seen:
                seen.add(id(p))
                order.append(p)
        if id(t) not in seen:
            seen.add(id(t))
            order.append(t)
    return order


def step(value, grad) -> list:
    """What backward does at ``value`` (made by an op) when its gradient is ``grad``:
    ``[(i, parent, gradient), ...]`` for each operand ``value.parents[i]`` that requires grad — the
    op's rules applied and summed back to the parent's shape (first order: arrays for Tensors,
    floats for Scalars). One Tensor may be two operands (x - x): each gets its own entry. The same
    function the backward pass runs; it changes nothing."""
    _check(value, "step")
    if isinstance(value, Scalar):
        if value.is_leaf:
            return []
        if freed(value):
            raise RuntimeError(_scalar.FREED_MESSAGE)
        return _scalar.step(value, float(grad.data if isinstance(grad, Scalar) else grad))
    node = value._node
    if node is None:
        return []
    if node.edges is None:
        raise RuntimeError(_backward.FREED)
    g = np.asarray(grad.numpy() if isinstance(grad, Tensor) else grad)
    if g.dtype.kind != "f" or g.dtype != value.dtype:
        g = g.astype(value.dtype)
    index, k = {}, 0  # argument position -> position among the Tensor operands (value.parents)
    for i, a in enumerate(node.args):
        if isinstance(a, Tensor):
            index[i], k = k, k + 1
    if value.backend == "scalar":  # the Tensor-level step, on the Scalars' values
        if node.op.forward is None and not node.op.vjps and node.op.vjp is None:
            raise RuntimeError(
                "step: this gradient was recorded by create_graph on the scalar back end; its graph is "
                "the Scalars' (step through value.data's Scalars, or use the NumPy back end)"
            )
        value, node = _on_values(value, node)
    with no_grad():
        return [(index[i], p, pg) for i, p, pg, _ in _backward.step(value, node, g, False)]


def _on_values(value, node):
    """A scalar-back-end Tensor and its node with float arrays for object arrays of Scalars, so
    the Tensor ops' rules compute numbers rather than build Scalar nodes."""
    floats = Tensor(value.numpy())
    shadow = Node.__new__(Node)
    shadow.op, shadow.args, shadow.edges, shadow.params = node.op, node.args, node.edges, node.params
    shadow.raw = [r.astype(np.float64) if isinstance(r, np.ndarray) and r.dtype == object else r for r in node.raw]
    shadow.scope, shadow.seen, shadow.pending = node.scope, None, None
    return floats, shadow


def params(value) -> dict:
    """The keyword parameters of the op that made ``value`` (an axis, a shape, an index, ...),
    without the arrays it saved for its rules; {} for a leaf or a released node."""
    _check(value, "params")
    if isinstance(value, Scalar):
        fn = value._fn
        return dict(fn.params) if fn is not None and fn.params else {}
    node = value._node
    if node is None or node.params is None:
        return {}
    return {k: v for k, v in node.params.items() if k != "saved"}


def saved(value):
    """What the forward of the op that made ``value`` saved for its rules (``Op(saves=True)``),
    or None (none, a leaf, or released by backward)."""
    _check(value, "saved")
    if isinstance(value, Scalar) or value._node is None or value._node.params is None:
        return None
    return value._node.params.get("saved")


def scope(value):
    """The name of the ``nn.Module`` call the Tensor was made in (for ``viz.draw(cluster=True)``),
    or None (a leaf, a Scalar, or made outside any module)."""
    _check(value, "scope")
    if isinstance(value, Scalar) or value._node is None:
        return None
    return value._node.scope


def freed(value) -> bool:
    """True when a backward pass without ``retain_graph`` has released the node that made
    ``value`` (a leaf is never released)."""
    _check(value, "freed")
    if isinstance(value, Scalar):
        return value._seen is _scalar._FREED
    return value._node is not None and value._node.edges is None
