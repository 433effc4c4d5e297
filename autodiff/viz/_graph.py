"""The graph behind a drawing: value nodes and their parents, read from a Scalar or a Tensor.

A Scalar, or a Tensor on the scalar back end, gives the graph of Scalars; a Tensor on the NumPy
back end gives one node per Tensor. Traversals are iterative and keyed by ``id()``, so deep
graphs work and values are never compared.
"""

from __future__ import annotations

import numpy as np

from autodiff import graph
from autodiff.scalar import Scalar
from autodiff.tensor import Tensor

__all__ = ["Node", "GraphTooLarge", "walk", "collect"]


class GraphTooLarge(ValueError):
    """The graph has more value nodes than the caller allows."""


class Node:
    """One value in the drawing. ``data``/``grad`` are floats or float ndarrays (grad may be None);
    ``parents`` are indices into the node list, in operand order."""

    __slots__ = ("index", "label", "op", "params", "shape", "data", "grad", "leaf", "param", "scope", "parents")

    def __init__(self, index, label, op, params, shape, data, grad, leaf, param, scope):
        self.index, self.label, self.op, self.params, self.shape = index, label, op, params, shape
        self.data, self.grad, self.leaf, self.param, self.scope = data, grad, leaf, param, scope
        self.parents = []


def walk(roots, parents_of, limit=None):
    """Every object reachable from ``roots`` through ``parents_of``, each after its parents.

    Iterative depth-first post-order keyed by ``id()``; raises ``GraphTooLarge`` as soon as more
    than ``limit`` objects have been found (so a huge graph is not walked to the end).
    """
    order, seen = [], set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        if limit is not None and len(seen) > limit:  # (many roots: a scalar-back-end Tensor's cells)
            raise GraphTooLarge(limit)
        stack = [(root, iter(parents_of(root)))]
        while stack:
            node, parents = stack[-1]
            for p in parents:
                if id(p) not in seen:
                    seen.add(id(p))
                    if limit is not None and len(seen) > limit:
                        raise GraphTooLarge(limit)
                    stack.append((p, iter(parents_of(p))))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _tensor_parents(t):
    return t.parents


def _scalar_parents(s):
    return s.parents


def _check_not_freed(root):
    """Tensor graphs lose their edges in a backward pass without retain_graph: say so, rather
    than draw the output alone."""
    if graph.freed(root):
        raise RuntimeError(
            "viz: backward() has released this graph (it keeps no edges, to free memory); call "
            "backward(retain_graph=True) to draw or explain it afterwards, or draw it before backward"
        )


def _floats(x):
    """A value as a float (Scalars, and Scalar grads under create_graph) or a float ndarray."""
    if isinstance(x, Scalar):
        return x.data
    if isinstance(x, Tensor):
        return np.asarray(x.numpy(), dtype=np.float64)
    return x


def _param_names(params):
    """``{id(tensor): name}`` from a dict or an iterable of (name, Tensor) pairs (named_parameters)."""
    if params is None:
        return {}
    items = params.items() if isinstance(params, dict) else params
    names = {}
    for name, t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"draw: params must map names to Tensors, got {type(t).__name__} for {name!r}")
        names[id(t)] = str(name)
    return names


def _leaf_scopes(tensors):
    """Scopes for leaves made outside any module call (parameters): the one scope shared by all
    the Tensors that use them, when there is exactly one, so a layer's weights sit in its box."""
    users = {}
    for t in tensors:
        for p in _tensor_parents(t):
            if p.is_leaf and p.requires_grad:
                users.setdefault(id(p), set()).add(graph.scope(t))
    return {k: next(iter(s)) for k, s in users.items() if len(s) == 1 and None not in s}


def _tensor_graph(root, limit, names):
    tensors = walk([root], _tensor_parents, limit)
    leaf_scope = _leaf_scopes(tensors)
    index = {id(t): i for i, t in enumerate(tensors)}
    nodes = []
    for i, t in enumerate(tensors):
        leaf = t.is_leaf
        params = None
        if not leaf:
            params = ", ".join(f"{k}={_short(v)}" for k, v in graph.params(t).items() if _short(v) is not None)
        grad = None if t.grad is None else _floats(t.grad)
        node = Node(
            i, names.get(id(t)) or t.label or "", t.op, params or None, t.shape, _floats(t), grad,
            leaf, leaf and t.requires_grad, graph.scope(t) if not leaf else leaf_scope.get(id(t)),
        )
        node.parents = [index[id(p)] for p in _tensor_parents(t)]
        nodes.append(node)
    return nodes, [len(nodes) - 1]


def _short(v):
    """A parameter value short enough for an op node's label, else None."""
    if v is None or v is False or isinstance(v, np.ndarray) or callable(v):
        return None
    text = repr(v)
    return text if len(text) <= 24 else None


def _scalar_context(root, names):
    """For a scalar-back-end Tensor: the Tensor-level graph gives each Scalar a display label,
    a scope and whether it belongs to a parameter. Scalars made inside an op (a matmul's
    products) take the scope of the Tensor that op made."""
    tensors = walk([root], _tensor_parents)
    leaf_scope = _leaf_scopes(tensors)
    labels, scopes, params = {}, {}, set()
    for t in tensors:
        if t.data.dtype != object:
            continue
        name = names.get(id(t)) or t.label
        scope = graph.scope(t) if not t.is_leaf else leaf_scope.get(id(t))
        cells = t.data.ravel().tolist()
        if name:
            for j, s in enumerate(cells):
                idx = np.unravel_index(j, t.shape) if t.shape else ()
                labels.setdefault(id(s), f"{name}[{', '.join(str(int(v)) for v in idx)}]" if t.shape else name)
        if t.is_leaf:
            if t.requires_grad:
                params.update(id(s) for s in cells)
            for s in cells:
                scopes.setdefault(id(s), scope)
            continue
        # Scalars not yet claimed by a parent Tensor were made by this Tensor's op.
        inner = walk(cells, lambda s: [p for p in s.parents if id(p) not in scopes])
        for s in inner:
            scopes.setdefault(id(s), scope)
    return labels, scopes, params


def _scalar_graph(roots, order, labels=None, scopes=None, params=None):
    labels, scopes = labels or {}, scopes or {}
    index = {id(s): i for i, s in enumerate(order)}
    nodes = []
    for i, s in enumerate(order):
        leaf = s.is_leaf
        # In a Scalar graph every leaf receives a gradient, so every leaf counts as a parameter;
        # on the scalar back end only the Scalars of requires_grad leaf Tensors do.
        is_param = leaf and (params is None or id(s) in params)
        node = Node(
            i, s.label or labels.get(id(s), ""), s.op, None, None, s.data, _floats(s.grad), leaf, is_param,
            scopes.get(id(s)),
        )
        node.parents = [index[id(p)] for p in s.parents]
        nodes.append(node)
    return nodes, [index[id(r)] for r in roots]


def collect(root, max_nodes=None, params=None):
    """``(nodes, root_indices, backward_ran)`` for a Scalar or a Tensor (see module docstring).

    ``backward_ran`` tells whether gradients have been computed, so that a zero gradient means
    something: for Scalars the output's own ``.grad`` is set by ``backward()``; for Tensors some
    parameter has a ``.grad``.
    """
    names = _param_names(params)
    if isinstance(root, Scalar):
        nodes, roots = _scalar_graph([root], walk([root], _scalar_parents, max_nodes))
        ran = _floats(root.grad) != 0
    elif isinstance(root, Tensor):
        _check_not_freed(root)
        if root.backend == "scalar" and root.data.dtype == object:
            cells = root.data.ravel().tolist()
            order = walk(cells, _scalar_parents, max_nodes)  # first: a huge graph fails fast
            nodes, roots = _scalar_graph(cells, order, *_scalar_context(root, names))
            ran = any(_floats(s.grad) != 0 for s in cells)
        else:
            nodes, roots = _tensor_graph(root, max_nodes, names)
            ran = any(n.param and n.grad is not None for n in nodes)
    else:
        raise TypeError(f"viz: expected a Scalar or a Tensor, got {type(root).__name__}")
    return nodes, roots, bool(ran)
