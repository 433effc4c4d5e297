"""Scalar: the scalar-graph engine, where every number is a node (micrograd-compatible).

A node records the ``Op`` that made it (the same ops, with the same derivative rules, as the
Tensor back end: ``autodiff/ops/elementwise.py``) and its parents. Its value comes from the op's
forward on Python floats, with NumPy's answers (inf, nan, signed zeros) wherever Python's math
would raise. The backward pass walks the graph once in reverse topological order and calls each
node's rules with floats (first order) or with the nodes themselves (``create_graph=True``, so
the rules record their own derivative); ``+`` and ``*``, most of any graph, are inlined there.
Nodes hold no closures, so a graph is freed by reference counting, not by the garbage collector.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from autodiff._mode import _anomaly, _grad_enabled

__all__ = ["Scalar", "backprop", "step", "toposort", "record", "copy"]

_inf = math.inf
_new = object.__new__
_MANY = object()  # in ``_b``: the node has more than two parents, all of them in ``_a``
_FREED = object()  # in ``_seen``: a backward pass without retain_graph has passed this node

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or to reach nodes of a graph that a "
    "backward pass already freed). Pass retain_graph=True to the first backward call if you "
    "need to backward through the graph again, or to explain or step through it afterwards."
)


def _node(data, fn, a, b=None):
    """A node made by ``fn`` (an Op) from parents ``a`` (and ``b``); a leaf when grad mode is off."""
    out = _new(Scalar)
    out.data = data
    out.grad = 0.0
    out._seen = None
    if _grad_enabled.get():
        out._fn, out._a, out._b = fn, a, b
    else:
        out._fn = out._a = out._b = None
    return out


def _node_of(data, fn, parents):
    """A node with any number of parents (max of several, a custom Function's outputs)."""
    if len(parents) <= 2:
        return _node(data, fn, *parents)
    return _node(data, fn, tuple(parents), _MANY)


def _lift(x):
    """A Scalar for x, or None when x is not a real number (the caller returns NotImplemented)."""
    if x.__class__ is Scalar or isinstance(x, Scalar):
        return x
    if x.__class__ is float or isinstance(x, numbers.Real):
        c = _new(Scalar)
        c.data, c.grad, c._fn, c._a, c._b, c._seen = float(x), 0.0, None, None, None, None
        return c
    return None


def _operands(name, xs):
    out = []
    for x in xs:
        lifted = _lift(x)
        if lifted is None:
            raise TypeError(f"{name}: operands must be Scalars or real numbers, got {type(x).__name__}")
        out.append(lifted)
    return out


def record(op, args, params):
    """The node ``op(*args, **params)`` on Scalars (numbers become constants): what an ``Op``
    called with a Scalar gives, e.g. in a rule run under ``create_graph``."""
    xs = _operands(op.name, args)
    value = op.number(*[x.data for x in xs], **params)
    return _node_of(value, op.bind(**params) if params else op, xs)


def copy(x: Scalar) -> Scalar:
    """A new node equal to ``x`` (identity op), so a Tensor op that only moves values (reshape,
    indexing) owns its output nodes on the scalar back end."""
    return _node(x.data, _COPY, x)


def _val(x):
    return x.data if isinstance(x, Scalar) else x


class Scalar:
    """A number in a computation graph.

    >>> a = Scalar(2.0, label="a"); b = Scalar(-3.0, label="b")
    >>> c = (a * b + a.tanh()) ** 2
    >>> c.backward(); round(a.grad, 4)
    29.5042

    ``.data`` and ``.grad`` are floats, ``.op`` names the op that made the node (``""`` for a
    leaf) and ``.parents`` holds its inputs in operand order. micrograd's ``Value`` programs run
    unchanged with ``Value = Scalar`` (``_prev`` and ``_op`` are kept as aliases); subclasses of
    Scalar combine with each other and with Scalar.
    """

    # Parents live in two slots, not a tuple: half the objects for the garbage collector to scan
    # and 40 bytes less per node. ``_b is _MANY`` marks a node whose parents are all in ``_a``.
    # ``_fn`` is the Op that made the node (bound to its parameters: ``x ** 2``). ``_seen`` holds
    # the token of the last graph walk that reached the node (a walk marks nodes instead of
    # keeping a set of ids, so walks of one graph are not run from several threads at once), or
    # ``_FREED`` once a backward pass without retain_graph has passed it. A node made by an op
    # has no ``_label`` until one is given (one store fewer per node; ``label`` reads "").
    __slots__ = ("data", "grad", "_label", "_fn", "_a", "_b", "_seen")

    def __init__(self, data, label: str = ""):
        if isinstance(data, Scalar) or not isinstance(data, numbers.Real):
            raise TypeError(f"Scalar: data must be a real number, got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self._label = label
        self._fn = None
        self._a = self._b = self._seen = None

    @property
    def label(self) -> str:
        """A name for drawings and ``explain`` ("" unless given)."""
        try:
            return self._label
        except AttributeError:
            return ""

    @label.setter
    def label(self, value):
        self._label = value

    # graph introspection
    @property
    def op(self) -> str:
        fn = self._fn
        if fn is None:
            return ""
        return fn.symbol if fn.symbol.__class__ is str else fn.name

    _op = op  # micrograd's name

    @property
    def parents(self) -> tuple:
        a = self._a
        if a is None:
            return ()
        b = self._b
        if b is None:
            return (a,)
        return a if b is _MANY else (a, b)

    _prev = parents  # micrograd's name

    @property
    def is_leaf(self) -> bool:
        return self._fn is None

    def __repr__(self):
        lab = f", label={self.label!r}" if self.label else ""
        return f"Scalar(data={self.data:.6g}, grad={_val(self.grad):.6g}{lab})"

    def __float__(self):
        return self.data

    # arithmetic. + and * make most nodes of a model (a neuron is a sum of products), so these
    # two build their node inline: the call to _node and _lift cost a quarter of a forward pass.
    def __add__(self, other):
        if other.__class__ is not Scalar:
            other = _lift(other)
            if other is None:
                return NotImplemented
        out = _new(Scalar)
        out.data = self.data + other.data
        out.grad = 0.0
        out._seen = None
        if _grad_enabled.get():
            out._fn, out._a, out._b = _ADD, self, other
        else:
            out._fn = out._a = out._b = None
        return out

    def __radd__(self, other):
        o = _lift(other)
        return NotImplemented if o is None else _node(o.data + self.data, _ADD, o, self)

    def __sub__(self, other):
        o = _lift(other)
        return NotImplemented if o is None else _node(self.data - o.data, _SUB, self, o)

    def __rsub__(self, other):
        o = _lift(other)
        return NotImplemented if o is None else _node(o.data - self.data, _SUB, o, self)

    def __mul__(self, other):  # (inline, as __add__)
        if other.__class__ is not Scalar:
            other = _lift(other)
            if other is None:
                return NotImplemented
        out = _new(Scalar)
        out.data = self.data * other.data
        out.grad = 0.0
        out._seen = None
        if _grad_enabled.get():
            out._fn, out._a, out._b = _MUL, self, other
        else:
            out._fn = out._a = out._b = None
        return out

    def __rmul__(self, other):
        o = _lift(other)
        return NotImplemented if o is None else _node(o.data * self.data, _MUL, o, self)

    def __truediv__(self, other):
        o = _lift(other)
        return NotImplemented if o is None else _node(_DIV.number(self.data, o.data), _DIV, self, o)

    def __rtruediv__(self, other):
        o = _lift(other)
        return NotImplemented if o is None else _node(_DIV.number(o.data, self.data), _DIV, o, self)

    def __pow__(self, other):
        if other.__class__ is not Scalar and not isinstance(other, Scalar):
            if not isinstance(other, numbers.Real):
                return NotImplemented
            p = float(other)
            op = _POWERS.get(p)
            if op is None:
                op = _POW_CONST.bind(p=p)
                if len(_POWERS) < 4096:
                    _POWERS[p] = op
            return _node(_POW_CONST.number(self.data, p=p), op, self)
        return _node(_POW.number(self.data, other.data), _POW, self, other)

    def __rpow__(self, other):
        o = _lift(other)
        return NotImplemented if o is None else _node(_POW.number(o.data, self.data), _POW, o, self)

    def __neg__(self):
        return _node(-self.data, _NEG, self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _node(abs(self.data), _ABS, self)

    # comparisons compare values and record nothing
    def __lt__(self, other):
        return self.data < _val(other)

    def __le__(self, other):
        return self.data <= _val(other)

    def __gt__(self, other):
        return self.data > _val(other)

    def __ge__(self, other):
        return self.data >= _val(other)

    __hash__ = object.__hash__  # identity: graph bookkeeping never compares values

    # functions (NumPy's ufuncs on object arrays find these by name): the ops of elementwise.py
    def exp(self):
        return _node(_EXP.number(self.data), _EXP, self)

    def log(self):
        return _node(_LOG.number(self.data), _LOG, self)

    def sqrt(self):
        return _node(_SQRT.number(self.data), _SQRT, self)

    def tanh(self):
        return _node(_TANH.number(self.data), _TANH, self)

    def sigmoid(self):
        return _node(_SIGMOID.number(self.data), _SIGMOID, self)

    def relu(self):
        return _node(_RELU.number(self.data), _RELU, self)

    def abs(self):
        return self.__abs__()

    def sin(self):
        return _node(_SIN.number(self.data), _SIN, self)

    def cos(self):
        return _node(_COS.number(self.data), _COS, self)

    def softplus(self):
        return _node(_SOFTPLUS.number(self.data), _SOFTPLUS, self)

    def leaky_relu(self, slope: float = 0.01):
        return record(_LEAKY, (self,), {"slope": float(slope)})

    def max(self, *others) -> Scalar:
        """Largest of several Scalars (one node): ``Scalar.max(a, b, c)`` or ``a.max(b, c)``; on
        ties the gradient is shared equally. A NaN input makes the result NaN (as NumPy's max),
        and the gradient goes to the NaN inputs."""
        xs = _operands("Scalar.max", (self, *others))
        return _node_of(_MAX.number(*[x.data for x in xs]), _MAX, xs)

    def min(self, *others) -> Scalar:
        """Smallest of several Scalars (one node), as ``max``."""
        xs = _operands("Scalar.min", (self, *others))
        return _node_of(_MIN.number(*[x.data for x in xs]), _MIN, xs)

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Add d(self)/d(node) * gradient to ``.grad`` of every node reachable from self
        (``gradient`` 1 when None, as for a loss).

        The graph is freed afterwards unless ``retain_graph``; ``create_graph=True`` records the
        backward pass, so the ``.grad`` values are Scalars that can be differentiated again.
        """
        backprop([self], [1.0 if gradient is None else gradient], retain_graph=retain_graph, create_graph=create_graph)


_POWERS: dict = {}  # x ** p for a number p: pow_const bound to p, one per exponent


# --- the walk ---------------------------------------------------------------------------------


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


# The ops of Scalar nodes are the Tensor ops of elementwise.py (their rules are the derivatives),
# bound here once that module exists (``autodiff/__init__`` imports this module first).
from autodiff.ops import elementwise as _el  # noqa: E402

_ADD, _SUB, _MUL, _DIV, _NEG = _el.add, _el.sub, _el.mul, _el.div, _el.neg
_POW, _POW_CONST = _el.pow, _el.pow_const
_EXP, _LOG, _SQRT, _TANH, _SIGMOID, _RELU = _el.exp, _el.log, _el.sqrt, _el.tanh, _el.sigmoid, _el.relu
_ABS, _SIN, _COS, _SOFTPLUS, _LEAKY = _el.abs, _el.sin, _el.cos, _el.softplus, _el.leaky_relu_op
_MAX, _MIN, _COPY = _el.maximum, _el.minimum, _el.copy
