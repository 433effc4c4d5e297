"""Scalar, the scalar-graph engine (API.md §1): operators, methods, graph introspection,
micrograd compatibility, depth, retain_graph and create_graph."""

import math
import warnings

import numpy as np
import pytest

import autodiff as ad
from autodiff import Scalar
from autodiff.testing import check_backends


@pytest.mark.parametrize(
    "fn, x",
    [
        (ad.sqrt, [0.0, 1.0]),  # sqrt'(0) = inf
        (ad.log, [0.0, -1.0]),  # log'(0) = inf
        (lambda t: 1.0 / t, [0.0, 2.0]),
        (lambda t: t / t, [0.0, 2.0]),
        (lambda t: t ** (t * 0.5), [-2.0, -1.0, 0.0]),  # negative base, fractional exponent: nan
    ],
    ids=["sqrt", "log", "rdiv", "div", "pow"],
)
def test_singular_derivatives_are_inf_or_nan_as_in_numpy(fn, x):
    # The Scalar rules run on Python floats; they must give NumPy's inf/nan, not raise
    # ZeroDivisionError or return complex numbers.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        check_backends(fn, np.array(x), order=2)
    a = Scalar(0.0)
    a.sqrt().backward()
    assert a.grad == math.inf


def _num_grad(f, xs, i, eps=1e-6):
    """Central difference of f (a function of floats) in its i-th argument."""
    up, down = list(xs), list(xs)
    up[i] += eps
    down[i] -= eps
    return (f(*up) - f(*down)) / (2 * eps)


# each: a function of two Scalars (or floats, for the numeric derivative), and a point
EXPRESSIONS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow_number": lambda a, b: a**3 + b**-1.5,
    "pow_scalar": lambda a, b: a**b,
    "neg": lambda a, b: -a * b,
    "radd": lambda a, b: 2 + a + 0.5 * b,
    "rsub": lambda a, b: 1 - a - (3 - b),
    "rmul": lambda a, b: 2 * a * b,
    "rdiv": lambda a, b: 2 / a + 1 / b,
    "rpow": lambda a, b: 2**a + 3**b,
    "mixed": lambda a, b: (a * b + a.tanh()) ** 2 if isinstance(a, Scalar) else (a * b + math.tanh(a)) ** 2,
}


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_operators_values_and_gradients(name):
    f = EXPRESSIONS[name]
    xs = [1.3, 0.7]
    a, b = Scalar(xs[0], label="a"), Scalar(xs[1], label="b")
    out = f(a, b)
    assert isinstance(out, Scalar) and isinstance(out.data, float)
    assert out.data == pytest.approx(f(*xs), rel=1e-12)
    out.backward()
    assert isinstance(a.grad, float)
    assert a.grad == pytest.approx(_num_grad(f, xs, 0), rel=1e-6)
    assert b.grad == pytest.approx(_num_grad(f, xs, 1), rel=1e-6)


METHODS = {
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "tanh": math.tanh,
    "sigmoid": lambda x: 1 / (1 + math.exp(-x)),
    "relu": lambda x: max(x, 0.0),
    "abs": abs,
    "sin": math.sin,
    "cos": math.cos,
}


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("x", [0.8, -0.6])
def test_methods_and_numpy_ufuncs_on_object_arrays(name, x):
    ref = METHODS[name]
    if name in ("log", "sqrt") and x < 0:
        x = -x
    a = Scalar(x)
    out = getattr(a, name)()
    assert out.data == pytest.approx(ref(x), rel=1e-12)
    assert out.op and out.parents == (a,)
    out.backward()
    assert a.grad == pytest.approx(_num_grad(ref, [x], 0), rel=1e-6, abs=1e-9)
    if name not in ("relu", "sigmoid"):  # NumPy's ufuncs call the method of the same name
        arr = np.array([Scalar(x), Scalar(x / 2)], dtype=object)
        res = getattr(np, "absolute" if name == "abs" else name)(arr)
        assert all(isinstance(r, Scalar) for r in res)
        assert res[0].data == pytest.approx(ref(x), rel=1e-12)
    assert abs(Scalar(-2.0)).data == 2.0


def test_comparisons_compare_values_and_return_bool():
    a, b = Scalar(1.0), Scalar(2.0)
    results = [a < b, a <= b, a > b, a >= b, a < 3, 3 > a, a >= 1.0, 0.5 <= a]
    assert results == [True, True, False, False, True, True, True, True]
    assert all(type(r) is bool for r in results)
    assert a.is_leaf and b.grad == 0.0  # no graph was recorded


def test_op_and_parents_in_operand_order():
    a, b = Scalar(2.0, label="a"), Scalar(-3.0, label="b")
    assert a.op == "" and a.parents == () and a.label == "a"
    prod, diff, quot, power = a * b, a - b, b / a, a**b
    assert prod.parents == (a, b) and diff.parents == (a, b) and quot.parents == (b, a)
    assert power.parents == (a, b)
    r = 1 - a
    assert len(r.parents) == 2 and r.parents[1] is a and r.parents[0].data == 1.0
    assert (2 * a).parents[1] is a
    ops = {prod.op, diff.op, quot.op, power.op, a.tanh().op, a.exp().op, (-a).op}
    assert len(ops) == 7 and all(isinstance(o, str) and o for o in ops)
    assert prod._op == prod.op and prod._prev == prod.parents  # micrograd's names


def test_bad_data_raises_type_error():
    with pytest.raises(TypeError, match="Scalar"):
        Scalar("1.0")
    with pytest.raises(TypeError):
        Scalar(1.0) + "x"


def test_backward_accumulates_over_every_path_and_call():
    a = Scalar(3.0)
    y = a * a + a  # dy/da = 2a + 1 = 7
    y.backward()
    assert a.grad == 7.0
    z = a * 2.0
    z.backward()
    assert a.grad == 9.0


def test_million_node_chain_has_no_recursion_error():
    x = Scalar(1.5)
    y = x
    for _ in range(1_000_000):
        y = -y
    y.backward()
    assert y.data == 1.5 and x.grad == 1.0


def test_second_backward_needs_retain_graph():
    a = Scalar(2.0)
    y = a * a
    y.backward(retain_graph=True)
    y.backward()
    assert a.grad == 8.0
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_create_graph_gives_differentiable_gradients():
    a = Scalar(1.5)
    y = a**3 + a.sin()
    y.backward(create_graph=True)
    g = a.grad  # 3a² + cos a, a Scalar
    assert isinstance(g, Scalar)
    assert g.data == pytest.approx(3 * 1.5**2 + math.cos(1.5))
    a.grad = 0.0
    g.backward()
    assert a.grad == pytest.approx(6 * 1.5 - math.sin(1.5))


# --- micrograd's nn.py, verbatim apart from `Value = Scalar` ---------------------------------

Value = Scalar


class Module:
    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0

    def parameters(self):
        return []


class Neuron(Module):
    def __init__(self, nin, rng, nonlin=True):
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.tanh() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class Layer(Module):
    def __init__(self, nin, nout, rng, **kwargs):
        self.neurons = [Neuron(nin, rng, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP(Module):
    def __init__(self, nin, nouts, rng):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i + 1], rng, nonlin=i != len(nouts) - 1) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def test_micrograd_program_runs_unchanged_and_its_gradients_are_right():
    rng = np.random.default_rng(0)
    model = MLP(3, [4, 4, 1], rng)
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]

    def loss_fn():
        ypred = [model(x) for x in xs]
        return sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred)) * (1.0 / len(xs))

    loss = loss_fn()
    model.zero_grad()
    loss.backward()
    params = model.parameters()
    assert len(params) == 4 * 4 + 4 * 5 + 5
    for p in params[::3]:  # finite differences on every third parameter
        old = p.data
        p.data = old + 1e-6
        up = loss_fn().data
        p.data = old - 1e-6
        down = loss_fn().data
        p.data = old
        assert p.grad == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-8)
    first = loss.data
    for _ in range(20):  # micrograd's training loop
        loss = loss_fn()
        model.zero_grad()
        loss.backward()
        for p in params:
            p.data += -0.05 * p.grad
    assert loss.data < first


def test_zero_base_power_has_zero_exponent_derivative():
    # d(0^x)/dx = 0^x log 0 is 0 * -inf; taken as 0, as for a Tensor base (PyTorch's choice)
    a = Scalar(2.0)
    (0**a).backward()
    assert a.grad == 0.0
    check_backends(lambda t: 0.0**t, np.array([2.0, 0.5, 0.0]))


def _random_graph(seed):
    """A random expression over four leaves using every kind of op, and its leaves."""
    rng = np.random.default_rng(seed)
    leaves = [Scalar(v) for v in rng.uniform(0.5, 1.5, 4)]
    pool = list(leaves)
    for _ in range(40):
        a, b = (pool[i] for i in rng.integers(0, len(pool), 2))
        pick = rng.integers(0, 9)
        node = [a + b, a * b, a - b, a / (b * b + 1), (a * 0.5).tanh(), a.sigmoid() * b, a ** 2,
                a.relu() + b.exp() * 0.01, Scalar.max(a, b, a * 0.9)][pick]
        pool.append(node.tanh() if abs(node.data) > 2 else node)  # keep values, and gradients, finite
    return pool[-1] + pool[-2] * pool[-3], leaves


def test_the_inlined_and_the_stepped_paths_of_backward_agree_exactly():
    # backward() of a fresh graph inlines + and * and sums gradients in .grad itself; anomaly mode
    # runs every node through the step function; a second pass over a retained graph sets the
    # inner nodes' gradients aside first. Same rules, same order: the same floats.
    import autodiff as ad

    for seed in range(20):
        (r1, l1), (r2, l2) = _random_graph(seed), _random_graph(seed)
        r1.backward(retain_graph=True)
        with ad.detect_anomaly():
            r2.backward()
        assert all(math.isfinite(x.grad) for x in l1)
        assert [x.grad for x in l1] == [x.grad for x in l2]
        r1.backward()  # second pass: inner nodes hold gradients; twice the first
        assert [x.grad for x in l1] == [2 * x.grad for x in l2]


def test_max_and_min_as_methods_and_functions_and_their_errors():
    # max/min were staticmethods: a.max(b) silently dropped a
    assert Scalar(5.0).max(Scalar(1.0)).data == 5.0 and Scalar(3.0).min(1.0).data == 1.0
    assert Scalar.max(Scalar(1.0), 4, Scalar(2.0)).data == 4.0
    with pytest.raises(TypeError, match="Scalar.max: operands must be Scalars or real numbers, got str"):
        Scalar.max(Scalar(1.0), "x")


def test_edges_follow_numpy_sin_cos_of_inf_and_relu_of_nan():
    inf = Scalar(float("inf"))
    assert math.isnan(inf.sin().data) and math.isnan(inf.cos().data)  # math.sin raised
    assert math.isnan(Scalar(float("nan")).relu().data)  # np.maximum(nan, 0) is nan
    assert Scalar(-1.0).relu().data == 0.0


def test_backward_with_gradient_none_seeds_one():
    x = Scalar(0.5)
    y = x.exp()
    y.backward(None)
    assert x.grad == pytest.approx(math.exp(0.5))
