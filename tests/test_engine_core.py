"""Engine defects of issue #12, pinned against independent references (NumPy closed forms,
finite differences, the other back end, values worked out by hand): create_graph on the README's
loss, detect_anomaly under create_graph, gradients with respect to Tensors holding constants
(pad, where) on the scalar back end, zero gradients that must not be skipped (0 * inf = nan),
IEEE corner values of Scalar, Scalar operands in numpy-back-end ops, subclasses of Scalar, and
the release of a graph's activations after backward."""

from __future__ import annotations

import gc
import math
import warnings
import weakref

import numpy as np
import pytest

import autodiff as ad

BOTH = pytest.mark.parametrize("backend", ad.BACKENDS)


def T(x, backend, rg=True):
    return ad.Tensor(np.asarray(x, dtype=np.float64), requires_grad=rg, backend=backend)


# --- 1. create_graph on the README's own loss -------------------------------------------------

_RNG = np.random.default_rng(12)
X0 = _RNG.standard_normal((4, 3))
W0 = _RNG.standard_normal((3, 2))
U0 = _RNG.standard_normal((4, 2))  # a cotangent for the non-scalar log_softmax output
LABELS = [0, 1, 0, 1]


def _readme_loss(x, W):
    return -ad.log_softmax(x @ W, axis=-1)[np.arange(4), LABELS].mean()


def _softmax_np(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _loss_grad_np(W):
    """d loss / dW in closed form: x.T @ (softmax(xW) - onehot) / N."""
    onehot = np.eye(2)[LABELS]
    return X0.T @ (_softmax_np(X0 @ W) - onehot) / len(LABELS)


def _vjp_grad_np(W, U=U0):
    """d <U, log_softmax(xW)> / dW in closed form: x.T @ (U - softmax(xW) * U.sum(-1))."""
    return X0.T @ (U - _softmax_np(X0 @ W) * U.sum(axis=-1, keepdims=True))


def _hvp_fd(grad_fn, W, v, eps=1e-5):
    """Central differences of a first-order gradient along v: H v."""
    return (grad_fn(W + eps * v) - grad_fn(W - eps * v)) / (2 * eps)


@BOTH
def test_readme_loss_backward_with_create_graph_gives_the_first_order_gradient(backend):
    x, W = T(X0, backend, rg=False), T(W0, backend)
    _readme_loss(x, W).backward(create_graph=True)  # numpy back end: TypeError in log_softmax's rule
    np.testing.assert_allclose(W.grad.numpy(), _loss_grad_np(W0), rtol=1e-10, atol=1e-12)
    assert W.grad.requires_grad  # recorded: differentiable again
    # d/dW |dL/dW|² = 2 H g, against central differences of the closed-form gradient
    (hv,) = ad.grad((W.grad**2).sum(), W)
    g0 = _loss_grad_np(W0)
    np.testing.assert_allclose(hv.numpy(), 2 * _hvp_fd(_loss_grad_np, W0, g0), rtol=1e-6, atol=1e-9)


@BOTH
def test_readme_loss_grad_with_create_graph_and_its_second_derivative(backend):
    x, W = T(X0, backend, rg=False), T(W0, backend)
    (gW,) = ad.grad(_readme_loss(x, W), W, create_graph=True)
    np.testing.assert_allclose(gW.numpy(), _loss_grad_np(W0), rtol=1e-10, atol=1e-12)
    assert W.grad is None  # ad.grad leaves .grad alone
    (hv,) = ad.grad((gW**2).sum(), W)
    g0 = _loss_grad_np(W0)
    np.testing.assert_allclose(hv.numpy(), 2 * _hvp_fd(_loss_grad_np, W0, g0), rtol=1e-6, atol=1e-9)


@BOTH
def test_readme_log_softmax_grad_with_ndarray_grad_outputs_and_create_graph(backend):
    x, W = T(X0, backend, rg=False), T(W0, backend)
    logp = ad.log_softmax(x @ W, axis=-1)  # not a scalar: grad_outputs is an ndarray
    (gW,) = ad.grad(logp, W, grad_outputs=U0, create_graph=True)
    np.testing.assert_allclose(gW.numpy(), _vjp_grad_np(W0), rtol=1e-10, atol=1e-12)
    (hv,) = ad.grad((gW**2).sum(), W)
    g0 = _vjp_grad_np(W0)
    np.testing.assert_allclose(hv.numpy(), 2 * _hvp_fd(_vjp_grad_np, W0, g0), rtol=1e-6, atol=1e-9)


# --- 2. detect_anomaly with create_graph ------------------------------------------------------


@BOTH
def test_detect_anomaly_allows_create_graph(backend):
    x = T([0.5, -1.0], backend)
    with ad.detect_anomaly():  # numpy back end today: AttributeError 'memoryview' ... 'dtype'
        (x * x).sum().backward(create_graph=True)
        np.testing.assert_allclose(x.grad.numpy(), [1.0, -2.0])  # 2x
        (gg,) = ad.grad(x.grad.sum(), x)  # d/dx sum(2x) = 2
        np.testing.assert_allclose(gg.numpy(), [2.0, 2.0])
        (g,) = ad.grad((x**3).sum(), x, create_graph=True)  # 3x²
        (h,) = ad.grad(g.sum(), x)  # 6x
        np.testing.assert_allclose(h.numpy(), [3.0, -6.0])


@BOTH
@pytest.mark.parametrize("create_graph", [False, True])
def test_detect_anomaly_names_the_op_of_a_nan_or_inf_in_backward(backend, create_graph):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        with ad.detect_anomaly():
            # sqrt at 0: finite forward, d/dx = 1/(2·0) = inf
            x = T([0.0, 4.0], backend)
            with pytest.raises(FloatingPointError, match="sqrt"):
                x.sqrt().sum().backward(create_graph=create_graph)
            # a NaN: the gradient reaching sqrt is 0, and 0/(2·0) = nan
            x = T([0.0, 4.0], backend)
            with pytest.raises(FloatingPointError, match="sqrt"):
                (x.sqrt() * 0.0).sum().backward(create_graph=create_graph)
            if create_graph:
                # the backward graph itself: d/dx (1.5 x^0.5) = 0.75 x^-0.5 = inf at 0
                x = T([0.0, 4.0], backend)
                (g,) = ad.grad((x**1.5).sum(), x, create_graph=True)  # 1.5 sqrt(x): finite
                with pytest.raises(FloatingPointError):
                    g.sum().backward()


# --- 3. gradients with respect to a Tensor holding constants (pad, where) ---------------------

X3 = np.array([1.0, -2.0, -3.0])  # two negative entries: where() puts its constant in two cells
W5 = np.arange(1.0, 6.0)
COND5 = np.array([True, False, False, True, False])
X5 = np.array([1.0, -2.0, 3.0, 4.0, -5.0])

_NUMPY_PAD = {"zero": "constant", "replicate": "edge", "mirror": "reflect", "symmetric": "symmetric", "circular": "wrap"}
W15 = np.arange(1.0, 16.0).reshape(3, 5)

# name -> (builder(x Tensor) -> intermediate y, the same on ndarrays with NumPy, x values,
# weights c): out = sum(y * c), so d out / d y = c exactly, cell by cell, whatever y holds
CONSTANT_CELLS = {
    **{f"pad_{m}": (lambda x, m=m: x.pad(1, m), lambda v, m=m: np.pad(v, 1, mode=_NUMPY_PAD[m]), X3, W5)
       for m in ("zero", "replicate", "mirror", "symmetric", "circular")},
    "pad_zero_default": (lambda x: x.pad(1), lambda v: np.pad(v, 1), X3, W5),
    "pad_zero_lo_hi": (lambda x: x.pad(((2, 1),)), lambda v: np.pad(v, ((2, 1),)), X3, np.arange(1.0, 7.0)),
    "pad_zero_2d": (lambda x: x.reshape(1, 3).pad(1), lambda v: np.pad(v.reshape(1, 3), 1), X3, W15),
    "pad_replicate_2d": (lambda x: x.reshape(1, 3).pad(1, "replicate"),
                         lambda v: np.pad(v.reshape(1, 3), 1, mode="edge"), X3, W15),
    "where_x_0": (lambda x: ad.where(x > 0, x, 0.0), lambda v: np.where(X3 > 0, v, 0.0), X3, np.arange(1.0, 4.0)),
    "where_x_float": (lambda x: ad.where(COND5, x, 0.0), lambda v: np.where(COND5, v, 0.0), X5, W5),
    "where_float_x": (lambda x: ad.where(COND5, 1.5, x), lambda v: np.where(COND5, 1.5, v), X5, W5),
    "where_x_array1": (lambda x: ad.where(COND5, x, np.array([7.0])), lambda v: np.where(COND5, v, 7.0), X5, W5),
    "where_array1_x": (lambda x: ad.where(COND5, np.array([7.0]), x), lambda v: np.where(COND5, 7.0, v), X5, W5),
    "where_x_array": (lambda x: ad.where(COND5, x, np.full(5, 2.0)), lambda v: np.where(COND5, v, 2.0), X5, W5),
    "where_array_x": (lambda x: ad.where(COND5, np.full(5, 2.0), x), lambda v: np.where(COND5, 2.0, v), X5, W5),
    "where_x_0d_tensor": (lambda x: ad.where(COND5, x, ad.Tensor(0.0, backend=x.backend)),
                          lambda v: np.where(COND5, v, 0.0), X5, W5),
}


def _pullback_np(ref, x0, c):
    """c pulled back through the affine map ref, column by column: J^T c with J from unit vectors."""
    base = ref(np.zeros_like(x0))
    return np.array([np.sum(c * (ref(e) - base)) for e in np.eye(x0.size)])


@BOTH
@pytest.mark.parametrize("name", CONSTANT_CELLS)
def test_gradient_with_respect_to_a_tensor_holding_constants_is_per_cell(backend, name):
    build, ref, x0, c = CONSTANT_CELLS[name]
    x = T(x0, backend)
    y = build(x)
    np.testing.assert_array_equal(y.numpy(), ref(x0))
    gy, gx = ad.grad((y * c).sum(), [y, x])
    # scalar back end today: the constant cells share one Scalar, so each gets the sum of theirs
    np.testing.assert_array_equal(gy.numpy(), c)
    np.testing.assert_array_equal(gx.numpy(), _pullback_np(ref, x0, c))


def test_pad_and_where_gradients_on_constants_agree_across_back_ends():
    for name, (build, _, x0, c) in CONSTANT_CELLS.items():
        got = {}
        for backend in ad.BACKENDS:
            x = T(x0, backend)
            y = build(x)
            got[backend] = [g.numpy() for g in ad.grad((y * c * y).sum(), [y, x])]  # 2 c y and its pull-back
        for a, b in zip(got["numpy"], got["scalar"]):
            np.testing.assert_allclose(b, a, rtol=1e-14, err_msg=name)


# --- 4. zero gradients are not skipped --------------------------------------------------------


@BOTH
def test_a_zero_gradient_times_an_infinite_derivative_is_nan(backend):
    # as PyTorch: d/dx sqrt(x) · 0 = 0 / (2·0) = nan at 0 (and 0 at 4); log likewise at 0
    with np.errstate(all="ignore"):
        x = T([0.0, 4.0], backend)
        (x.sqrt() * 0.0).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [np.nan, 0.0])
        x = T([0.0, 2.0], backend)
        (x.log() * 0.0).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [np.nan, 0.0])
        x = T([0.0, 4.0], backend)  # the same through ad.grad, and a zero cotangent
        (g,) = ad.grad(x.sqrt(), x, grad_outputs=np.array([0.0, 1.0]))
        np.testing.assert_array_equal(g.numpy(), [np.nan, 0.25])


def test_a_zero_gradient_times_an_infinite_derivative_is_nan_on_plain_scalars():
    a = ad.Scalar(0.0)
    (a.sqrt() * 0.0).backward()
    assert math.isnan(a.grad)
    b = ad.Scalar(0.0)
    (b.log() * 0.0).backward()
    assert math.isnan(b.grad)
    c = ad.Scalar(0.0)  # the nan reaches c through a path whose gradient is 0, beside a finite one
    (c.sqrt() * 0.0 + c * 3.0).backward()
    assert math.isnan(c.grad)
    d = ad.Scalar(4.0)  # away from 0 the zero gradient gives 0
    (d.sqrt() * 0.0 + d * 3.0).backward()
    assert d.grad == 3.0


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_of_rows_with_minus_inf_agrees_across_back_ends(fn):
    # A row all -inf is nan (0/0) with nan gradient on the numpy back end, as in PyTorch; a row
    # with one -inf has a zero there (softmax grad -0.0, as PyTorch's). The scalar back end must
    # give the same values, nan positions and zero signs.
    x0 = np.array([[-np.inf, -np.inf], [-np.inf, 0.0], [0.0, 1.0]])
    u = np.array([[1.0, 2.0]] * 3)
    res = {}
    with np.errstate(all="ignore"):
        for backend in ad.BACKENDS:
            x = T(x0, backend)
            out = getattr(ad, fn)(x, axis=-1)
            out.backward(u)
            res[backend] = out.numpy(), x.grad.numpy()
    assert np.isnan(res["numpy"][0][0]).all() and np.isnan(res["numpy"][1][0]).all()
    _assert_ieee_equal(res["scalar"][0], res["numpy"][0], what=f"{fn} value")
    _assert_ieee_equal(res["scalar"][1], res["numpy"][1], what=f"{fn} gradient")


@BOTH
def test_a_dead_relu_unit_gets_exact_zero_gradients_not_nan(backend):
    # Hidden unit 2 is dead (bias -100): the weights into it, its bias and the weights out of it
    # get exactly 0 (the relu's derivative is 0, h is 0), not nan, and the rest is finite.
    rng = np.random.default_rng(5)
    x = T(rng.standard_normal((6, 3)), backend, rg=False)
    b1_0 = np.array([0.1, -0.2, -100.0, 0.3])
    W1, b1 = T(rng.standard_normal((3, 4)), backend), T(b1_0, backend)
    W2, b2 = T(rng.standard_normal((4, 2)), backend), T(np.zeros(2), backend)
    h = ad.relu(x @ W1 + b1)
    assert (h.numpy()[:, 2] == 0).all() and (h.numpy()[:, [0, 1, 3]] > 0).any()
    loss = -ad.log_softmax(h @ W2 + b2, axis=-1)[np.arange(6), [0, 1, 0, 1, 1, 0]].mean() + (h * h).sum() * 0.0
    loss.backward()
    for p in (W1, b1, W2, b2):
        assert np.isfinite(p.grad.numpy()).all()
    assert (W1.grad.numpy()[:, 2] == 0).all() and b1.grad.numpy()[2] == 0 and (W2.grad.numpy()[2] == 0).all()
    assert np.abs(W2.grad.numpy()).sum() > 0


def test_a_dead_relu_neuron_of_scalars_gets_exact_zero_gradients():
    w = [ad.Scalar(0.5), ad.Scalar(-1.5)]
    b = ad.Scalar(-10.0)
    xs = [1.0, 2.0]
    act = (w[0] * xs[0] + w[1] * xs[1] + b).relu()  # pre-activation -12.5: dead
    out = act * 0.0 + act * 2.0
    out.backward()
    assert w[0].grad == 0.0 and w[1].grad == 0.0 and b.grad == 0.0


# --- 5. IEEE values of Scalar match NumPy -----------------------------------------------------

CORNERS = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-320, 1e308, -1e308, -1.5, 2.0, -1.0, 3.0]


def _sigmoid_np(x):
    x = np.float64(x)
    if x >= 0:
        return 1.0 / (1.0 + np.exp(-x))
    return np.exp(x) / (1.0 + np.exp(x))  # (nan lands here and stays nan)


# name -> (on a Scalar or a Tensor, NumPy reference on a float64, ulps allowed at a finite
# non-zero result). Correctly rounded operations (+ - * / sqrt abs neg relu, and libm's pow
# which np.power and math.pow share) must match bit for bit; for transcendental functions
# NumPy may use its own SIMD kernels (np.tanh(-1.5) is one ulp from math.tanh(-1.5) here), so
# a few ulps are allowed there, while special values (nan, ±inf, ±0) must still match exactly.
UNARY = {
    "exp": (lambda s: s.exp(), np.exp, 4),
    "log": (lambda s: s.log(), np.log, 4),
    "sqrt": (lambda s: s.sqrt(), np.sqrt, 0),
    "tanh": (lambda s: s.tanh(), np.tanh, 4),
    "sigmoid": (lambda s: s.sigmoid(), _sigmoid_np, 4),
    "relu": (lambda s: s.relu(), lambda x: np.maximum(x, 0.0), 0),
    "abs": (lambda s: s.abs(), np.abs, 0),
    "abs_builtin": (abs, np.abs, 0),
    "sin": (lambda s: s.sin(), np.sin, 4),
    "cos": (lambda s: s.cos(), np.cos, 4),
    "neg": (lambda s: -s, np.negative, 0),
    "softplus": (lambda s: s.softplus(), lambda x: np.logaddexp(0.0, x), 4),
    "leaky_relu": (lambda s: s.leaky_relu(0.1), lambda x: np.where(x > 0, x, 0.1 * x)[()], 0),
}
BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.true_divide),
    "pow": (lambda a, b: a**b, np.power),
}
# which operands are Scalars (the others plain floats): a op b, a op 2.0, 2.0 op b (reflected)
FORMS = {"both": (True, True), "left": (True, False), "reflected": (False, True)}


def _ieee_same(a, b, ulps=0):
    """a and b equal as IEEE doubles: both nan, or the same value with the same sign (±0, ±inf);
    finite non-zero values may differ by ``ulps`` units in the last place."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == 0 or b == 0 or math.isinf(a) or math.isinf(b) or ulps == 0:
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    ia, ib = (int(np.float64(v).view(np.int64)) for v in (a, b))
    return (a > 0) == (b > 0) and abs(ia - ib) <= ulps


def _close_or_special(a, b, rtol=1e-12):
    """For derivatives: nan where the other is nan, the same ±inf, the same signed zero, and
    finite non-zero values within rtol (the forward values they use may differ by ulps)."""
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b) or a == 0 or b == 0 or math.isinf(a) or math.isinf(b):
        return _ieee_same(a, b)
    return abs(a - b) <= rtol * max(abs(a), abs(b))


def _assert_ieee_equal(got, want, what, same=_close_or_special):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shapes {got.shape} vs {want.shape}"
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got.ravel(), want.ravel())) if not same(g, w)]
    assert not bad, f"{what}: {len(bad)} of {got.size} differ (flat index, got, want): {bad[:8]}"


def _describe(x):
    return repr(float(x))


@pytest.mark.parametrize("name", UNARY)
def test_scalar_unary_values_match_numpy_at_ieee_corners(name):
    f, ref, ulps = UNARY[name]
    bad = []
    with np.errstate(all="ignore"):
        for x in CORNERS:
            got = f(ad.Scalar(x)).data
            want = ref(np.float64(x))
            if not _ieee_same(got, want, ulps):
                bad.append(f"{name}({_describe(x)}) = {got!r}, NumPy {float(want)!r}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", BINARY)
def test_scalar_binary_values_match_numpy_at_ieee_corners(name, form):
    f, ref = BINARY[name]
    sa, sb = FORMS[form]
    bad = []
    with np.errstate(all="ignore"):
        for x in CORNERS:
            for y in CORNERS:
                out = f(ad.Scalar(x) if sa else x, ad.Scalar(y) if sb else y)
                assert isinstance(out, ad.Scalar)
                want = ref(np.float64(x), np.float64(y))
                if not _ieee_same(out.data, want):
                    bad.append(f"{name}({_describe(x)}, {_describe(y)}) = {out.data!r}, NumPy {float(want)!r}")
    assert not bad, "\n".join(bad)


def test_negative_zero_to_a_negative_odd_power_is_minus_inf():
    with np.errstate(all="ignore"):
        assert np.power(-0.0, -1.0) == -np.inf
    assert (ad.Scalar(-0.0) ** -1.0).data == -math.inf  # today: +inf
    assert (ad.Scalar(-0.0) ** ad.Scalar(-1.0)).data == -math.inf
    assert (ad.Scalar(-0.0) ** 3.0).data == 0.0 and math.copysign(1.0, (ad.Scalar(-0.0) ** 3.0).data) == -1.0


@pytest.mark.parametrize("name", UNARY)
def test_scalar_unary_derivatives_match_the_numpy_back_end_at_ieee_corners(name):
    f = UNARY[name][0]
    bad = []
    with np.errstate(all="ignore"):
        for x in CORNERS:
            s = ad.Scalar(x)
            f(s).backward()
            t = ad.Tensor([x], requires_grad=True)
            f(t).sum().backward()
            want = t.grad.numpy()[0]
            if not _close_or_special(s.grad, want):
                bad.append(f"d {name}/dx at {_describe(x)}: Scalar {float(s.grad)!r}, numpy back end {float(want)!r}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", BINARY)
def test_scalar_binary_derivatives_match_the_numpy_back_end_at_ieee_corners(name, form):
    f = BINARY[name][0]
    sa, sb = FORMS[form]
    bad = []
    with np.errstate(all="ignore"):
        for x in CORNERS:
            for y in CORNERS:
                a, b = ad.Scalar(x), ad.Scalar(y)
                f(a if sa else x, b if sb else y).backward()
                ta, tb = ad.Tensor([x], requires_grad=True), ad.Tensor([y], requires_grad=True)
                f(ta if sa else x, tb if sb else y).sum().backward()
                for used, s, t, which in ((sa, a, ta, "a"), (sb, b, tb, "b")):
                    if used and not _close_or_special(s.grad, t.grad.numpy()[0]):
                        bad.append(f"d ({_describe(x)} {name} {_describe(y)})/d{which}: Scalar {float(s.grad)!r}, "
                                   f"numpy back end {float(t.grad.numpy()[0])!r}")
    assert not bad, "\n".join(bad)


# --- 6. Scalar operands -----------------------------------------------------------------------

MASK = np.array([True, False])
WITH_SCALAR = {  # name -> (op on (Tensor t, Scalar s), names the error may use)
    "t*s": (lambda t, s: t * s, "mul|\\*"),
    "s*t": (lambda t, s: s * t, "mul|\\*"),
    "t+s": (lambda t, s: t + s, "add|\\+"),
    "s+t": (lambda t, s: s + t, "add|\\+"),
    "t-s": (lambda t, s: t - s, "sub|-"),
    "s-t": (lambda t, s: s - t, "sub|-"),
    "t/s": (lambda t, s: t / s, "div|/"),
    "s/t": (lambda t, s: s / t, "div|/"),
    "t**s": (lambda t, s: t**s, "pow|\\*\\*"),
    "s**t": (lambda t, s: s**t, "pow|\\*\\*"),
    "maximum(t,s)": (lambda t, s: ad.maximum(t, s), "maximum"),
    "maximum(s,t)": (lambda t, s: ad.maximum(s, t), "maximum"),
    "minimum(t,s)": (lambda t, s: ad.minimum(t, s), "minimum"),
    "where(m,t,s)": (lambda t, s: ad.where(MASK[: t.size] if t.ndim else True, t, s), "where"),
    "where(m,s,t)": (lambda t, s: ad.where(MASK[: t.size] if t.ndim else True, s, t), "where"),
}


@pytest.mark.parametrize("name", WITH_SCALAR)
def test_a_scalar_operand_in_a_numpy_backend_op_raises_type_error_naming_the_op(name):
    fn, op = WITH_SCALAR[name]
    for rg in (True, False):  # a parameter and a constant
        for shape in ((2,), ()):  # a 0-d Tensor too
            t = ad.Tensor(np.full(shape, 2.0), requires_grad=rg)
            with pytest.raises(TypeError, match=op):
                fn(t, ad.Scalar(3.0))


# name -> (op, d sum(op) / ds, d sum(op) / dt), with t = [1, 2], s = 3, worked out by hand
SCALAR_ELEMENT = {
    "t*s": (lambda t, s: t * s, 3.0, [3.0, 3.0]),
    "s*t": (lambda t, s: s * t, 3.0, [3.0, 3.0]),
    "t+s": (lambda t, s: t + s, 2.0, [1.0, 1.0]),
    "s-t": (lambda t, s: s - t, 2.0, [-1.0, -1.0]),
    "t/s": (lambda t, s: t / s, -3.0 / 9.0, [1 / 3, 1 / 3]),  # -sum(t)/s²
    "s/t": (lambda t, s: s / t, 1.5, [-3.0, -0.75]),  # sum(1/t); -s/t²
    "t**s": (lambda t, s: t**s, 8 * math.log(2.0), [3.0, 12.0]),  # sum(t^s ln t); s t^(s-1)
    "s**t": (lambda t, s: s**t, 7.0, [3 * math.log(3.0), 9 * math.log(3.0)]),  # sum(t s^(t-1)); s^t ln s
    "maximum(t,s)": (lambda t, s: ad.maximum(t, s), 2.0, [0.0, 0.0]),  # s wins both
    "minimum(t,s)": (lambda t, s: ad.minimum(t, s), 0.0, [1.0, 1.0]),
    "where(m,t,s)": (lambda t, s: ad.where(MASK, t, s), 1.0, [1.0, 0.0]),
    "where(m,s,t)": (lambda t, s: ad.where(MASK, s, t), 1.0, [0.0, 1.0]),
}


@pytest.mark.parametrize("name", SCALAR_ELEMENT)
def test_a_scalar_operand_on_the_scalar_backend_gets_its_gradient(name):
    fn, ds, dt = SCALAR_ELEMENT[name]
    t = ad.Tensor([1.0, 2.0], requires_grad=True, backend="scalar")
    s = ad.Scalar(3.0)
    out = fn(t, s)
    assert out.backend == "scalar"
    out.sum().backward()
    assert s.grad == pytest.approx(ds, rel=1e-12, abs=0)
    np.testing.assert_allclose(t.grad.numpy(), dt, rtol=1e-12)


def test_a_scalar_operand_of_a_0d_scalar_backend_tensor_gets_its_gradient():
    t = ad.Tensor(2.0, requires_grad=True, backend="scalar")
    s = ad.Scalar(3.0)
    (t * s + s * s).backward()  # d/ds = t + 2s = 8, d/dt = s = 3
    assert s.grad == 8.0 and t.grad.item() == 3.0


# --- 7. subclasses of Scalar ------------------------------------------------------------------


class Var(ad.Scalar):
    pass


def test_subclass_instances_combine_and_backpropagate():
    a, b = Var(2.0), Var(3.0)
    out = a * b  # today: TypeError unsupported operand type(s) for *: 'Var' and 'Var'
    assert out.data == 6.0
    out.backward()
    assert (a.grad, b.grad) == (3.0, 2.0)


def test_subclass_with_scalar_and_numbers():
    a, c = Var(2.0), ad.Scalar(1.0)
    out = a + c
    assert out.data == 3.0
    out.backward()
    assert (a.grad, c.grad) == (1.0, 1.0)
    b = Var(3.0)
    out = 2.0 * b
    assert out.data == 6.0
    out.backward()
    assert b.grad == 2.0
    d = Var(3.0)
    out = ad.Scalar(4.0) * d - d / 2.0 + (1.0 - d)  # d(...)/dd = 4 - 0.5 - 1
    out.backward()
    assert out.data == 12.0 - 1.5 - 2.0 and d.grad == 2.5


def test_subclass_methods():
    a = Var(2.0)
    out = a.tanh()
    assert out.data == math.tanh(2.0)
    out.backward()
    assert a.grad == pytest.approx(1 - math.tanh(2.0) ** 2, rel=1e-15)
    for method, value, slope in [("exp", math.exp(2.0), math.exp(2.0)), ("log", math.log(2.0), 0.5),
                                 ("sqrt", math.sqrt(2.0), 0.5 / math.sqrt(2.0)), ("relu", 2.0, 1.0)]:
        v = Var(2.0)
        out = getattr(v, method)()
        out.backward()
        assert out.data == pytest.approx(value, rel=1e-15) and v.grad == pytest.approx(slope, rel=1e-15), method


def test_subclass_power_by_a_subclass():
    a, b = Var(2.0), Var(3.0)
    out = a**b  # today: TypeError for ** between two Vars
    assert out.data == 8.0
    out.backward()
    assert a.grad == pytest.approx(12.0, rel=1e-15)  # b a^(b-1)
    assert b.grad == pytest.approx(8.0 * math.log(2.0), rel=1e-15)  # a^b ln a
    c = Var(2.0)
    (c**2 + 2.0**c).backward()  # 2c + 2^c ln 2
    assert c.grad == pytest.approx(4.0 + 4.0 * math.log(2.0), rel=1e-15)


def test_subclass_second_derivative_with_create_graph():
    a = Var(2.0)
    (a * a * a).backward(create_graph=True)  # 3a² = 12, recorded
    g = a.grad
    assert float(g.data if isinstance(g, ad.Scalar) else g) == 12.0
    a.grad = 0.0
    g.backward()  # d(3a²)/da = 6a
    assert float(a.grad.data if isinstance(a.grad, ad.Scalar) else a.grad) == 12.0


# --- memory: activations are released after backward -----------------------------------------


def _mlp_loss(refs, tensor_refs):
    """An MLP's loss; weak references to its hidden activations (the arrays, and the Tensors
    when ``tensor_refs``) go to ``refs``. Returns only the loss."""
    rng = np.random.default_rng(3)
    x = ad.Tensor(rng.standard_normal((16, 8)))
    W1 = ad.Tensor(rng.standard_normal((8, 32)), requires_grad=True)
    W2 = ad.Tensor(rng.standard_normal((32, 32)), requires_grad=True)
    W3 = ad.Tensor(rng.standard_normal((32, 3)), requires_grad=True)
    h1 = (x @ W1).tanh()
    h2 = ad.relu(h1 @ W2)
    for h in (h1, h2):
        refs.append(weakref.ref(h.data))
        if tensor_refs:
            refs.append(weakref.ref(h))
    return -ad.log_softmax(h2 @ W3, axis=-1)[np.arange(16), rng.integers(0, 3, 16)].mean()


def _tensors_take_weakrefs():
    try:
        weakref.ref(ad.Tensor([1.0]))
        return True
    except TypeError:
        return False


@pytest.mark.parametrize("tensor_refs", [False, True], ids=["arrays", "tensors"])
def test_backward_releases_the_activations_while_the_loss_is_held(tensor_refs):
    if tensor_refs and not _tensors_take_weakrefs():
        pytest.skip("Tensor does not support weak references (no __weakref__ slot); the arrays are checked instead")
    refs = []
    loss = _mlp_loss(refs, tensor_refs)
    gc.collect()
    assert all(r() is not None for r in refs)  # the graph holds them until backward
    loss.backward()
    gc.collect()
    alive = [i for i, r in enumerate(refs) if r() is not None]
    assert not alive, f"activations still alive after backward (refs {alive}) while the loss is held"
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        loss.backward()


@pytest.mark.parametrize("tensor_refs", [False, True], ids=["arrays", "tensors"])
def test_retain_graph_keeps_the_activations(tensor_refs):
    if tensor_refs and not _tensors_take_weakrefs():
        pytest.skip("Tensor does not support weak references (no __weakref__ slot); the arrays are checked instead")
    refs = []
    loss = _mlp_loss(refs, tensor_refs)
    loss.backward(retain_graph=True)
    gc.collect()
    assert all(r() is not None for r in refs)
    loss.backward()  # a second pass works; it frees the graph
    gc.collect()
    assert all(r() is None for r in refs)
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        loss.backward()


@pytest.mark.parametrize("uses_out", [False, True])
def test_a_result_its_rules_do_not_read_is_let_go_before_its_own_step(uses_out):
    # The memory of backward: a layer's output (a Tensor nobody holds) is freed as soon as the
    # step that made it starts, when its op declares uses_out=False (matmul, linear): the peak of
    # an MLP's backward is then the NumPy step's. With uses_out=True the rule gets it, alive.
    seen, refs = [], []

    def rule(g, out, a):
        seen.append(refs[0]() is None)
        return g * 3.0

    op = ad.Op("triple", lambda a: a * 3.0, (rule,), uses_out=uses_out)

    def forward():
        y = op(ad.Tensor(np.ones(4), requires_grad=True) * 1.0)
        refs.append(weakref.ref(y))
        return (y * 2.0).sum()

    forward().backward()
    assert seen == [not uses_out]
