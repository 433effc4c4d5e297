"""Scalar: the scalar-graph engine, where every number is a node (micrograd-compatible).

Each op is an ``_Op``: a name and one vector-Jacobian rule ``vjp(grad, out, *inputs)`` that returns
one gradient per input. The backward pass calls a rule with floats (first order) or with the
``Scalar`` nodes themselves (``create_graph=True``), so the same rule records its own derivative.
Nodes hold no closures, so a graph is freed by reference counting, not by the garbage collector.
"""

from __future__ import annotations

import math
import numbers

from autodiff._mode import _anomaly, _grad_enabled

__all__ = ["Scalar", "backprop"]

_nan = float("nan")
_inf = float("inf")


class _Op:
    """A scalar op: its name, its rule, an optional parameter (an exponent, a slope) and a twin
    with no rule that marks a node whose graph was freed by a backward pass."""

    __slots__ = ("name", "vjp", "param", "freed")

    def __init__(self, name, vjp, param=None):
        self.name, self.vjp, self.param = name, vjp, param
        twin = object.__new__(_Op)
        twin.name, twin.vjp, twin.param, twin.freed = name, None, param, twin
        self.freed = twin

    def __repr__(self):
        return self.name


# --- float versions that follow NumPy (inf / nan) instead of raising -------------------------


def _fexp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return _inf


def _flog(x):
    if x > 0:
        return math.log(x)
    return -_inf if x == 0 else _nan


def _fsqrt(x):
    return math.sqrt(x) if x >= 0 else _nan


def _fdiv(a, b):
    try:
        return a / b
    except ZeroDivisionError:
        return _nan if a == 0 or a != a else math.copysign(_inf, a) * math.copysign(1.0, b)


def _fpow(a, b):
    try:
        return math.pow(a, b)
    except ValueError:  # negative base, fractional exponent; or 0 ** negative
        return _inf if a == 0 else _nan
    except OverflowError:
        return _inf if a > 0 or float(b).is_integer() and b % 2 == 0 else -_inf


def _fsigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _fsoftplus(x):  # log(1 + e^x), stable for large |x|
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


# --- helpers that work on floats (first order) and on Scalars (create_graph) -----------------


def _log(x):
    return x.log() if x.__class__ is Scalar else _flog(x)


def _fsin(x):  # math.sin raises at ±inf; NumPy gives nan
    return math.sin(x) if math.isfinite(x) else math.nan


def _fcos(x):
    return math.cos(x) if math.isfinite(x) else math.nan


def _cos(x):
    return x.cos() if x.__class__ is Scalar else _fcos(x)


def _sin(x):
    return x.sin() if x.__class__ is Scalar else _fsin(x)


def _sigmoid(x):
    return x.sigmoid() if x.__class__ is Scalar else _fsigmoid(x)


def _powc(x, p):
    if p == 1:
        return x
    return x**p if x.__class__ is Scalar else _fpow(x, p)


def _div(a, b):  # a / b, with NumPy's inf / nan for a float division by zero
    return a / b if a.__class__ is Scalar or b.__class__ is Scalar else _fdiv(a, b)


def _val(x):
    return x.data if x.__class__ is Scalar else x


def _step(x):  # derivative of relu; relu'(0) = 0 as in PyTorch
    return 1.0 if x > 0 else 0.0


def _sign(x):  # derivative of abs; abs'(0) = 0 as in PyTorch
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


def _log_or_zero(a):
    # d(a**b)/db = out * log(a); at a == 0 the product is taken as 0 (as PyTorch does).
    return 0.0 if _val(a) == 0 else _log(a)


# --- the rules: d(out)/d(input) times the incoming gradient ----------------------------------

_ADD = _Op("+", lambda g, out, a, b: (g, g))  #             d(a+b) = da + db
_SUB = _Op("-", lambda g, out, a, b: (g, -g))  #            d(a-b) = da - db
_MUL = _Op("*", lambda g, out, a, b: (g * b, g * a))  #     d(ab) = b da + a db
_DIV = _Op("/", lambda g, out, a, b: (_div(g, b), _div(-g * out, b)))  # d(a/b) = da/b - (a/b) db/b
_NEG = _Op("neg", lambda g, out, a: (-g,))
_POW = _Op(  # d(a^b) = b a^(b-1) da + a^b log(a) db; the first term is 0 at a == b == 0 (as PyTorch)
    "**", lambda g, out, a, b: (g * b * _powc(a, b - 1) if _val(b) != 0 or _val(a) != 0 else g * b, g * out * _log_or_zero(a))
)
_EXP = _Op("exp", lambda g, out, a: (g * out,))  #          exp' = exp
_LOG = _Op("log", lambda g, out, a: (_div(g, a),))  #            log' = 1/a
_SQRT = _Op("sqrt", lambda g, out, a: (_div(g, 2 * out),))  #  sqrt' = 1/(2 sqrt a)
_TANH = _Op("tanh", lambda g, out, a: (g * (1 - out * out),))  # tanh' = 1 - tanh²
_SIGMOID = _Op("sigmoid", lambda g, out, a: (g * out * (1 - out),))  # σ' = σ(1-σ)
_RELU = _Op("ReLU", lambda g, out, a: (g * _step(a),))  #   relu' = [a > 0]
_ABS = _Op("abs", lambda g, out, a: (g * _sign(a),))  #     abs' = sign(a)
_SIN = _Op("sin", lambda g, out, a: (g * _cos(a),))
_COS = _Op("cos", lambda g, out, a: (-g * _sin(a),))
_SOFTPLUS = _Op("softplus", lambda g, out, a: (g * _sigmoid(a),))  # log(1+e^a)' = σ(a)
_COPY = _Op("copy", lambda g, out, a: (g,))  # identity: gives a moved value a node of its own


def _operands(name, first, others):
    xs = []
    for x in (first, *others):
        lifted = _lift(x)
        if lifted is None:
            raise TypeError(f"Scalar.{name}: operands must be Scalars or real numbers, got {type(x).__name__}")
        xs.append(lifted)
    return tuple(xs)


def _nan_or(pick, values):
    """``pick(values)`` (max or min), or NaN when a value is NaN (Python's max skips some)."""
    for v in values:
        if v != v:
            return v
    return pick(values)


def _extremum_vjp(g, out, *xs):
    # max/min of several inputs: the gradient is shared equally among the inputs that attain
    # it (as torch.amax does), so ties give the same answer on both back ends; a NaN result
    # came from the NaN inputs, which share it (as torch.max's full reduction does).
    o = _val(out)
    hits = [_val(x) == o for x in xs] if o == o else [_val(x) != _val(x) for x in xs]
    share = g / sum(hits)
    return tuple(share if h else 0.0 for h in hits)


_MAX = _Op("max", _extremum_vjp)
_MIN = _Op("min", _extremum_vjp)

_param_ops: dict = {}


def _param_op(kind, p):
    """The op ``x ** p`` (kind "pow"), ``p ** x`` ("rpow") or leaky_relu with slope p ("leaky")."""
    key = (kind, p)
    op = _param_ops.get(key)
    if op is None:
        if kind == "pow":  # d(x^p) = p x^(p-1) dx, and 0 for p == 0 even at x == 0
            op = _Op(f"**{p:g}", lambda g, out, a: (g * p * _powc(a, p - 1) if p != 0 else g * 0.0,), p)
        elif kind == "rpow":  # d(p^x) = p^x log(p) dx, taken as 0 for p == 0 (as d(a^b)/db)
            lp = _flog(p) if p != 0 else 0.0
            op = _Op(f"{p:g}**", lambda g, out, a: (g * out * lp,), p)
        else:  # leaky relu: slope p below zero
            op = _Op("leaky_relu", lambda g, out, a: (g * (1.0 if a > 0 else p),), p)
        if len(_param_ops) < 4096:
            _param_ops[key] = op
    return op


# --- the node ---------------------------------------------------------------------------------

_new = object.__new__


_MANY = object()  # in ``_b``: the node has more than two parents, all of them in ``_a``


def _node(data, fn, a, b=None):
    """A node made by ``fn`` from parents ``a`` (and ``b``); a leaf when grad mode is off."""
    out = _new(Scalar)
    out.data = data
    out.grad = 0.0
    out.label = ""
    out._seen = None
    if _grad_enabled.get():
        out._fn, out._a, out._b = fn, a, b
    else:
        out._fn, out._a, out._b = None, None, None
    return out


def _node_of(data, fn, parents):
    """A node with any number of parents (max of several, a custom Function's outputs)."""
    if len(parents) <= 2:
        return _node(data, fn, *parents)
    out = _node(data, fn, tuple(parents), _MANY)
    return out


def copy(x: Scalar) -> Scalar:
    """A new node equal to ``x`` (identity op), so a Tensor op that only moves values (reshape,
    indexing) owns its output nodes on the scalar back end."""
    return _node(x.data, _COPY, x)


def _lift(x):
    """A Scalar for x, or None when x is not a real number (the caller returns NotImplemented)."""
    if x.__class__ is Scalar:
        return x
    if x.__class__ is float or isinstance(x, numbers.Real):
        c = _new(Scalar)
        c.data, c.grad, c.label, c._fn, c._a, c._b, c._seen = float(x), 0.0, "", None, None, None, None
        return c
    return None


class Scalar:
    """A number in a computation graph.

    >>> a = Scalar(2.0, label="a"); b = Scalar(-3.0, label="b")
    >>> c = (a * b + a.tanh()) ** 2
    >>> c.backward(); round(a.grad, 4)
    29.5042

    ``.data`` and ``.grad`` are floats, ``.op`` names the op that made the node (``""`` for a
    leaf) and ``.parents`` holds its inputs in operand order. micrograd's ``Value`` programs run
    unchanged with ``Value = Scalar`` (``_prev`` and ``_op`` are kept as aliases).
    """

    # Parents live in two slots, not a tuple: half the objects for the garbage collector to scan
    # and 40 bytes less per node. ``_b is _MANY`` marks a node whose parents are all in ``_a``.
    # ``_seen`` holds the token of the last graph walk that reached the node: a walk marks nodes
    # instead of keeping a set of ids (three times faster; walks of one graph are not run from
    # several threads at once).
    __slots__ = ("data", "grad", "label", "_fn", "_a", "_b", "_seen")

    def __init__(self, data, label: str = ""):
        if isinstance(data, Scalar) or not isinstance(data, numbers.Real):
            raise TypeError(f"Scalar: data must be a real number, got {type(data).__name__}")
        self.data = float(data)
        self.grad = 0.0
        self.label = label
        self._fn = None
        self._a = self._b = self._seen = None

    # graph introspection
    @property
    def op(self) -> str:
        return self._fn.name if self._fn is not None else ""

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
        out.label = ""
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
        out.label = ""
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
        return NotImplemented if o is None else _node(_fdiv(self.data, o.data), _DIV, self, o)

    def __rtruediv__(self, other):
        o = _lift(other)
        return NotImplemented if o is None else _node(_fdiv(o.data, self.data), _DIV, o, self)

    def __pow__(self, other):
        if other.__class__ is Scalar:
            return _node(_fpow(self.data, other.data), _POW, self, other)
        if not isinstance(other, numbers.Real):
            return NotImplemented
        p = float(other)
        return _node(_fpow(self.data, p), _param_op("pow", p), self)

    def __rpow__(self, other):
        if not isinstance(other, numbers.Real):
            return NotImplemented
        p = float(other)
        return _node(_fpow(p, self.data), _param_op("rpow", p), self)

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

    # functions (NumPy's ufuncs on object arrays find these by name)
    def exp(self):
        return _node(_fexp(self.data), _EXP, self)

    def log(self):
        return _node(_flog(self.data), _LOG, self)

    def sqrt(self):
        return _node(_fsqrt(self.data), _SQRT, self)

    def tanh(self):
        return _node(math.tanh(self.data), _TANH, self)

    def sigmoid(self):
        return _node(_fsigmoid(self.data), _SIGMOID, self)

    def relu(self):
        d = self.data
        return _node(0.0 if d <= 0 else d, _RELU, self)  # (NaN stays NaN, as np.maximum(x, 0))

    def abs(self):
        return self.__abs__()

    def sin(self):
        return _node(_fsin(self.data), _SIN, self)

    def cos(self):
        return _node(_fcos(self.data), _COS, self)

    def softplus(self):
        return _node(_fsoftplus(self.data), _SOFTPLUS, self)

    def leaky_relu(self, slope: float = 0.01):
        d = self.data
        return _node(d if d > 0 else slope * d, _param_op("leaky", float(slope)), self)

    def max(self, *others) -> Scalar:
        """Largest of several Scalars (one node): ``Scalar.max(a, b, c)`` or ``a.max(b, c)``; on
        ties the gradient is shared equally. A NaN input makes the result NaN (as NumPy's max),
        and the gradient goes to the NaN inputs."""
        xs = _operands("max", self, others)
        return _node_of(_nan_or(max, [x.data for x in xs]), _MAX, xs)

    def min(self, *others) -> Scalar:
        """Smallest of several Scalars (one node), as ``max``."""
        xs = _operands("min", self, others)
        return _node_of(_nan_or(min, [x.data for x in xs]), _MIN, xs)

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Add d(self)/d(node) * gradient to ``.grad`` of every node reachable from self
        (``gradient`` 1 when None, as for a loss).

        The graph is freed afterwards unless ``retain_graph``; ``create_graph=True`` records the
        backward pass, so the ``.grad`` values are Scalars that can be differentiated again.
        """
        backprop([self], [1.0 if gradient is None else gradient], retain_graph=retain_graph, create_graph=create_graph)


def _toposort(roots):
    """Nodes reachable from roots, every node after its parents (iterative: no recursion limit)."""
    return _walk(roots)[0]


def _walk(roots):
    """``(order, mark)``: the topological order, and the mark left on every node it reached.

    A node stays on the stack until all its parents are placed; it re-reads its (at most two)
    parent slots when it comes back to the top instead of keeping an iterator.
    """
    order = []
    append = order.append
    walk = object()  # this walk's mark
    many = _MANY
    for root in roots:
        if root._seen is walk:
            continue
        root._seen = walk
        stack = [root]
        push, pop = stack.append, stack.pop
        while stack:
            node = stack[-1]
            a = node._a
            if a is not None:
                b = node._b
                nxt = None
                if b is many:
                    for p in a:
                        if p._seen is not walk:
                            nxt = p
                            break
                elif a._seen is not walk:
                    nxt = a
                elif b is not None and b._seen is not walk:
                    nxt = b
                if nxt is not None:
                    nxt._seen = walk
                    if nxt._a is None:
                        append(nxt)  # a leaf is placed at once
                    else:
                        push(nxt)
                    continue
            pop()
            append(node)
    return order, walk


_FREED = (
    "Trying to backward through the graph a second time (or to reach nodes of a graph that a "
    "backward pass already freed). Pass retain_graph=True to the first backward call if you "
    "need to backward through the graph again."
)


def backprop(roots, seeds, *, retain_graph=None, create_graph=False, accumulate=True, capture=None):
    """Backward pass over the Scalar graph from ``roots`` seeded with ``seeds``.

    ``accumulate`` adds each node's gradient to its ``.grad``. ``capture``, a list of nodes, asks
    for their gradient from this pass: the list of them is returned, None for a node the pass
    does not reach. Gradients are floats, or Scalars when ``create_graph``.
    """
    if retain_graph is None:
        retain_graph = create_graph
    order, mark = _walk(roots)
    if accumulate and not create_graph and not _anomaly.get() and _fresh(order, capture):
        _backprop_in_place(order, roots, seeds, retain_graph)
        if capture is not None:  # they held no gradient before, so .grad is this pass's
            return [n.grad if n._seen is mark else None for n in capture]
        return None
    wanted = None if capture is None else {id(n): None for n in capture}
    _backprop_buffered(order, roots, seeds, retain_graph, create_graph, accumulate, wanted)
    return None if capture is None else [wanted[id(n)] for n in capture]


def _fresh(order, capture):
    """True when no inner node (nor captured node) holds a gradient yet: the usual first backward
    of a new graph, where gradients can be summed in ``.grad`` itself."""
    for node in order:
        if node._fn is not None and node.grad != 0.0:
            return False
    return capture is None or all(n.grad == 0.0 for n in capture)


def _backprop_in_place(order, roots, seeds, retain_graph):
    # Each node's .grad is complete once every node after it in ``order`` has run; add and mul,
    # most of any graph, are inlined.
    for r, s in zip(roots, seeds):
        r.grad += float(s)
    add, mul, many = _ADD, _MUL, _MANY
    for node in reversed(order):
        fn = node._fn
        if fn is None:
            continue
        vjp = fn.vjp
        if vjp is None:
            raise RuntimeError(_FREED)
        g = node.grad
        if g != 0.0:
            a, b = node._a, node._b
            if fn is add:
                a.grad += g
                b.grad += g
            elif fn is mul:
                a.grad += g * b.data
                b.grad += g * a.data
            elif b is None:
                a.grad += vjp(g, node.data, a.data)[0]
            elif b is not many:
                ga, gb = vjp(g, node.data, a.data, b.data)
                a.grad += ga
                b.grad += gb
            else:
                for p, pg in zip(a, vjp(g, node.data, *[p.data for p in a])):
                    p.grad += pg
        if not retain_graph:
            node._fn = fn.freed


def _backprop_buffered(order, roots, seeds, retain_graph, create_graph, accumulate, capture):
    # The general pass: gradients of this pass are summed in a buffer keyed by node id, so
    # earlier .grad values (a second backward, create_graph, capture) never leak into it.
    grads = {}
    for r, s in zip(roots, seeds):
        if s.__class__ is not Scalar:
            s = float(s)
        k = id(r)
        grads[k] = grads[k] + s if k in grads else s
    anomaly = _anomaly.get()
    token = _grad_enabled.set(True) if create_graph else None
    try:
        for node in reversed(order):
            k = id(node)
            g = grads.pop(k, None)
            if g is None:
                continue
            if accumulate:
                old = node.grad
                node.grad = g if (old.__class__ is float and old == 0.0) else old + g
            if capture is not None and k in capture:
                capture[k] = g
            fn = node._fn
            if fn is None:
                continue
            vjp = fn.vjp
            if vjp is None:
                raise RuntimeError(_FREED)
            prev = node._prev
            if create_graph:
                pgs = vjp(g, node, *prev)
            elif len(prev) == 2:
                pgs = vjp(g, node.data, prev[0].data, prev[1].data)
            elif len(prev) == 1:
                pgs = vjp(g, node.data, prev[0].data)
            else:
                pgs = vjp(g, node.data, *[p.data for p in prev])
            if anomaly:
                for pg in pgs:
                    if not math.isfinite(_val(pg)):
                        raise FloatingPointError(f"backward of '{fn.name}' produced {_val(pg)}")
            for p, pg in zip(prev, pgs):
                k = id(p)
                if k in grads:
                    grads[k] = grads[k] + pg
                else:
                    grads[k] = pg
            if not retain_graph:
                node._fn = fn.freed
    finally:
        if token is not None:
            _grad_enabled.reset(token)
