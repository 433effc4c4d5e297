"""The Tensor graph: ops, recording (apply), broadcasting, and the backward pass on both back ends.

An ``Op`` pairs a forward on arrays with derivative rules. ``vjps`` holds one rule per input,
``rule(grad, out, *inputs, **params)``; an op whose inputs share work gives a joint ``vjp``
returning one gradient per input instead. An op made with ``saves=True`` keeps arrays its
forward computed anyway for its first-order rules (``saved=``), as PyTorch's saved tensors. The
backward pass calls the rules with ndarrays (first order, fast) or with Tensors
(``create_graph=True``, so the derivative is recorded in turn). Only this module sums broadcast
gradients back to an input's shape, accumulates, and frees graphs.

On the scalar back end a Tensor holds an object array of ``Scalar`` nodes; the forward runs the
same array code on it (or the op's ``scalar`` version), so the recorded graph is the graph of
Scalars, and backward is the Scalar engine's.
"""

from __future__ import annotations

import sys

import numpy as np

from autodiff import scalar as _scalar
from autodiff._mode import _anomaly, _grad_enabled, _scope, no_grad
from autodiff.scalar import Scalar

__all__ = ["Op", "apply", "backward", "grad", "owned", "unbroadcast"]

_new = object.__new__
# Whether a gradient array is the engine's alone is read from its reference count. What
# sys.getrefcount reports for an object that only a local variable holds depends on the
# interpreter (2 on CPython 3.11-3.13; borrowed references can make it less), so it is measured
# here once; where there is no reference count (PyPy) every leaf gradient is copied.
_refcount = getattr(sys, "getrefcount", None)


def _alone_count():
    x = object()
    return _refcount(x)


if _refcount is None:  # pragma: no cover - not CPython
    _refcount, _ALONE = (lambda obj: 1 << 30), 0
else:
    _ALONE = _alone_count()


class Op:
    """A differentiable operation on Tensors, also callable on plain ndarrays.

    ``forward(*arrays, **params)`` computes the result; ``vjps`` (one rule per input) or ``vjp``
    (one joint rule returning a gradient per input) compute vector-Jacobian products;
    ``scalar(*object_arrays, **params)`` replaces forward on the scalar back end when NumPy's
    object-array code cannot run the forward on Scalars. A rule of ``None`` marks an input as not
    differentiable.

    ``saves=True``: ``forward`` returns ``(result, saved)``, intermediate arrays the rules would
    otherwise compute again (a softmax, say). When the call is recorded, the rules get them as
    the keyword ``saved``, and must not modify them (``retain_graph`` runs a rule twice). A rule
    gets ``saved=None`` when the forward's arrays are not to be used and computes from its inputs:
    under ``create_graph`` (its inputs are Tensors and what it computes is recorded) and for a
    call that was not recorded.
    """

    __slots__ = ("name", "forward", "vjps", "vjp", "scalar", "saves")

    def __init__(self, name, forward, vjps=(), *, vjp=None, scalar=None, saves=False):
        if saves and scalar is None:
            raise ValueError(f"Op {name}: saves=True needs a scalar forward that returns the result alone")
        self.name, self.forward, self.vjps, self.vjp, self.scalar = name, forward, vjps, vjp, scalar
        self.saves = saves

    def __call__(self, *args, **params):
        for a in args:
            if isinstance(a, Tensor):
                return apply(self, args, params)
        out = self.forward(*args, **params)
        return out[0] if self.saves else out

    def __repr__(self):
        return f"Op({self.name})"


def _shape_note(args):
    shapes = [tuple(a.shape) for a in args if isinstance(a, (Tensor, np.ndarray))]
    return " and ".join(str(s) for s in shapes)


def _as_array(out, backend):
    if type(out) is np.ndarray:
        return out
    if backend == "scalar" and not isinstance(out, (np.generic, bool, int, float)):
        a = np.empty((), dtype=object)
        a[()] = out
        return a
    return np.asarray(out)


def apply(op: Op, args: tuple, params: dict):
    """Run ``op`` on ``args`` (Tensors, ndarrays or numbers) and record it when a Tensor input
    requires grad and grad mode is on."""
    backend = None
    edges = []  # (position, input) for each input that requires grad
    raw = []
    i = 0
    for a in args:
        if isinstance(a, Tensor):
            if backend is None:
                backend = a._backend
            elif a._backend != backend:
                raise ValueError(
                    f"{op.name}: cannot mix back ends '{backend}' and '{a._backend}' in one op; "
                    f"convert one with .to('{backend}')"
                )
            if a._rg:
                edges.append((i, a))
            raw.append(a.data)
        else:
            raw.append(a)
        i += 1
    rg = edges and _grad_enabled.get()
    try:
        if backend == "numpy":
            out = op.forward(*raw, **params) if params else op.forward(*raw)
            if op.saves:
                out, saved = out
                if rg:  # the rules' keyword; nothing is kept for a call that is not recorded
                    params = {**params, "saved": saved}
        else:
            fwd = op.scalar or op.forward
            if rg:
                out = fwd(*raw, **params)
            else:  # nothing to differentiate: the Scalars are constants, not graph nodes
                with no_grad():
                    out = fwd(*raw, **params)
    except ValueError as e:
        msg = str(e)
        if "could not be broadcast" in msg:
            raise ValueError(f"{op.name}: shapes {_shape_note(args)} cannot be broadcast together") from None
        if msg.startswith(f"{op.name}:"):  # the op's own message names it and the shapes
            raise
        raise ValueError(f"{op.name}: {msg} (input shapes {_shape_note(args)})") from None
    if type(out) is not np.ndarray:  # a NumPy scalar from a full reduction, or a Scalar
        out = np.asarray(out) if backend == "numpy" else _as_array(out, backend)
    t = _new(Tensor)
    t.data, t._backend, t._grad, t.label, t._freed, t._seen, t._pending = out, backend, None, None, False, None, None
    if rg:
        t._rg, t._op, t._parents, t._params, t._scope = True, op, args, params, _scope.get()
        t._edges, t._raw = edges, raw
    else:
        t._rg, t._op, t._parents, t._params, t._scope = False, None, (), None, None
        t._edges, t._raw = (), None
    if _anomaly.get():
        _check_finite(out, backend, f"forward of '{op.name}'")
    return t


def owned(forward):
    """The scalar-back-end forward of an op that moves values (reshape, indexing, padding, where):
    output elements that are input Scalars themselves become new identity nodes, so every Tensor
    owns its nodes and ``ad.grad`` with respect to an intermediate Tensor counts only the paths
    through it, as on the numpy back end."""

    def run(*args, **params):
        out = forward(*args, **params)
        if not _grad_enabled.get():
            return out
        seen = set()
        for a in args:
            if type(a) is np.ndarray and a.dtype == object:
                seen.update(map(id, a.ravel().tolist()))
        if type(out) is not np.ndarray:  # a single element picked by an integer index
            return _scalar.copy(out) if id(out) in seen else out
        flat = out.ravel().tolist()
        fresh = np.empty(len(flat), dtype=object)
        fresh[:] = [_scalar.copy(s) if id(s) in seen else s for s in flat]
        return fresh.reshape(out.shape)

    return run


def _check_finite(arr, backend, what):
    vals = _values(arr) if backend == "scalar" else arr
    if vals.dtype.kind in "fc" and not np.all(np.isfinite(vals)):
        bad = "nan" if np.any(np.isnan(vals)) else "inf"
        raise FloatingPointError(f"{what} produced {bad}")


def _values(obj):
    """Float values of an object array of Scalars (or the array itself when it holds numbers)."""
    if obj.dtype != object:
        return obj
    return obj.astype(np.float64)


_add_reduce = np.add.reduce


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``.

    The one place where broadcast gradients are reduced; works on ndarrays and on Tensors.
    """
    gshape = grad.shape
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    if lead and gshape[lead:] == shape:  # only leading axes added (a bias): one reduction
        return _add_reduce(grad, tuple(range(lead))) if type(grad) is np.ndarray else grad.sum(axis=tuple(range(lead)))
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1
    )
    if axes:  # (np.add.reduce skips ndarray.sum's Python wrapper; Tensors have .sum)
        grad = _add_reduce(grad, axes) if type(grad) is np.ndarray else grad.sum(axis=axes)
    if grad.shape != shape:
        grad = grad.reshape(shape)
    return grad


# --- backward ---------------------------------------------------------------------------------


def _toposort(roots, freed_ok=False):
    """Tensors that require grad reachable from roots, every one after its parents
    (iterative: no recursion limit). The same walk as ``scalar._walk`` over ``_edges`` instead
    of two parent slots, and like it marking each node it reaches with this walk's token in
    ``_seen`` (cheaper than a set of ids): one graph must not be walked by two threads at once.
    Kept as two loops because an accessor call per node would cost the 65k-node Scalar backward
    about 7%. Raises if a node's graph was freed, before any gradient moves, unless
    ``freed_ok`` (``viz.explain`` reads a graph after backward: the nodes keep their inputs)."""
    order = []
    append = order.append
    walk = object()
    for root in roots:
        if root._seen is walk or not root._rg:
            continue
        if root._freed and not freed_ok:
            raise RuntimeError(_scalar._FREED)
        root._seen = walk
        stack = [(root, iter(root._edges))]
        push, pop = stack.append, stack.pop
        while stack:
            node, edges = stack[-1]
            for _, p in edges:
                if p._seen is not walk:
                    p._seen = walk
                    if p._edges:
                        if p._freed and not freed_ok:
                            raise RuntimeError(_scalar._FREED)
                        push((p, iter(p._edges)))
                        break
                    append(p)
            else:
                pop()
                append(node)
    return order


def _seed(root, g, create_graph):
    """The gradient that starts backward at ``root``, as an array (or Tensor for create_graph)."""
    if g is None and root.data.size == 1 and root._backend == "numpy" and not create_graph:
        return np.ones(root.data.shape, root.data.dtype)  # the usual loss.backward()
    if g is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for outputs with one element; "
                f"pass gradient= (an array of shape {root.shape})"
            )
        g = np.ones(root.shape, dtype=root.dtype)
    if isinstance(g, Tensor):
        if g._backend != root._backend:
            raise ValueError(f"backward: gradient is on back end '{g._backend}', output on '{root._backend}'")
        if not create_graph:
            g = g.numpy() if root._backend == "scalar" else g.data
    else:  # (the caller's array itself when it has the dtype: the leaves' checks never keep it)
        g = np.asarray(g, dtype=root.dtype if root.dtype.kind == "f" else np.float64)
    if tuple(g.shape) != root.shape:
        raise ValueError(f"backward: gradient shape {tuple(g.shape)} does not match output shape {root.shape}")
    return g


def _run(roots, seeds, retain_graph, create_graph, inputs=None):
    """Backward from roots. Returns {id: gradient} for ``inputs`` when given, otherwise
    accumulates into the ``.grad`` of leaves that require grad."""
    if retain_graph is None:
        retain_graph = create_graph
    backend = roots[0]._backend
    for r in roots:
        if r._backend != backend:
            raise ValueError("backward: outputs live on different back ends")
        if not r._rg:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn: "
                "no input of this output has requires_grad=True"
            )
    seeds = [_seed(r, g, create_graph) for r, g in zip(roots, seeds)]
    order = _toposort(roots)  # raises if a node's graph was freed
    if backend == "scalar":
        return _run_scalar(roots, seeds, order, retain_graph, create_graph, inputs)
    return _run_numpy(roots, seeds, order, retain_graph, create_graph, inputs)


def _run_numpy(roots, seeds, order, retain_graph, create_graph, inputs):
    anomaly = _anomaly.get()
    if inputs is None and not create_graph and not anomaly:
        _first_order(order, roots, seeds, retain_graph)
        return {}
    grads = {}
    for r, s in zip(roots, seeds):
        grads[id(r)] = grads[id(r)] + s if id(r) in grads else s
    wanted = None if inputs is None else {id(t) for t in inputs}
    found = {}
    # ids of arrays no leaf may keep as its .grad: the seeds (the caller's), then each array a
    # leaf has kept (never alias two leaves)
    handed = {id(s) for s in seeds}
    token = _grad_enabled.set(create_graph)
    try:
        for node in reversed(order):
            k = id(node)
            g = grads.pop(k, None)
            if g is None:
                continue
            if wanted is not None and k in wanted:
                found[k] = g
            op = node._op
            if op is None:
                if wanted is None:
                    _accumulate_leaf(node, g, create_graph, handed)
                continue
            for _, p, pg in node_step(node, g, create_graph):
                if anomaly:
                    _check_finite(pg.data if create_graph else pg, "numpy", f"backward of '{op.name}'")
                kp = id(p)
                if kp in grads:
                    grads[kp] = grads[kp] + pg
                else:
                    grads[kp] = pg
            if not retain_graph:
                _free(node)
    finally:
        _grad_enabled.reset(token)
    return found


def _first_order(order, roots, seeds, retain_graph):
    """The common backward: first order, into the leaves' ``.grad``, no anomaly checks. The steps
    of ``node_step`` inlined, each node's pending gradient kept in its ``_pending`` slot instead
    of a dict: this loop is most of an engine's overhead on a small model. Leaves keep an array
    by its reference count, which counts every holder; the general pass (``_accumulate_leaf``)
    cannot count its caller's references and tracks the arrays it has handed out instead."""
    for r, s in zip(roots, seeds):
        r._pending = s if r._pending is None else r._pending + s
    token = _grad_enabled.set(False)
    try:
        for node in reversed(order):
            g = node._pending
            if g is None:
                continue
            node._pending = None
            op = node._op
            if op is None:  # a leaf: _accumulate_leaf, inlined
                prev = node._grad
                if prev is not None:
                    if prev.__class__ is np.ndarray:  # (a bare array: see Tensor._grad)
                        node._grad = _sum_array(prev, g)
                    else:
                        prev.data = _sum_array(prev.data, g)
                    continue
                if g.__class__ is not np.ndarray:  # a NumPy scalar, as arithmetic on 0-d arrays gives
                    g = np.asarray(g)
                # Keep the array only when it is ours alone: no reference but this local (another
                # leaf's .grad, a saved input or the caller's array would be one more), and no
                # view of memory anything else can reach.
                elif _refcount(g) > _ALONE or (g.base is not None and not _sole_view(g)):
                    g = np.array(g)
                node._grad = g  # bare: the grad property wraps it when asked (an optimizer need not)
                continue
            if op.vjp is not None:
                for _, p, pg in node_step(node, g):
                    prev = p._pending
                    p._pending = pg if prev is None else prev + pg
            else:
                out, raw, params, vjps = node.data, node._raw, node._params, op.vjps
                for i, p in node._edges:
                    rule = vjps[i]
                    if rule is None:
                        raise RuntimeError(f"{op.name}: input {i} is not differentiable")
                    pg = rule(g, out, *raw, **params) if params else rule(g, out, *raw)
                    pdata = p.data
                    if pg.shape != pdata.shape:
                        pg = unbroadcast(pg, pdata.shape)
                    if pg.dtype is not pdata.dtype and pg.dtype != pdata.dtype and pdata.dtype != object:
                        pg = pg.astype(pdata.dtype)
                    prev = p._pending
                    p._pending = pg if prev is None else prev + pg
            pg = prev = None  # hold no gradient here: the leaf check counts references
            if not retain_graph:  # (_free, without a call for the ops that keep nothing)
                if op.saves:
                    _free(node)
                else:
                    node._freed = True
    except BaseException:
        for node in order:  # drop the gradients still in flight
            node._pending = None
        raise
    finally:
        _grad_enabled.reset(token)


def _free(node):
    """Mark a node's graph as used up; what its forward kept for the rules (``saves``) goes."""
    node._freed = True
    if node._op.saves:
        node._params = {**node._params, "saved": None}


def _sum_array(a, b):
    """a + b as an ndarray: NumPy gives a scalar for 0-d operands, which a gradient must not be."""
    s = a + b
    return s if s.__class__ is np.ndarray else np.asarray(s)


def _sole_view(g):
    """True when ``g``, a view, is the only way to its memory: a writeable, contiguous (so not
    overlapping) view of an array that nothing else refers to, covering at least half of it (a
    gradient sliced out of a padded one, say). Keeping it then saves a copy without wasting much."""
    base = g.base
    return (
        type(base) is np.ndarray
        and base.base is None
        and _refcount(base) == _ALONE + 1  # this local and g's reference
        and g.flags.writeable
        and g.flags.c_contiguous
        and 2 * g.size >= base.size
    )


def node_step(node, g, create_graph=False):
    """One backward step at a recorded numpy-back-end node: ``[(position, parent, gradient), ...]``
    for the operands that require grad and get a gradient (the same Tensor may be two operands,
    x - x), each gradient summed back to the parent's shape and dtype. Rules
    get arrays, or Tensors under ``create_graph`` (the caller sets the grad mode)."""
    op, params = node._op, node._params
    if create_graph:
        out, args = node, node._parents
        if op.saves:  # arrays are constants to a recorded rule: it computes from the Tensors
            params = {**params, "saved": None}
    else:
        out, args = node.data, node._raw
    pgs = None
    if op.vjp is not None:
        needs = [False] * len(node._parents)
        for i, _ in node._edges:
            needs[i] = True
        pgs = op.vjp(g, out, *args, needs=tuple(needs), **params)
    result = []
    for i, p in node._edges:
        if pgs is None:
            rule = op.vjps[i]
            if rule is None:
                raise RuntimeError(f"{op.name}: input {i} is not differentiable")
            pg = rule(g, out, *args, **params)
        else:
            pg = pgs[i]
            if pg is None:
                continue
        pdata = p.data
        if pg.shape != pdata.shape:
            pg = unbroadcast(pg, pdata.shape)
        if pg.dtype is not pdata.dtype and pg.dtype != pdata.dtype and pdata.dtype != object:
            pg = pg.astype(pdata.dtype)
        result.append((i, p, pg))
    return result


def _accumulate_leaf(leaf, g, create_graph, handed):
    """Add ``g`` to a leaf's ``.grad``. A gradient kept as a new ``.grad`` is never one the caller
    holds (a seed) nor one another leaf kept (``handed``: their ids): such a one is copied, under
    create_graph by a recorded copy (as PyTorch clones there)."""
    if leaf._grad.__class__ is np.ndarray:  # left bare by a first-order pass: wrap it first
        leaf._grad = Tensor._wrap(leaf._grad, leaf._backend)
    if isinstance(g, Tensor):  # create_graph: a recorded gradient
        if leaf._grad is not None:
            leaf._grad = leaf._grad + g
            return
        if id(g) in handed:
            g = g * 1.0
        handed.add(id(g))
        leaf._grad = g
        return
    if leaf._grad is None:  # an array: first order, or a constant one under create_graph
        # Keep the array when it is ours alone; copy views, read-only or shared arrays.
        if g.__class__ is not np.ndarray or g.base is not None or id(g) in handed or not g.flags.writeable:
            g = np.array(g)
        handed.add(id(g))
        leaf._grad = Tensor._wrap(g, "numpy")
    elif create_graph:
        leaf._grad = leaf._grad + g
    else:
        leaf._grad.data = _sum_array(leaf._grad.data, g)


_GRAD = Op("grad", None)  # marks a gradient recorded by create_graph on the scalar back end


def _run_scalar(roots, seeds, order, retain_graph, create_graph, inputs):
    flat_roots, flat_seeds, seed_tensors = [], [], []
    for r, s in zip(roots, seeds):
        flat_roots.extend(r.data.ravel().tolist())
        if isinstance(s, Tensor):
            if s._rg:
                seed_tensors.append(s)
            s = s.data
        flat_seeds.extend(np.asarray(s).ravel().tolist())
    leaves = [n for n in order if n._op is None]
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
    if not retain_graph:
        for node in order:
            if node._op is not None:
                node._freed = True
    found = {}
    start = 0
    # Used means reached at the Tensor level, as on the NumPy back end: a leaf none of whose
    # Scalars feed the output (where() picked none, an empty Tensor) gets zeros, not None. A
    # gradient recorded by create_graph names a superset of its Tensors' parents (see below):
    # a leaf reached only through one is used when one of its Scalars is.
    reached = _reached_exactly(roots)
    anywhere = {id(n) for n in order}  # through those gradients too
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
            arr[:] = [g if g.__class__ is Scalar else Scalar(g) for g in gs]
            gt = Tensor._wrap(arr.reshape(t.shape), "scalar")
            # The Scalars carry the real graph; at the Tensor level the gradient depends on (a
            # superset of) the leaves and the seeds, which is what later backward passes search.
            gt._rg, gt._op, gt._parents = True, _GRAD, tuple(leaves) + tuple(seed_tensors)
            gt._edges = tuple(enumerate(gt._parents))
        else:
            gt = Tensor(np.array(gs, dtype=np.float64).reshape(t.shape), backend="scalar")
        if inputs is None:
            t._grad = gt if t._grad is None else _add_grads(t._grad, gt)
        else:
            found[id(t)] = gt
    return found


def _reached_exactly(roots):
    """ids of the Tensors reached from ``roots`` without passing through a gradient recorded by
    create_graph on the scalar back end (whose parents are a superset of what it depends on)."""
    seen, stack = set(), list(roots)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t._op is not _GRAD:
            stack.extend(p for _, p in t._edges)
    return seen


def _add_grads(a, b):
    if not (a._rg or b._rg):
        return Tensor(a.numpy() + b.numpy(), backend="scalar")
    return a + b


def backward(tensor, gradient=None, retain_graph=None, create_graph=False):
    """``tensor.backward(...)``: accumulate d(tensor)/d(leaf) into every leaf's ``.grad``."""
    _run([tensor], [gradient], retain_graph, create_graph)


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
    found = _run(outputs, list(grad_outputs), retain_graph, create_graph, inputs=inputs)
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
        if not isinstance(g, Tensor):  # (a NumPy scalar from 0-d arithmetic becomes a 0-d array)
            g = Tensor._wrap(np.array(g) if g.__class__ is not np.ndarray or not g.flags.owndata else g, "numpy")
        if g.shape != t.shape:  # an input reached only through broadcasting
            g = unbroadcast(g, t.shape)
        result.append(g)
    return tuple(result)


from autodiff.tensor import Tensor  # noqa: E402  (Tensor's methods use this module's ops)
