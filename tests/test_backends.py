"""The two back ends agree (issue 3): hypothesis draws random programs, compositions of 3-6 ops on
broadcastable inputs, and ``check_backends`` compares values, first and second derivatives to
1e-10. Also: mixing back ends is an error that names both, and the checker catches disagreement."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
from autodiff._engine import Op
from autodiff.ops.padding import MODES
from autodiff.testing import check_backends, finite_floats

MAX_SIZE = 60  # elements per intermediate value


def _bcast(*shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        return None


def _axis(d, x):
    return d(st.integers(-x.ndim, x.ndim - 1)) if x.ndim else None


def _axes(d, x):  # None, an int or a tuple, as the reductions take
    if not x.ndim:
        return None
    return d(st.one_of(st.integers(-x.ndim, x.ndim - 1),  # hypothesis favours the first choice
                       st.lists(st.integers(0, x.ndim - 1), min_size=1, unique=True).map(tuple), st.none()))


def _count(x, axis):
    return x.size if axis is None else int(np.prod([x.shape[a] for a in np.atleast_1d(axis)]))


def _unsaturated(x, axis):
    """{"axis": axis} unless the values spread more than 20 along it: there the smallest
    probabilities are below e^-20, and the standard rule s·(g - <g, s>) loses about 1e-16/p of
    relative accuracy to cancellation, so the two back ends' second derivatives differ by more
    than these tests' 1e-10 while both are right to their rounding."""
    return {"axis": axis} if np.max(np.ptp(x, axis=axis), initial=0) <= 20 else None


# Each step: (arity, the op on Tensors or ndarrays, params(draw, *operand values) -> kw or None
# when the step does not apply to these operands). Smooth ops only: a kink could fall on
# different sides on the two back ends after rounding.
_always = lambda d, *xs: {}  # noqa: E731
STEPS = {
    "tanh": (1, ad.tanh, _always),
    "sin": (1, ad.sin, _always),
    "cos": (1, lambda x: x.cos() if isinstance(x, ad.Tensor) else np.cos(x), _always),
    "sigmoid": (1, ad.sigmoid, _always),
    "softplus": (1, ad.softplus, _always),
    "exp": (1, ad.exp, lambda d, x: {} if np.max(x, initial=0) < 5 else None),
    "log": (1, ad.log, lambda d, x: {} if np.min(x, initial=1) > 0.1 else None),
    "sqrt": (1, ad.sqrt, lambda d, x: {} if np.min(x, initial=1) > 0.1 else None),
    "square": (1, lambda x: x * x, _always),
    "cube": (1, lambda x: x**3, lambda d, x: {} if np.max(np.abs(x), initial=0) < 5 else None),
    "pow1.5": (1, lambda x: x**1.5, lambda d, x: {} if np.min(x, initial=1) > 0.1 else None),
    "rdiv": (1, lambda x: 1.0 / x, lambda d, x: {} if np.min(np.abs(x), initial=1) > 0.2 else None),
    "neg": (1, lambda x: -x, _always),
    "add": (2, lambda a, b: a + b, lambda d, a, b: {} if _bcast(a.shape, b.shape) is not None else None),
    "sub": (2, lambda a, b: a - b, lambda d, a, b: {} if _bcast(a.shape, b.shape) is not None else None),
    "mul": (2, lambda a, b: a * b, lambda d, a, b: {} if _bcast(a.shape, b.shape) is not None else None),
    "div": (2, lambda a, b: a / b,
            lambda d, a, b: {} if _bcast(a.shape, b.shape) is not None and np.min(np.abs(b), initial=1) > 0.2 else None),
    "pow": (2, lambda a, b: a**b, lambda d, a, b: {} if _bcast(a.shape, b.shape) is not None
            and np.min(a, initial=1) > 0.1 and np.max(np.abs(b), initial=0) < 3 else None),
    "sum": (1, lambda x, axis, keepdims: ad.sum(x, axis, keepdims), lambda d, x: {"axis": _axes(d, x), "keepdims": d(st.booleans())}),
    "mean": (1, lambda x, axis, keepdims: ad.mean(x, axis, keepdims), lambda d, x: {"axis": _axes(d, x), "keepdims": d(st.booleans())}),
    "var": (1, lambda x, axis: ad.var(x, axis), lambda d, x: (lambda a: {"axis": a} if _count(x, a) > 1 else None)(_axes(d, x))),
    "logsumexp": (1, lambda x, axis: ad.logsumexp(x, axis), lambda d, x: _unsaturated(x, _axes(d, x))),
    "softmax": (1, lambda x, axis: ad.softmax(x, axis), lambda d, x: _unsaturated(x, _axis(d, x)) if x.ndim else None),
    "log_softmax": (1, lambda x, axis: ad.log_softmax(x, axis), lambda d, x: _unsaturated(x, _axis(d, x)) if x.ndim else None),
    "transpose": (1, lambda x: ad.transpose(x), _always),
    "reshape": (1, lambda x, shape: ad.reshape(x, shape), lambda d, x: {"shape": d(st.sampled_from([(-1,), x.shape[::-1], (1,) + x.shape]))}),
    "unsqueeze": (1, lambda x, axis: ad.unsqueeze(x, axis), lambda d, x: {"axis": d(st.integers(0, x.ndim))} if x.ndim < 4 else None),
    "take": (1, lambda x, index: x[index], lambda d, x: {"index": np.array(d(st.lists(st.integers(-len(x), len(x) - 1), min_size=1, max_size=4)))} if x.ndim else None),
    "slice": (1, lambda x, index: x[index], lambda d, x: {"index": (Ellipsis, slice(None, None, -2))} if x.ndim else None),
    "pad": (1, lambda x, mode: ad.pad(x, 1, mode), lambda d, x: {"mode": d(st.sampled_from(MODES))} if 0 < x.ndim <= 2 and min(x.shape) >= 2 else None),
    "where": (2, lambda a, b, cond: ad.where(cond, a, b), lambda d, a, b: (lambda s: None if s is None else {"cond": d(hnp.arrays(bool, s))})(_bcast(a.shape, b.shape))),
    "concatenate": (2, lambda a, b, axis: ad.concatenate([a, b], axis), lambda d, a, b: {"axis": 0} if a.ndim and a.ndim == b.ndim and a.shape[1:] == b.shape[1:] else None),
    "stack": (2, lambda a, b: ad.stack([a, b], -1), lambda d, a, b: {} if a.shape == b.shape and a.ndim < 3 else None),
    "matmul": (2, lambda a, b: a @ b, lambda d, a, b: {} if a.ndim and b.ndim and _matmul_ok(a, b) else None),
}


def _matmul_ok(a, b):
    try:
        np.matmul(np.zeros(a.shape), np.zeros(b.shape))  # (np.empty could hold inf and warn)
        return True
    except ValueError:
        return False


@dataclass
class Program:
    """A straight-line program: slot k holds an input or the result of one step on earlier slots."""

    inputs: list = field(default_factory=list)  # ndarrays
    steps: list = field(default_factory=list)  # ("input", k) or (op name, operand slots, kw)

    def __call__(self, *args):
        slots = []
        for step in self.steps:
            if step[0] == "input":
                slots.append(args[step[1]])
            else:
                name, operands, kw = step
                slots.append(STEPS[name][1](*(slots[i] for i in operands), **kw))
        return slots[-1]

    def __repr__(self):
        lines = []
        for k, step in enumerate(self.steps):
            if step[0] == "input":
                lines.append(f"v{k} = input {step[1]}, shape {self.inputs[step[1]].shape}")
            else:
                name, operands, kw = step
                args = ", ".join([f"v{i}" for i in operands] + [f"{a}={v!r}" for a, v in kw.items()])
                lines.append(f"v{k} = {name}({args})")
        return "Program:\n  " + "\n  ".join(lines)


def _array(d, shape):
    return d(hnp.arrays(np.float64, shape, elements=finite_floats(-2, 2)))


@st.composite
def programs(d, min_ops=3, max_ops=6):
    prog = Program()
    values = []  # the value of every slot, computed on ndarrays as the program is drawn
    first = d(hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
    others = [d(hnp.broadcastable_shapes(first, min_dims=0, max_dims=3, min_side=1)) for _ in range(d(st.integers(0, 2)))]
    for shape in [first] + others:
        prog.inputs.append(_array(d, shape))
        prog.steps.append(("input", len(prog.inputs) - 1))
        values.append(prog.inputs[-1])
    # The op sequence comes from a generator seeded by a drawn list: hypothesis's own choices
    # favour the first option and repeat earlier programs, while these tests need variety.
    # Shapes, values and parameters are drawn by hypothesis (and shrink).
    rng = np.random.default_rng(d(st.lists(st.integers(0, 255), min_size=8, max_size=8), label="op seed"))
    n_ops = int(rng.integers(min_ops, max_ops + 1))
    for _ in range(60):
        if not n_ops:
            break
        name = str(rng.choice(sorted(STEPS)))
        arity, fn, params = STEPS[name]
        # mostly the latest value, so programs compose deeply rather than widely
        operands = [len(values) - 1] + [int(rng.integers(len(values))) for _ in range(arity - 1)]
        if rng.random() < 0.5:
            operands = operands[::-1]
        if name == "matmul" and rng.random() < 0.5:  # a fresh weight matrix as the second operand
            a = values[operands[0]]
            if not a.ndim:
                continue
            prog.inputs.append(_array(d, (a.shape[-1], int(rng.integers(1, 4)))))
            prog.steps.append(("input", len(prog.inputs) - 1))
            values.append(prog.inputs[-1])
            operands = [operands[0], len(values) - 1]
        kw = params(d, *(values[i] for i in operands))
        if kw is None:
            continue
        out = np.asarray(fn(*(values[i] for i in operands), **kw))
        if out.size > MAX_SIZE or not np.all(np.isfinite(out)) or np.max(np.abs(out), initial=0) > 1e6:
            continue
        prog.steps.append((name, tuple(operands), kw))
        values.append(out)
        n_ops -= 1
    assume(n_ops == 0 and prog.steps[-1][0] != "input")
    return prog


@settings(max_examples=8 * settings().max_examples)
@given(programs())
def test_random_programs_agree_on_both_backends(prog):
    check_backends(prog, *prog.inputs, rtol=1e-10, atol=1e-12, order=2)


def test_the_program_generator_composes_several_and_varied_ops():
    # guards against a generator that silently degenerates to trivial programs
    seen, inputs = set(), []

    @settings(max_examples=30, derandomize=True, database=None)
    @given(programs())
    def collect(prog):
        assert 3 <= sum(s[0] != "input" for s in prog.steps) <= 6
        seen.update(s[0] for s in prog.steps)
        inputs.extend(x.size for x in prog.inputs)

    collect()
    assert len(seen) > len(STEPS) // 2 and max(inputs) > 20


# --- mixing back ends ---------------------------------------------------------------------------

MIXED = {
    "add": lambda n, s: n + s,
    "mul": lambda n, s: s * n,
    "matmul": lambda n, s: n @ s,
    "concatenate": lambda n, s: ad.concatenate([n, s]),
    "where": lambda n, s: ad.where(np.array([True, False]), n, s),
    "maximum": lambda n, s: ad.maximum(n, s),
}


@pytest.mark.parametrize("op", MIXED)
def test_mixing_backends_raises_naming_both_and_the_op(op):
    n = ad.Tensor([1.0, 2.0], requires_grad=True)
    s = ad.Tensor([3.0, 4.0], backend="scalar")
    with pytest.raises(ValueError) as info:
        MIXED[op](n, s)
    msg = str(info.value)
    assert op in msg and "numpy" in msg and "scalar" in msg


def test_mixing_backends_in_backward_and_grad_raises():
    n = ad.Tensor([1.0, 2.0], requires_grad=True)
    s = ad.Tensor([3.0, 4.0], requires_grad=True, backend="scalar")
    with pytest.raises(ValueError, match="back end"):
        (n * 2).backward(ad.Tensor([1.0, 1.0], backend="scalar"))
    with pytest.raises(ValueError, match="back end"):
        ad.grad([(n * 2).sum(), (s * 2).sum()], [n])


# --- the checker finds disagreement -------------------------------------------------------------

_scaled = Op("scaled", lambda x: 2.0 * x, (lambda g, out, a: 2.0 * g * 1.0000001,))  # numpy rule slightly off
_frozen = Op("frozen", np.sin, (lambda g, out, a: g * np.cos(a.data if isinstance(a, ad.Tensor) else a),))


def test_check_backends_reports_values_gradients_and_second_derivatives():
    x = np.array([[0.5, -1.0]])
    with pytest.raises(AssertionError, match="value of output 0 .*1 of 2 elements differ.*numpy .*scalar"):
        check_backends(lambda t: t * (2.0 if t.backend == "numpy" else np.array([2.0, 2.0 + 1e-9])), x)
    with pytest.raises(AssertionError) as info:
        check_backends(_scaled, x)
    assert "gradient" in str(info.value) and "value" not in str(info.value) and "Op(scaled)" in str(info.value)
    check_backends(_frozen, x, order=1)
    with pytest.raises(AssertionError, match="second derivative .* for input 0"):
        check_backends(_frozen, x, order=2)
    with pytest.raises(AssertionError, match="raised on the scalar one"):
        check_backends(lambda t: t.exp() if t.backend == "numpy" else t.nonexistent(), x)


def test_check_backends_takes_tensors_constants_and_index_arrays():
    x = ad.Tensor([[1.0, 2.0], [3.0, 4.0]])  # no requires_grad: a constant, values only
    w = np.array([0.5, -0.5])
    check_backends(lambda x, w, i: (x @ w)[i].tanh(), x, w, np.array([1, 1, 0]))
    check_backends(lambda w: (w.sum(), w * w), w)  # several outputs


# Ops that move values: on the scalar back end their outputs could be the input's own Scalar
# nodes, and then a gradient with respect to the output would include paths that bypass it.
MOVERS = {
    "reshape": lambda x: x.reshape(3, 2),
    "transpose": lambda x: x.T,
    "broadcast_to": lambda x: x.broadcast_to((2, 2, 3)),
    "getitem_int": lambda x: x[1, 2],
    "getitem_repeats": lambda x: x[[0, 0, 1]],
    "getitem_mask": lambda x: x[np.array([[True, False, True], [False, True, True]])],
    "concatenate": lambda x: ad.concatenate([x, x], axis=1),
    "stack": lambda x: ad.stack([x, x]),
    "pad": lambda x: x.pad(1, "mirror"),
    "where": lambda x: ad.where(np.array([True, False, True]), x, 0.0),
    "clip": lambda x: x.clip(-10.0, 10.0),
    "astype": lambda x: x.astype(np.float64),
    "sum_one": lambda x: x[:, :1].sum(axis=1),
    "squeeze": lambda x: x[None].squeeze(0),
}


@pytest.mark.parametrize("name", MOVERS)
def test_grad_with_respect_to_an_intermediate_counts_only_paths_through_it(name):
    grads = {}
    for backend in ad.BACKENDS:
        x = ad.Tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True, backend=backend)
        y = MOVERS[name](x)
        out = (y * y).sum() * 2.0 + (x * x * x).sum()  # x also reaches out directly
        gy, gx = ad.grad(out, [y, x])
        grads[backend] = gy.numpy(), gx.numpy()
        np.testing.assert_allclose(gy.numpy(), 4 * y.numpy())  # d out / d y, y held as a variable
    for a, b in zip(grads["numpy"], grads["scalar"]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("shapes", [((2, 0), (0, 3)), ((0,), (0,)), ((2, 1, 0), (0,))])
def test_matmul_with_an_empty_inner_axis_gives_zeros_on_both_backends(shapes):
    a, b = (np.ones(s) for s in shapes)
    check_backends(lambda a, b: (a @ b) * 2.0, a, b)
    out = ad.Tensor(a, backend="scalar") @ ad.Tensor(b, backend="scalar")
    np.testing.assert_array_equal(out.numpy(), np.matmul(a, b))


def test_a_leaf_that_reaches_the_output_with_no_value_gets_zeros_on_both_back_ends():
    # where() picks none of x: x is in the graph, its gradient is zeros (None only for a leaf
    # the output does not reach at all), on the scalar back end as on the NumPy one.
    for backend in ad.BACKENDS:
        x = ad.Tensor([1.0, 2.0], requires_grad=True, backend=backend)
        w = ad.Tensor([3.0], requires_grad=True, backend=backend)
        ad.where(np.array([False, False]), x, ad.Tensor([0.0, 0.0], backend=backend)).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
        gx, gw = ad.grad((w * 2).sum(), [x, w], allow_unused=True)
        assert gx is None and gw.item() == 2.0
        (g,) = ad.grad((x * w).sum(), [x], create_graph=True)  # g = w: it does not depend on x
        gx, gw = ad.grad(g.sum(), [x, w], allow_unused=True)
        assert gx is None and gw.item() == 2.0
        u = ad.Tensor([5.0, 6.0], requires_grad=True, backend=backend)  # beside such a gradient
        (gx,) = ad.grad((x * x).sum(), x, create_graph=True)
        (gx.sum() + ad.where(np.array([False, False]), u, ad.Tensor([0.0, 0.0], backend=backend)).sum()).backward()
        np.testing.assert_array_equal(u.grad.numpy(), [0.0, 0.0])
        e = ad.Tensor(np.zeros(0), requires_grad=True, backend=backend)  # empty, behind one
        (gx,) = ad.grad((x * (x.sum() + e.sum())).sum(), x, create_graph=True)
        assert ad.grad(gx.sum(), [x, e], allow_unused=True)[1].shape == (0,)


@pytest.mark.parametrize("backend", ad.BACKENDS)
def test_max_min_and_max_pool_carry_nan_and_give_it_the_gradient(backend):
    # NaN propagates through max and min (as NumPy's), and the NaN inputs share the gradient (as
    # torch.max's full reduction does); the scalar back end skipped it in max and divided by zero.
    cases = [
        (lambda t: ad.max(t), [1.0, np.nan, 3.0], np.nan, [0.0, 1.0, 0.0]),
        (lambda t: ad.min(t), [np.nan, np.nan, 3.0], np.nan, [0.5, 0.5, 0.0]),
        (lambda t: ad.max(t, axis=1), [[1.0, np.nan], [2.0, 5.0]], [np.nan, 5.0], [[0.0, 1.0], [0.0, 1.0]]),
        (lambda t: ad.max_pool1d(t, 2), [[[1.0, np.nan, 3.0, 2.0]]], [[[np.nan, 3.0]]], [[[0.0, 1.0, 1.0, 0.0]]]),
    ]
    for f, x, want, grad in cases:
        t = ad.Tensor(np.array(x), requires_grad=True, backend=backend)
        with np.errstate(invalid="ignore"):
            out = f(t)
            out.backward(ad.Tensor(np.ones(out.shape), backend=backend))
        np.testing.assert_array_equal(out.numpy(), want)
        np.testing.assert_array_equal(t.grad.numpy(), grad)
