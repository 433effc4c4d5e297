"""The backward pass over a graph of Scalars: one walk in reverse topological order, one step per node.

``toposort`` lists the nodes reachable from the outputs, parents first. ``step`` is one node's
chain rule: its op's rules (the Tensor ops' own, ``autodiff/ops/elementwise.py``) called with
floats, or with the nodes themselves under ``create_graph`` so that they record their own
derivative. ``backprop`` runs the loop (``+`` and ``*``, most of any graph, inlined) and, without
``retain_graph``, marks each node it passes so that a second pass raises. ``viz.explain`` tells
the same walk and steps as text.
"""

from __future__ import annotations

import math

import numpy as np

from autodiff._mode import _anomaly
from autodiff.scalar import _MANY, Scalar, _lift, _val

__all__ = ["backprop", "step", "toposort", "FREED_MESSAGE"]

_inf = math.inf
_FREED = object()  # in ``_seen``: a backward pass without retain_graph has passed this node

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or to reach nodes of a graph that a "
    "backward pass already freed). Pass retain_graph=True to the first backward call if you "
    "need to backward through the graph again, or to explain or step through it afterwards."
)


def toposort(roots) -> list:
    """Nodes reachable from roots, every node after its parents (iterative: no recursion limit):
    the order the backward pass runs, reversed. Raises RuntimeError when it reaches a node that a
    backward pass without retain_graph has passed."""
    return _walk(roots)[0]


def _walk(roots):
    """``(order, mark, fresh)``: the topological order, the mark left on every node it reached,
    and whether no inner node holds a gradient yet (the usual first backward of a new graph).

    A depth-first walk: a node stays on the stack until its parents are placed, and re-reads its
    (at most two) parent slots when it comes back to the top instead of keeping an iterator. The
    second operand is looked at first and, when its own parents are leaves or placed already
    (a product w * x in a neuron's sum), placed at once with them, so most nodes never go on the
    stack: the walk is a quarter of a backward pass on an MLP.
    """
    order = []
    append = order.append
    walk = object()  # this walk's mark
    many, freed = _MANY, _FREED
    fresh = True
    for root in roots:
        seen = root._seen
        if seen is walk:
            continue
        if seen is freed:
            raise RuntimeError(FREED_MESSAGE)
        root._seen = walk
        if root._a is None:
            append(root)
            continue
        stack = [root]
        push, pop = stack.append, stack.pop
        while stack:
            node = stack[-1]
            a, b = node._a, node._b
            if b is many:
                pushed = False
                for p in a:
                    seen = p._seen
                    if seen is not walk:
                        if seen is freed:
                            raise RuntimeError(FREED_MESSAGE)
                        p._seen = walk
                        if p._a is None:
                            append(p)
                        else:
                            push(p)
                            pushed = True
                            break
                if pushed:
                    continue
            else:
                if b is not None:
                    seen = b._seen
                    if seen is not walk:
                        if seen is freed:
                            raise RuntimeError(FREED_MESSAGE)
                        b._seen = walk
                        ba = b._a
                        if ba is None:
                            append(b)
                        else:
                            bb = b._b
                            if bb is not many and (ba._a is None or ba._seen is walk) and (
                                bb is None or bb._a is None or bb._seen is walk
                            ):  # b's parents are leaves, or placed: place them and b now
                                if ba._seen is not walk:
                                    ba._seen = walk
                                    append(ba)
                                if bb is not None and bb._seen is not walk:
                                    bb._seen = walk
                                    append(bb)
                                append(b)
                                if fresh and b.grad:
                                    fresh = False
                            else:
                                push(b)
                                continue
                seen = a._seen
                if seen is not walk:
                    if seen is freed:
                        raise RuntimeError(FREED_MESSAGE)
                    a._seen = walk
                    if a._a is not None:
                        push(a)
                        continue
                    append(a)
            pop()
            append(node)
            if fresh and node.grad:  # (0.0, -0.0 and 0 are false; a Scalar gradient is not)
                fresh = False
    return order, walk, fresh


# --- one step: the node's rules ----------------------------------------------------------------


def _local(fn, g, out, xs):
    """The rules of the op ``fn`` at one node: d(out)/d(x) * g for each input x."""
    params = fn.params
    if fn.vjp is not None:
        needs = (True,) * len(xs)
        return fn.vjp(g, out, *xs, needs=needs, **params) if params else fn.vjp(g, out, *xs, needs=needs)
    if params:
        return [rule(g, out, *xs, **params) for rule in fn.vjps]
    return [rule(g, out, *xs) for rule in fn.vjps]


def _float_grads(fn, g, out, xs):
    """The rules on Python floats; where Python raises (1/0, 0 ** -1) or gives a complex number
    (a negative base to a fractional power), on NumPy's float64, whose IEEE answers are the
    reference (and the NumPy back end's)."""
    try:
        return [pg if pg.__class__ is float else float(pg) for pg in _local(fn, g, out, xs)]
    except (ArithmeticError, TypeError, ValueError):
        f = np.float64
        with np.errstate(all="ignore"):
            return [float(pg) for pg in _local(fn, f(g), f(out), [f(x) for x in xs])]


def step(node: Scalar, g, create_graph: bool = False) -> list:
    """One backward step at ``node`` whose gradient is ``g``: ``[(position, parent, gradient)]``,
    from the node's op's rules — floats, or Scalars under ``create_graph`` (recorded)."""
    fn = node._fn
    parents = node.parents
    if create_graph:
        pgs = _local(fn, g, node, parents)
    else:
        pgs = _float_grads(fn, g, node.data, [p.data for p in parents])
    return [(i, p, pg) for i, (p, pg) in enumerate(zip(parents, pgs))]


# --- the backward pass -------------------------------------------------------------------------


def _is_zero(x):
    return (x.__class__ is float or x.__class__ is int) and x == 0


def backprop(roots, seeds, *, retain_graph=None, create_graph=False, accumulate=True, capture=None):
    """Backward pass over the Scalar graph from ``roots`` seeded with ``seeds``.

    ``accumulate`` adds each node's gradient to its ``.grad``. ``capture``, a list of nodes, asks
    for their gradient from this pass: the list of them is returned, None for a node the pass
    does not reach. Gradients are floats, or Scalars when ``create_graph``.
    """
    if retain_graph is None:
        retain_graph = create_graph
    order, mark, fresh = _walk(roots)  # raises, before any gradient moves, if a node was freed
    reached = None if capture is None else [n._seen is mark for n in capture]
    fresh = fresh and (capture is None or not any(n.grad for n in capture))
    if create_graph:
        seeds = [s if isinstance(s, Scalar) else _lift(float(s)) for s in seeds]
    else:
        seeds = [float(_val(s)) for s in seeds]
    # The pass sums its gradients in .grad itself. Nodes that hold one already (a second pass,
    # or a pass that must leave .grad alone) have theirs set aside, and given back after.
    kept = None
    if not accumulate or not fresh:
        kept = [n.grad for n in order]
        for n in order:
            n.grad = 0.0
    try:
        for r, s in zip(roots, seeds):
            r.grad = s if _is_zero(r.grad) else r.grad + s
        _backprop(order, retain_graph, create_graph, _anomaly.get())
        got = None if capture is None else [n.grad if hit else None for n, hit in zip(capture, reached)]
    finally:
        if kept is not None:
            for n, old in zip(order, kept):
                new = n.grad
                n.grad = old if not accumulate else (new if _is_zero(old) else old + new)
    return got


def _backprop(order, retain_graph, create_graph, anomaly):
    """The loop: every node, latest first, passes its complete gradient to its parents' .grad.
    First order without anomaly checks, + and * are inlined; everything else goes through
    ``step``. A gradient is added as ``(grad or -0.0) + g``: -0.0 is the exact additive identity,
    so a first contribution keeps the sign of its zero, as on the NumPy back end (where it is
    assigned)."""
    fast = not (create_graph or anomaly)
    add, mul = (_ADD, _MUL) if fast else (_MANY, _MANY)  # (not inlined otherwise: matches no op)
    many, freed = _MANY, _FREED
    for node in reversed(order):
        fn = node._fn
        if fn is add:
            g = node.grad
            a, b = node._a, node._b
            a.grad = (a.grad or -0.0) + g
            b.grad = (b.grad or -0.0) + g
        elif fn is mul:
            g = node.grad
            a, b = node._a, node._b
            a.grad = (a.grad or -0.0) + g * b.data
            b.grad = (b.grad or -0.0) + g * a.data
        elif fn is None:
            continue
        elif fast:
            g = node.grad
            a, b = node._a, node._b
            if b is None:
                a.grad = (a.grad or -0.0) + _float_grads(fn, g, node.data, (a.data,))[0]
            elif b is not many:
                ga, gb = _float_grads(fn, g, node.data, (a.data, b.data))
                a.grad = (a.grad or -0.0) + ga
                b.grad = (b.grad or -0.0) + gb
            else:
                for p, pg in zip(a, _float_grads(fn, g, node.data, [p.data for p in a])):
                    p.grad = (p.grad or -0.0) + pg
        else:
            for _, p, pg in step(node, node.grad, create_graph):
                if anomaly and not math.isfinite(_val(pg)):
                    raise FloatingPointError(f"backward of '{fn.name}' produced {_val(pg)}")
                old = p.grad
                p.grad = pg if _is_zero(old) else old + pg
        if not retain_graph:
            node._seen = freed



# The inlined ops (bound once elementwise.py exists; scalar.py imports this module last)
from autodiff.ops.elementwise import add as _ADD, mul as _MUL  # noqa: E402
