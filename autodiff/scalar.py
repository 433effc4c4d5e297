"""Scalar: the scalar-graph engine, where every number is a node (micrograd-compatible).

A node records the ``Op`` that made it (the same ops, with the same derivative rules, as the
Tensor back end: ``autodiff/ops/elementwise.py``) and its parents. Its value comes from the op's
forward on Python floats, with NumPy's answers (inf, nan, signed zeros) wherever Python's math
would raise. The backward pass is in ``_scalar_backward.py``. Nodes hold no closures, so a graph
is freed by reference counting, not by the garbage collector.
"""

from __future__ import annotations

import math
import numbers

from autodiff._mode import _grad_enabled

__all__ = ["Scalar", "record", "copy"]

_inf = math.inf
_new = object.__new__
_MANY = object()  # in ``_b``: the node has more than two parents, all of them in ``_a``
# The .grad of a node no gradient has reached yet: this very 0.0 object, so that backward can
# tell it from a gradient that is +0.0 and take a first contribution as it is (its sign of zero
# too), as the NumPy back end does; later ones are added.
NOGRAD = 0.0


def _node(data, fn, a, b=None):
    """A node made by ``fn`` (an Op) from parents ``a`` (and ``b``); a leaf when grad mode is off."""
    out = _new(Scalar)
    out.data = data
    out.grad = NOGRAD
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
        c.data, c.grad, c._fn, c._a, c._b, c._seen = float(x), NOGRAD, None, None, None, None
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
        self.grad = NOGRAD
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
        out.grad = NOGRAD
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
        out.grad = NOGRAD
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
        _sb.backprop([self], [1.0 if gradient is None else gradient], retain_graph=retain_graph, create_graph=create_graph)


_POWERS: dict = {}  # x ** p for a number p: pow_const bound to p, one per exponent


# The ops of Scalar nodes are the Tensor ops of elementwise.py (their rules are the derivatives),
# bound here once that module exists (``autodiff/__init__`` imports this module first).
from autodiff import _scalar_backward as _sb  # noqa: E402
from autodiff.ops import elementwise as _el  # noqa: E402

_ADD, _SUB, _MUL, _DIV, _NEG = _el.add, _el.sub, _el.mul, _el.div, _el.neg
_POW, _POW_CONST = _el.pow, _el.pow_const
_EXP, _LOG, _SQRT, _TANH, _SIGMOID, _RELU = _el.exp, _el.log, _el.sqrt, _el.tanh, _el.sigmoid, _el.relu
_ABS, _SIN, _COS, _SOFTPLUS, _LEAKY = _el.abs, _el.sin, _el.cos, _el.softplus, _el.leaky_relu_op
_MAX, _MIN, _COPY = _el.maximum, _el.minimum, _el.copy
