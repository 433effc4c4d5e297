"""Recording: ``Op`` (a forward beside its derivative rules), ``apply`` (runs an op on Tensors and
records it in a ``Node``), and ``unbroadcast``, the one place broadcast gradients are summed back.

An ``Op`` pairs a forward on arrays with derivative rules. ``vjps`` holds one rule per input,
``rule(grad, out, *inputs, **params)``; an op whose inputs share work gives a joint ``vjp``
returning one gradient per input instead. A rule is written with operators and ops, so the same
line runs on ndarrays (first order), on Tensors (``create_graph``: the derivative is recorded in
turn), on floats (a ``Scalar`` node's first-order step) and on Scalars (``create_graph`` on the
scalar graph): these rules are the only place a derivative is written. The backward passes are
in ``_backward.py`` (Tensor graphs) and ``scalar.py`` (Scalar graphs).

On the scalar back end a Tensor holds an object array of ``Scalar`` nodes; the forward runs the
same array code on it (or the op's ``scalar`` version), so the recorded graph is the graph of
Scalars, and backward is the Scalar engine's.
"""

from __future__ import annotations

import inspect

import numpy as np

from autodiff._mode import _anomaly, _grad_enabled, _scope, no_grad

__all__ = ["Op", "Node", "apply", "owned", "unbroadcast"]

_new = object.__new__


def _exact(forward):
    """The forward on Python numbers, through NumPy (its IEEE answers: inf, nan, signed zeros)."""

    def number(*xs, **params):
        with np.errstate(all="ignore"):
            return float(forward(*xs, **params))

    return number


def _ieee(fast, forward):
    """``fast`` (math on Python floats), or where it raises (log(0), 1/0, exp(1000), pow of a
    negative base) the NumPy forward, whose inf / nan / signed zero is the reference. (A Scalar
    node's value comes from here: the one-argument version skips *args, which cost a tenth of a
    Scalar op.)"""
    exact = _exact(forward)
    try:
        arity = len(inspect.signature(fast).parameters)
    except (TypeError, ValueError):  # a builtin without a signature
        arity = None
    if arity == 1:

        def number(x):
            try:
                return fast(x)
            except (ArithmeticError, ValueError):
                return exact(x)

    else:

        def number(*xs, **params):
            try:
                return fast(*xs, **params)
            except (ArithmeticError, ValueError):
                return exact(*xs, **params)

    return number


class Op:
    """A differentiable operation, callable on Tensors, Scalars, ndarrays and numbers.

    >>> cube = ad.Op("cube", lambda x: x ** 3, (lambda grad, out, x: grad * 3 * x ** 2,))
    >>> cube(ad.Tensor([2.0], requires_grad=True))        # recorded; backward uses the rule

    ``forward(*arrays, **params)`` computes the result; ``vjps`` (one rule per input,
    ``rule(grad, out, *inputs, **params)``) or ``vjp`` (one joint rule
    ``vjp(grad, out, *inputs, needs=..., **params)`` returning a gradient or None per input)
    compute vector-Jacobian products. A rule of ``None`` marks an input as not differentiable.
    Rules get ndarrays in a first-order pass and Tensors under ``create_graph`` (they then record
    themselves), floats and Scalars on the scalar graph; a rule may test ``isinstance(out,
    np.ndarray)`` for a first-order shortcut (the engine decides which by its mode).

    ``number(*floats, **params)``: the forward on Python floats for a ``Scalar`` node (math's
    functions, say); where it raises, or when not given, the NumPy forward computes the value.
    ``symbol``: the name a Scalar node made by the op shows (micrograd's ``"*"``), if not ``name``.
    ``uses_out=False`` declares that the first-order rules do not read ``out`` (they get None):
    backward then lets the result go before they run, so a layer's output is freed as soon as
    its own step starts (a matmul's, a linear's).
    ``scalar(*object_arrays, **params)`` replaces forward on the scalar back end when NumPy's
    object-array code cannot run the forward on Scalars. ``fresh``: True (or one bool per input)
    when the rules always return new arrays that nothing else holds, so a leaf may keep one as
    its ``.grad`` without a copy (a rule that passes its incoming gradient on, or a view of it,
    must leave it False). ``saves=True``: ``forward`` returns ``(result, saved)``, arrays the
    rules would otherwise compute again (a softmax, say); a recorded call hands them to the rules
    as the keyword ``saved``, which must not modify them (``retain_graph`` runs a rule twice). A
    rule gets ``saved=None`` under ``create_graph`` and for a call that was not recorded.
    """

    __slots__ = (
        "name", "forward", "vjps", "vjp", "scalar", "saves", "fresh", "uses_out", "number", "symbol", "params", "_bound",
    )

    def __init__(
        self, name, forward, vjps=(), *, vjp=None, scalar=None, saves=False, fresh=False, uses_out=True, number=None,
        symbol=None,
    ):
        if saves and scalar is None:
            raise ValueError(f"Op {name}: saves=True needs a scalar forward that returns the result alone")
        self.name, self.forward, self.vjps, self.vjp, self.scalar = name, forward, tuple(vjps), vjp, scalar
        self.saves, self.fresh, self.uses_out = saves, fresh, uses_out
        if forward is None:
            self.number = None
        else:
            self.number = _exact(forward) if number is None else _ieee(number, forward)
        self.symbol = symbol  # the name a Scalar node shows (micrograd's "+", "*", "**2"), or a function of the params
        self.params = None  # a bound copy (``bind``) carries the keyword params of a Scalar node
        self._bound = None

    def __call__(self, *args, **params):
        if args[0].__class__ is Tensor:  # (the usual case first)
            return apply(self, args, params)
        for a in args:
            if isinstance(a, Tensor):
                return apply(self, args, params)
        floats = True
        for a in args:
            if isinstance(a, Scalar):
                return _scalar.record(self, args, params)
            floats = floats and a.__class__ is float
        if floats and self.number is not None:  # a rule run on a Scalar node's floats
            return self.number(*args, **params)
        out = self.forward(*args, **params)
        return out[0] if self.saves else out

    def bind(self, **params) -> Op:
        """This op with its keyword parameters fixed (``x ** 2`` is ``pow_const`` bound to p=2):
        what a Scalar node records. Bound copies are cached per parameter values."""
        try:
            key = tuple(sorted(params.items()))
            hash(key)
        except TypeError:  # an array parameter: not cached
            key = None
        cache = self._bound
        if key is not None and cache is not None:
            op = cache.get(key)
            if op is not None:
                return op
        op = _new(Op)
        for slot in Op.__slots__:
            setattr(op, slot, getattr(self, slot))
        op.params, op._bound = dict(params), None
        if callable(op.symbol):
            op.symbol = op.symbol(**params)
        if key is not None:
            if cache is None:
                cache = self._bound = {}
            if len(cache) < 4096:
                cache[key] = op
        return op

    def is_fresh(self, i) -> bool:
        """Whether the rule for input ``i`` returns a new array nothing else holds."""
        f = self.fresh
        return f if f.__class__ is bool else bool(f[i])

    def __repr__(self):
        return f"Op({self.name})"


class Node:
    """What the engine records for a Tensor made by an op: the op, its arguments as given
    (``args``), their arrays as the first-order rules receive them (``raw``), the (position,
    Tensor) of each argument that requires grad (``edges``), keyword parameters, what the forward
    saved for the rules, and the module scope it was made in. Backward keeps its pending gradient
    here. A backward pass without ``retain_graph`` releases all but the op and the scope as soon
    as it has passed the node (``edges is None`` then)."""

    __slots__ = ("op", "args", "raw", "edges", "params", "scope", "seen", "pending")

    def release(self):
        self.args = self.raw = self.edges = self.params = self.pending = None

    @property
    def freed(self) -> bool:
        return self.edges is None


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


def _scalar_operand(op, backend):
    return TypeError(
        f"{op.name}: a Scalar cannot be an operand of Tensors on the '{backend}' back end (it would be a "
        f"constant there, and get no gradient); use float(s), or Tensors with backend='scalar'"
    )


def apply(op: Op, args: tuple, params: dict):
    """Run ``op`` on ``args`` (Tensors, ndarrays or numbers) and record it when a Tensor input
    requires grad and grad mode is on."""
    backend = edges = None  # edges: (position, input) for each input that requires grad
    raw = []
    keep = raw.append
    i = 0
    for a in args:
        if a.__class__ is Tensor or isinstance(a, Tensor):
            if a._backend is not backend:
                if backend is not None and a._backend != backend:
                    raise ValueError(
                        f"{op.name}: cannot mix back ends '{backend}' and '{a._backend}' in one op; "
                        f"convert one with .to('{backend}')"
                    )
                backend = a._backend
            if a._rg:
                if edges is None:
                    edges = [(i, a)]
                else:
                    edges.append((i, a))
            keep(a.data)
        else:
            keep(a)
        i += 1
    if backend != "scalar" and len(raw) > 1:
        for a in raw:
            if isinstance(a, Scalar):
                raise _scalar_operand(op, backend)
    rg = edges is not None and _grad_enabled.get()
    saved = None
    try:
        if backend == "numpy":
            out = op.forward(*raw, **params) if params else op.forward(*raw)
            if op.saves:
                out, saved = out
                if not rg:  # nothing is kept for a call that is not recorded
                    saved = None
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
    if out.__class__ is not np.ndarray:  # a NumPy scalar from a full reduction, or a Scalar
        out = np.asarray(out) if backend == "numpy" else _as_array(out, backend)
    t = _new(Tensor)
    t.data = out
    t._backend = backend
    t._grad = t.label = None
    if rg:
        node = t._node = _new(Node)
        node.op = op
        node.args = args
        node.raw = raw
        node.edges = edges
        node.params = {**params, "saved": saved} if op.saves else params
        node.scope = _scope.get()
        node.seen = node.pending = None
        t._rg = True
    else:
        t._rg = False
        t._node = None
    if _anomaly.get():
        check_finite(out, backend, f"forward of '{op.name}'")
    return t


def owned(forward):
    """The scalar-back-end forward of an op that moves values (reshape, indexing, padding, where):
    every output element becomes a node of its own — an input's Scalar, a constant, or an element
    the forward placed twice becomes a new identity node (a new constant when nothing is
    recorded) — so ``ad.grad`` with respect to the output counts, cell by cell, only the paths
    through it, as on the numpy back end, and writing into one cell changes that cell alone."""

    def run(*args, **params):
        out = forward(*args, **params)  # (unrecorded too: cells shared with the input or each other
        seen = set()                    # would be one value, written and differentiated as one)
        for a in args:
            if type(a) is np.ndarray and a.dtype == object:
                seen.update(map(id, a.ravel().tolist()))
            elif isinstance(a, Scalar):
                seen.add(id(a))
        if type(out) is not np.ndarray:  # a single element picked by an integer index
            return _scalar.copy(out) if id(out) in seen else out
        flat = out.ravel().tolist()
        once = set()
        for s in flat:  # an element placed twice (a padding constant) is copied everywhere
            if id(s) in once:
                seen.add(id(s))
            once.add(id(s))
        fresh = [_scalar.copy(s) if id(s) in seen else s for s in flat]
        cells = np.empty(len(fresh), dtype=object)
        cells[:] = fresh
        return cells.reshape(out.shape)

    return run


def check_finite(arr, backend, what):
    """Raise FloatingPointError naming ``what`` when ``arr`` holds a NaN or an inf."""
    vals = values(arr) if backend == "scalar" else arr
    if vals.dtype.kind in "fc" and not np.all(np.isfinite(vals)):
        bad = "nan" if np.any(np.isnan(vals)) else "inf"
        raise FloatingPointError(f"{what} produced {bad}")


def values(obj):
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
    if lead < 0 or any(g != s and s != 1 for g, s in zip(gshape[lead:], shape)):
        raise ValueError(f"a gradient of shape {gshape} cannot be summed back to shape {shape}")
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1
    )
    if axes:  # (np.add.reduce skips ndarray.sum's Python wrapper; Tensors have .sum)
        grad = _add_reduce(grad, axes) if type(grad) is np.ndarray else grad.sum(axis=axes)
    if grad.shape != shape:
        grad = grad.reshape(shape)
    return grad


# Op.__call__ and apply build Tensors and Scalar nodes: imported last, once Op exists.
from autodiff import scalar as _scalar  # noqa: E402
from autodiff.scalar import Scalar  # noqa: E402
from autodiff.tensor import Tensor  # noqa: E402
