"""The backward pass over a Tensor graph: one walk in reverse topological order, one step per node.

``toposort`` lists the recorded Tensors reachable from the outputs, parents first. ``step`` is one
node's chain rule: its op's rules applied to the node's gradient, each result summed back to its
input's shape (``unbroadcast``) and dtype. ``run`` pops the nodes off the order, latest first,
adds each step's gradients into the parents' pending gradients, hands the leaves theirs, and
(without ``retain_graph``) releases each node's arrays and edges as soon as it has passed it, so a
forward activation is freed once the last node that needed it has run. ``viz.explain`` tells
the same walk and steps as text.

First order and ``create_graph`` differ only in what the rules get: arrays, or Tensors (the
grad mode is on while they run, so what they compute is recorded). On the scalar back end the
gradients flow through the graph of Scalars (``scalar.backprop``); this module turns them into
the Tensors' ``.grad``.
"""

from __future__ import annotations

import numpy as np

from autodiff import _scalar_backward as _scalar
from autodiff._engine import Node, check_finite, unbroadcast
from autodiff._mode import _anomaly, _grad_enabled

__all__ = ["toposort", "step", "backward", "grad", "FREED"]

FREED = _scalar.FREED_MESSAGE
_new = object.__new__


def toposort(roots) -> list:
    """The recorded Tensors (made by an op, requiring grad) reachable from ``roots``, every one
    after its parents (iterative: no recursion limit). Leaves are not listed: backward hands them
    their gradients as it meets them. Raises RuntimeError when the walk reaches a node whose graph
    a backward pass released, before any gradient moves. One graph must not be walked by two
    threads at once (the walk marks nodes)."""
    order = []
    append = order.append
    walk = object()
    for root in roots:
        node = root._node
        if node is None or node.seen is walk:
            continue
        if node.edges is None:
            raise RuntimeError(FREED)
        node.seen = walk
        stack = [(root, iter(node.edges))]
        push, pop = stack.append, stack.pop
        while stack:
            t, edges = stack[-1]
            for _, p in edges:
                pn = p._node
                if pn is not None and pn.seen is not walk:
                    if pn.edges is None:
                        raise RuntimeError(FREED)
                    pn.seen = walk
                    push((p, iter(pn.edges)))
                    break
            else:
                pop()
                append(t)
    return order


def step(t, node: Node, g, create_graph: bool, edges=None) -> list:
    """One backward step at the recorded Tensor ``t`` (its ``node``) whose gradient is ``g``:
    ``[(position, parent, gradient, owned), ...]`` for the operands that require grad and get a
    gradient (one Tensor may be two operands, x - x), each summed back to the parent's shape and
    dtype. ``owned``: the array is new and held nowhere else (the op declared its rule ``fresh``,
    or this step made it), so a leaf may keep it without a copy. Rules get arrays, or Tensors
    under ``create_graph`` (the caller turns the grad mode on). ``edges``: the operands to
    compute a gradient for (default: all that require grad). ``t`` may be None in a first-order
    step of an op whose rules do not read ``out`` (``Op(uses_out=False)``)."""
    op, params = node.op, node.params
    if create_graph:
        out, args = t, node.args
        if op.saves:  # arrays are constants to a recorded rule: it computes from the Tensors
            params = {**params, "saved": None}
    else:
        out, args = (None if t is None else t.data), node.raw
    if edges is None:
        edges = node.edges
    if op.vjp is None:
        vjps = op.vjps
        pgs = []
        for i, _ in edges:
            rule = vjps[i]
            if rule is None:
                raise RuntimeError(f"{op.name}: input {i} is not differentiable")
            pgs.append(rule(g, out, *args, **params) if params else rule(g, out, *args))
    else:
        needs = [False] * len(node.args)
        for i, _ in edges:
            needs[i] = True
        pgs = op.vjp(g, out, *args, needs=tuple(needs), **params)
        pgs = [pgs[i] for i, _ in edges]
    fresh = op.fresh
    result = []
    for (i, p), pg in zip(edges, pgs):
        if pg is None:
            continue
        owned = fresh if fresh.__class__ is bool else fresh[i]
        if create_graph and not isinstance(pg, Tensor):  # a constant array from a recorded rule
            pg, owned = Tensor._wrap(np.asarray(pg), p._backend), False
        pdata = p.data  # summed back to the parent's shape and cast to its dtype: arrays the engine owns
        if pg.shape != pdata.shape:
            try:
                pg, owned = unbroadcast(pg, pdata.shape), True
            except ValueError as e:  # a rule that returns a gradient of the wrong shape
                raise ValueError(f"{op.name}: the rule for input {i} returned {e}") from None
        dtype = pdata.dtype
        if pg.dtype is not dtype and pg.dtype != dtype and dtype.kind != "O":
            pg, owned = pg.astype(dtype), True
        result.append((i, p, pg, owned))
    return result


# One read-only 1 per dtype and shape: the seed of loss.backward() (rules never write into a gradient)
_ONES: dict = {}


def _seed(root, g, create_graph):
    """``(gradient, owned)`` that starts backward at ``root``: an array, or a Tensor (a constant,
    unless the caller's requires grad) under ``create_graph``."""
    data = root.data
    if g is None:
        if data.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for outputs with one element; "
                f"pass gradient= (an array of shape {root.shape})"
            )
        dtype = root.dtype
        if create_graph:
            return Tensor._wrap(np.ones(data.shape, dtype=dtype), root._backend), True
        key = (data.shape, dtype)
        g = _ONES.get(key)
        if g is None:
            g = _ONES[key] = np.ones(data.shape, dtype=dtype)
            g.flags.writeable = False
        return g, False
    if isinstance(g, Tensor):
        if g._backend != root._backend:
            raise ValueError(f"backward: gradient is on back end '{g._backend}', output on '{root._backend}'")
        if not create_graph:
            g = g.numpy() if root._backend == "scalar" else g.data
    else:  # (the caller's array itself when it has the dtype: it is never kept without a copy)
        g = np.asarray(g, dtype=root.dtype if root.dtype.kind == "f" else np.float64)
        if create_graph:
            g = Tensor._wrap(g, root._backend)
    if tuple(g.shape) != root.shape:
        raise ValueError(f"backward: gradient shape {tuple(g.shape)} does not match output shape {root.shape}")
    return g, False


def _deliver(leaf, g, owned, create_graph):
    """Add ``g`` to a leaf's ``.grad``. A new ``.grad`` keeps ``g`` itself only when ``owned``
    (otherwise a copy; under create_graph a recorded one, as PyTorch clones there); an existing
    one is added to in place, as PyTorch accumulates, unless it is part of a recorded graph."""
    grad = leaf._grad
    if grad is None:
        if create_graph:
            leaf._grad = g if owned else g * 1.0
        else:
            if g.__class__ is not np.ndarray:  # a NumPy scalar, as arithmetic on 0-d arrays gives
                g = np.asarray(g)
            elif not owned:
                g = g.copy()
            t = leaf._grad = _new(Tensor)  # (Tensor._wrap, inlined: once per leaf per step)
            t.data, t._backend, t._grad, t._rg, t._node, t.label = g, leaf._backend, None, False, None, None
        return
    data = grad.data
    if create_graph or grad._rg or data.dtype != g.dtype or not data.flags.writeable:
        leaf._grad = grad + g if isinstance(g, Tensor) else Tensor._wrap(data + g, leaf._backend)
    else:
        data += g


def run(roots, seeds, retain_graph, create_graph, inputs=None):
    """Backward from ``roots`` seeded with ``seeds``. Accumulates into the ``.grad`` of the leaves
    that require grad, or, given ``inputs``, returns ``{id(input): gradient}`` and touches no
    ``.grad``."""
    if retain_graph is None:
        retain_graph = create_graph
    backend = roots[0]._backend
    seeded = []
    for r, g in zip(roots, seeds):
        if r._backend != backend:
            raise ValueError("backward: outputs live on different back ends")
        if not r._rg:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn: "
                "no input of this output has requires_grad=True"
            )
        seeded.append(_seed(r, g, create_graph))
    order = toposort(roots)  # raises if a node's graph was freed
    if backend == "scalar":
        return _run_scalar(roots, [s for s, _ in seeded], order, retain_graph, create_graph, inputs)
    found = pruned = None
    if inputs is not None:
        found = {id(t): None for t in inputs}
        order, pruned = _toward(order, found)
    for r, (s, owned) in zip(roots, seeded):
        node = r._node
        if node is None:  # a leaf is its own output
            if found is None:
                _deliver(r, s, owned, create_graph)
            else:
                _capture(found, r, s)
        else:
            node.pending = s if node.pending is None else node.pending + s
    anomaly = _anomaly.get()
    # First-order rules work on arrays and record nothing, whatever the grad mode; under
    # create_graph they run on Tensors with recording on.
    token = _grad_enabled.set(True) if create_graph else None
    try:
        while order:
            t = order.pop()  # (the list lets go of each node as it is passed)
            node = t._node
            g = node.pending
            if g is not None:
                node.pending = None
                edges = None
                if found is not None:
                    if id(t) in found:
                        found[id(t)] = g
                    edges = pruned[id(t)]
                if not create_graph and not node.op.uses_out:
                    t = None  # (its rules do not read the result: let it go before they allocate)
                for _, p, pg, owned in (_checked_step if anomaly else step)(t, node, g, create_graph, edges):
                    pn = p._node
                    if pn is None:
                        if found is None:
                            _deliver(p, pg, owned, create_graph)
                        else:
                            _capture(found, p, pg)
                    else:
                        prev = pn.pending
                        pn.pending = pg if prev is None else prev + pg
                p = pg = prev = None  # (hold no parent past its step: it may be the next to let go)
            if not retain_graph:  # (Node.release, inlined: it runs once per node)
                node.args = node.raw = node.edges = node.params = None
    except BaseException:
        for t in order:  # drop the gradients still in flight
            t._node.pending = None
        raise
    finally:
        if token is not None:
            _grad_enabled.reset(token)
    return found


def _toward(order, found):
    """The part of ``order`` that leads to the Tensors in ``found`` (ids), and for each node of
    it the edges that do: ``ad.grad`` computes only those, and leaves the rest of the graph (and
    its buffers) as it was, as PyTorch does."""
    needed, kept, edges = set(), [], {}
    for t in order:  # parents first
        ok = [(i, p) for i, p in t._node.edges if id(p) in found or id(p) in needed]
        if ok or id(t) in found:
            needed.add(id(t))
            kept.append(t)
            edges[id(t)] = ok
    return kept, edges


def _checked_step(t, node, g, create_graph, edges=None):
    """``step`` in anomaly mode: a NaN or inf in what it computes raises, naming the op whose
    backward made it (also when it was one of the ops its rule recorded, under create_graph)."""
    what = f"backward of '{node.op.name}'"
    try:
        result = step(t, node, g, create_graph, edges)
    except FloatingPointError as e:
        if str(e).startswith("forward of"):
            raise FloatingPointError(f"{what} produced {str(e).rsplit(' ', 1)[-1]} (in its rule: {e})") from None
        raise
    for _, _, pg, _ in result:
        check_finite(pg.data if isinstance(pg, Tensor) else pg, "numpy", what)
    return result


def _capture(found, leaf, g):
    """ad.grad: sum ``g`` into the leaf's entry of ``found`` when it is one of the inputs."""
    if id(leaf) in found:
        prev = found[id(leaf)]
        found[id(leaf)] = g if prev is None else prev + g


def _run_scalar(roots, seeds, order, retain_graph, create_graph, inputs):
    """The scalar back end: backward through the graph of Scalars, then the Tensors' gradients."""
    flat_roots, flat_seeds, seed_tensors = [], [], []
    for r, s in zip(roots, seeds):
        flat_roots.extend(r.data.ravel().tolist())
        if isinstance(s, Tensor):
            if s._rg:
                seed_tensors.append(s)
            s = s.data
        flat_seeds.extend(np.asarray(s).ravel().tolist())
    leaves, seen = [], set()
    for t in list(roots) + order:  # the leaves that require grad, in the order they are met
        edges = () if t._node is None else t._node.edges
        for p in [t] if t._node is None else [p for _, p in edges]:
            if p._node is None and p._rg and id(p) not in seen:
                seen.add(id(p))
                leaves.append(p)
    targets = leaves if inputs is None else list(inputs)
    cells = [t.data.ravel().tolist() for t in targets]
    got = _scalar.backprop(
        flat_roots,
        flat_seeds,
        retain_graph=retain_graph,
        create_graph=create_graph,
        accumulate=inputs is None,
        capture=[s for c in cells for s in c],
    )
    # Used means reached at the Tensor level, as on the NumPy back end: a leaf none of whose
    # Scalars feed the output (where() picked none, an empty Tensor) gets zeros, not None. A
    # gradient recorded by create_graph names a superset of its Tensors' parents (see below):
    # a leaf reached only through one is used when one of its Scalars is.
    reached = _reached_exactly(roots)
    anywhere = {id(t) for t in order} | {id(t) for t in leaves} | {id(r) for r in roots}
    if not retain_graph:  # (ad.grad releases only what led to its inputs)
        for t in order if inputs is None else _toward(order, {id(t) for t in inputs})[0]:
            t._node.release()
    found = {}
    start = 0
    for t, c in zip(targets, cells):
        gs, start = got[start : start + len(c)], start + len(c)
        if gs:
            unused = id(t) not in reached and all(g is None for g in gs)
        else:  # an empty Tensor has no Scalars to tell: reached at all is used
            unused = id(t) not in anywhere
        if unused:
            continue
        gs = [0.0 if g is None else g for g in gs]
        if create_graph:
            arr = np.empty(len(gs), dtype=object)
            arr[:] = [g if isinstance(g, Scalar) else Scalar(g) for g in gs]
            gt = _recorded_gradient(arr.reshape(t.shape), leaves, seed_tensors)
        else:
            gt = Tensor(np.array(gs, dtype=np.float64).reshape(t.shape), backend="scalar")
        if inputs is None:
            _accumulate_scalar_grad(t, gt)
        else:
            found[id(t)] = gt
    return found


def _accumulate_scalar_grad(t, g):
    """A scalar-back-end leaf's ``.grad`` plus ``g``: added in place (into its Scalars) as on
    the NumPy back end, unless one of them is part of a recorded graph."""
    old = t._grad
    if old is None:
        t._grad = g
    elif old._rg or g._rg:
        t._grad = old + g
    else:
        old.copy_(old.numpy() + g.numpy())


# Marks a gradient recorded by create_graph on the scalar back end. Its Scalars carry the real
# graph; at the Tensor level it depends on (a superset of) the leaves and the seeds, which is
# what later backward passes search.
_GRAD = None


def _recorded_gradient(cells, leaves, seed_tensors):
    global _GRAD
    if _GRAD is None:
        from autodiff._engine import Op

        _GRAD = Op("grad", None)
    t = Tensor._wrap(cells, "scalar")
    node = Node.__new__(Node)
    parents = tuple(leaves) + tuple(seed_tensors)
    node.op, node.args, node.raw, node.params, node.scope = _GRAD, parents, None, {}, None
    node.edges = list(enumerate(parents))
    node.seen = node.pending = None
    t._rg, t._node = True, node
    return t


def _reached_exactly(roots):
    """ids of the Tensors reached from ``roots`` without passing through a gradient recorded by
    create_graph on the scalar back end (whose parents are a superset of what it depends on)."""
    seen, stack = set(), list(roots)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        node = t._node
        if node is not None and node.op is not _GRAD and node.edges is not None:
            stack.extend(p for _, p in node.edges)
    return seen


def backward(tensor, gradient=None, retain_graph=None, create_graph=False):
    """``tensor.backward(...)``: accumulate d(tensor)/d(leaf) into every leaf's ``.grad``."""
    run([tensor], [gradient], retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, as a tuple, without touching ``.grad``.

    >>> x = ad.Tensor([1.0, 2.0], requires_grad=True)
    >>> (gx,) = ad.grad((x ** 3).sum(), x, create_graph=True)   # 3x², differentiable again
    """
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for t in inputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: inputs must be Tensors, got {type(t).__name__}")
        if not t._rg:
            raise RuntimeError("grad: one of the inputs does not require grad")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)) and single_out:
        grad_outputs = [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(outputs)} outputs and {len(grad_outputs)} grad_outputs (one per output)")
    found = run(outputs, grad_outputs, retain_graph, create_graph, inputs=inputs)
    result = []
    for t in inputs:
        g = found.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    "grad: one of the differentiated Tensors was not used in the graph; "
                    "pass allow_unused=True to get None for it"
                )
            result.append(None)
            continue
        if not isinstance(g, Tensor):  # a view or a NumPy scalar (0-d arithmetic) becomes an array of its own
            g = Tensor._wrap(g if g.__class__ is np.ndarray and g.flags.owndata else np.array(g), "numpy")
        if g.shape != t.shape:  # an input reached only through broadcasting
            g = unbroadcast(g, t.shape)
        result.append(g)
    return tuple(result)


from autodiff.scalar import Scalar  # noqa: E402
from autodiff.tensor import Tensor  # noqa: E402
