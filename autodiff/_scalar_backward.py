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

from autodiff._mode import _anomaly, _grad_enabled
from autodiff.scalar import _MANY, NOGRAD, Scalar, _lift, _val

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
                                if fresh and b.grad is not NOGRAD:
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
            if fresh and node.grad is not NOGRAD:
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
    fresh = fresh and (capture is None or all(n.grad is NOGRAD for n in capture))
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
            n.grad = NOGRAD
    process = order
    if not accumulate and capture is not None:  # only what leads to the captured nodes runs
        want, needed, process = {id(n) for n in capture}, set(), []
        for n in order:  # parents first
            if id(n) in want or any(id(p) in needed or id(p) in want for p in n.parents):
                needed.add(id(n))
                process.append(n)
    # the rules record under create_graph, also when called inside no_grad (as on Tensors)
    token = _grad_enabled.set(True) if create_graph else None
    try:
        for r, s in zip(roots, seeds):
            r.grad = s if r.grad is NOGRAD else r.grad + s
        _backprop(process, retain_graph, create_graph, _anomaly.get())
        got = None if capture is None else [n.grad if hit else None for n, hit in zip(capture, reached)]
    finally:
        if token is not None:
            _grad_enabled.reset(token)
        if kept is not None:
            for n, old in zip(order, kept):
                new = n.grad
                if not accumulate or new is NOGRAD:
                    n.grad = old
                elif old is not NOGRAD:
                    n.grad = old + new
    return got


def _backprop(order, retain_graph, create_graph, anomaly):
    """The loop: every node, latest first, passes its complete gradient to its parents' .grad.
    First order without anomaly checks, + and * are inlined; everything else goes through
    ``step``. A parent's first contribution is taken as it is (``NOGRAD`` tells that none came
    yet), later ones added: the sums, signs of zero included, are the NumPy back end's."""
    fast = not (create_graph or anomaly)
    add, mul = (_ADD, _MUL) if fast else (_MANY, _MANY)  # (not inlined otherwise: matches no op)
    freed, nog = _FREED, NOGRAD
    for node in reversed(order):
        fn = node._fn
        if fn is add:
            g = node.grad
            a, b = node._a, node._b
            ag = a.grad
            a.grad = g if ag is nog else ag + g
            bg = b.grad
            b.grad = g if bg is nog else bg + g
        elif fn is mul:
            g = node.grad
            a, b = node._a, node._b
            ag = a.grad
            a.grad = g * b.data if ag is nog else ag + g * b.data
            bg = b.grad
            b.grad = g * a.data if bg is nog else bg + g * a.data
        elif fn is None:
            continue
        else:
            if fast:
                parents = (node._a,) if node._b is None else node.parents
                pgs = _float_grads(fn, node.grad, node.data, [p.data for p in parents])
            else:
                pgs = [pg for _, _, pg in step(node, node.grad, create_graph)]
                parents = node.parents
            for p, pg in zip(parents, pgs):
                if anomaly and not math.isfinite(_val(pg)):
                    raise FloatingPointError(f"backward of '{fn.name}' produced {_val(pg)}")
                old = p.grad
                p.grad = pg if old is nog else old + pg
        if not retain_graph:
            node._seen = freed


# The inlined ops (bound once elementwise.py exists; scalar.py imports this module last)
from autodiff.ops.elementwise import add as _ADD, mul as _MUL  # noqa: E402
