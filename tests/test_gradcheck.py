"""The checker itself (API.md §3): wrong derivatives fail with a readable report, kinks pass as
subgradients and are reported, float32 is checked in float64, bad Functions are named."""

import re
import warnings

import numpy as np
import pytest

import autodiff as ad
from autodiff import Op

BOTH = pytest.mark.parametrize("backend", ad.BACKENDS)


class Cube(ad.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g


class WrongCube(Cube):
    """x³ with the derivative 2x² instead of 3x²."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x**2 * g


# d(x²)/dx = 2x, but the rule says 3x
_bad_square = Op("bad_square", lambda x: x * x, (lambda g, out, a: 3 * g * a,))
# sin with a first derivative that is right in value but computed from constants, so its own
# derivative (the second derivative of sin) comes out 0 instead of -sin
_flat_sin = Op("flat_sin", np.sin, (lambda g, out, a: g * np.cos(a.data if isinstance(a, ad.Tensor) else a),))


def _numbers(text, label):
    return float(re.search(label + r" (\S+?),", text).group(1))


@BOTH
def test_wrong_function_backward_fails_and_the_message_says_where(backend):
    x = ad.Tensor([1.0, -2.0], requires_grad=True, backend=backend)
    with pytest.raises(ad.GradcheckError) as info:
        ad.gradcheck(WrongCube.apply, (x,))
    msg = str(info.value)
    assert "WrongCube" in msg
    # worst entry first: element 1, analytic 2·4 = 8 against numeric 3·4 = 12
    first = msg.splitlines()[1]
    assert "input 0" in first and "element (1,)" in first
    assert _numbers(first, "analytic") == pytest.approx(8.0)
    assert _numbers(first, "numeric") == pytest.approx(12.0, rel=1e-6)
    assert "error 4.00e+00" in first
    assert isinstance(info.value, AssertionError)


def test_wrong_op_rule_fails_naming_the_op_the_input_and_the_element():
    a = ad.Tensor([1.0, 2.0], requires_grad=True)
    b = ad.Tensor([0.5], requires_grad=True)
    with pytest.raises(ad.GradcheckError) as info:
        ad.gradcheck(lambda a, b: a + _bad_square(b), (a, b))
    msg = str(info.value)
    assert "test_wrong_op_rule" in msg  # the function checked
    assert "input 1 (shape (1,)) element (0,)" in msg  # b is wrong, a is right
    assert "input 0" not in msg
    assert _numbers(msg, "analytic") == pytest.approx(1.5) and _numbers(msg, "numeric") == pytest.approx(1.0)
    with pytest.raises(ad.GradcheckError, match="bad_square"):
        ad.gradcheck(_bad_square, (b,))


def test_raise_exception_false_returns_false_and_a_right_rule_returns_true():
    x = ad.Tensor([0.3, 0.7], requires_grad=True)
    assert ad.gradcheck(WrongCube.apply, (x,), raise_exception=False) is False
    assert ad.gradcheck(Cube.apply, (x,)) is True
    assert ad.gradgradcheck(_flat_sin, (x,), raise_exception=False) is False


def test_gradgradcheck_catches_a_first_derivative_that_is_not_differentiable():
    x = ad.Tensor([0.3, 1.2], requires_grad=True)
    assert ad.gradcheck(_flat_sin, (x,))  # first order is right
    with pytest.raises(ad.GradcheckError, match="first derivative of Op\\(flat_sin\\)"):
        ad.gradgradcheck(_flat_sin, (x,))
    assert ad.gradgradcheck(ad.sin, (x,))


@BOTH
@pytest.mark.parametrize(
    "fn, x, kinks",
    [
        (ad.relu, [0.0, 1.0], {(0,)}),  # relu at 0: one-sided slopes 0 and 1, relu'(0) = 0
        (ad.abs, [0.0, -1.0], {(0,)}),  # abs at 0: slopes -1 and 1, the central slope 0 equals abs'(0)
        (lambda t: t.max(), [1.0, 1.0, 1.0, 0.0], {(0,), (1,), (2,)}),  # 3-way tie: 1/3 each, central 1/2
        (lambda t: ad.maximum(t, 1.0), [1.0, 2.0], {(0,)}),  # tie with a constant: 1/2
    ],
    ids=["relu", "abs", "max_tie", "maximum_tie"],
)
def test_kinks_are_accepted_and_reported(backend, fn, x, kinks):
    t = ad.Tensor(x, requires_grad=True, backend=backend)
    with pytest.warns(ad.GradcheckKinkWarning, match="kink.*element \\(0,\\).*one-sided slopes"):
        assert ad.gradcheck(fn, (t,))
    report = ad.gradcheck_report(fn, (t,))
    assert report.passed and report.kinks
    assert {k.element for k in report.kinks} == kinks


def test_a_wrong_value_at_a_kink_still_fails():
    # relu's derivative at 0 given as 2: outside [0, 1], so not a subgradient
    bad_relu = Op("bad_relu", lambda x: np.maximum(x, 0), (lambda g, out, a: g * 2.0,))
    t = ad.Tensor([0.0], requires_grad=True)
    with pytest.raises(ad.GradcheckError, match="one-sided slopes 0.000000e\\+00 and 1.000000e\\+00"):
        ad.gradcheck(bad_relu, (t,))


def test_smooth_functions_report_no_kinks():
    t = ad.Tensor(np.linspace(0.1, 3, 7), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ad.gradcheck(lambda x: ad.log(x) * ad.exp(-x) / x, (t,))


def test_float32_inputs_are_checked_in_float64():
    # In float32, central differences with eps=1e-6 are pure rounding noise; in float64 they
    # agree with the derivative far below these tolerances.
    x = ad.Tensor(np.array([0.5, 1.5], dtype=np.float32), requires_grad=True)
    assert ad.gradcheck(ad.exp, (x,), atol=1e-8, rtol=1e-7)
    assert x.dtype == np.float32 and x.grad is None  # the user's Tensor is untouched
    with pytest.raises(ad.GradcheckError):
        ad.gradcheck(WrongCube.apply, (x,))


def test_the_whole_jacobian_of_several_outputs_is_checked():
    wrong_second = lambda x: (x * 2.0, _bad_square(x))  # noqa: E731
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ad.GradcheckError, match="output 1 element \\(1,\\)"):
        ad.gradcheck(wrong_second, (x,))
    assert ad.gradcheck(lambda x: (x * 2.0, x.sum()), (x,))


def test_only_inputs_that_require_grad_are_checked():
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    c = ad.Tensor([0.5])  # a constant: its wrong derivative is never asked for
    assert ad.gradcheck(lambda x, c: x * 3.0 + _bad_square(c), (x, c))
    with pytest.raises(TypeError, match="Tensor or a tuple"):
        ad.gradcheck(lambda x: 3.0, (x,))
    with pytest.raises(ValueError, match="no floating-point Tensor"):
        ad.gradcheck(lambda i: i, (ad.Tensor(np.arange(3)),))


class TooMany(ad.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, g):
        return g * 2.0, g


class WrongShape(ad.Function):
    @staticmethod
    def forward(ctx, x):
        return x.sum()

    @staticmethod
    def backward(ctx, g):
        return g  # should be broadcast to x's shape


@BOTH
@pytest.mark.parametrize("cls, what", [(TooMany, "returned 2 gradient"), (WrongShape, "shape \\(\\)")])
def test_function_with_wrong_gradients_raises_naming_it(backend, cls, what):
    x = ad.Tensor([1.0, 2.0, 3.0], requires_grad=True, backend=backend)
    with pytest.raises(ValueError, match=f"{cls.__name__}.*{what}"):
        cls.apply(x).sum().backward()
    with pytest.raises(ValueError, match=cls.__name__):
        ad.gradcheck(cls.apply, (x,))


@BOTH
def test_function_needs_input_grad_and_create_graph(backend):
    seen = []

    class Scale(ad.Function):
        @staticmethod
        def forward(ctx, x, y):
            seen.append(ctx.needs_input_grad)
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y, g * x

    x = ad.Tensor([1.0, 2.0], requires_grad=True, backend=backend)
    y = ad.Tensor([3.0, 4.0], backend=backend)
    assert ad.gradcheck(Scale.apply, (x, y))
    assert seen[0] == (True, False)
    assert ad.gradgradcheck(lambda x: Cube.apply(x), (x,))
