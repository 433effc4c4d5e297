"""autodiff.signal: padding, convolve1d/convolve2d and conv_matrix against definitions written here
from the formulas, their gradients against finite differences and against the scalar back end,
and every error message."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import autodiff as ad
from autodiff import signal

PAD_MODES = ("zero", "replicate", "mirror", "symmetric", "circular")
MODES = PAD_MODES + ("valid",)


# --- independent definitions ------------------------------------------------------------------


def ref_index(i, n, mode):
    """The sample that position i (possibly outside 0..n-1) reads; None for a zero."""
    if 0 <= i < n:
        return i
    if mode == "zero":
        return None
    if mode == "replicate":
        return 0 if i < 0 else n - 1
    if mode == "circular":
        return i % n
    if mode == "mirror":  # reflect about the edge sample: x_{-1} = x_1
        return -i if i < 0 else 2 * (n - 1) - i
    if mode == "symmetric":  # reflect about the edge itself: x_{-1} = x_0
        return -i - 1 if i < 0 else 2 * n - 1 - i
    raise AssertionError(mode)


def ref_value(x, i, mode):
    j = ref_index(i, x.shape[-1], mode)
    return np.zeros(x.shape[:-1]) if j is None else x[..., j]


def ref_pad(x, m, mode):
    return np.stack([ref_value(x, p, mode) for p in range(-m, x.shape[-1] + m)], axis=-1)


def ref_convolve1d(x, w, mode):
    """z_i = Σ_{j=-m..m} w_j x_{i+j}, term by term."""
    n, m = x.shape[-1], len(w) // 2
    pad_mode = "zero" if mode == "valid" else mode
    positions = range(m, n - m) if mode == "valid" else range(n)
    return np.stack(
        [sum(w[j + m] * ref_value(x, i + j, pad_mode) for j in range(-m, m + 1)) for i in positions], axis=-1
    )


def ref_convolve2d(x, w, mode):
    (m1, m2) = (w.shape[0] // 2, w.shape[1] // 2)
    if mode == "valid":
        p = x
    else:  # pad the columns, then the rows (the last axis, then the one before)
        p = ref_pad(x, m2, mode)
        p = np.swapaxes(ref_pad(np.swapaxes(p, -1, -2), m1, mode), -1, -2)
    h, wd = p.shape[-2] - 2 * m1, p.shape[-1] - 2 * m2
    out = np.zeros(x.shape[:-2] + (h, wd))
    for a in range(w.shape[0]):
        for b in range(w.shape[1]):
            out += w[a, b] * p[..., a : a + h, b : b + wd]
    return out


def min_length(mode, m):
    return {"valid": 2 * m + 1, "mirror": m + 1, "symmetric": max(m, 1)}.get(mode, 1)


@st.composite
def problems(draw, modes=MODES, max_m=3, max_n=16):
    """(x, w, mode): a batch of signals and an odd filter the mode can handle."""
    mode = draw(st.sampled_from(modes))
    m = draw(st.integers(0, max_m))
    n = draw(st.integers(min_length(mode, m), max_n))
    batch = draw(st.sampled_from([(), (1,), (3,), (2, 2)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.standard_normal(batch + (n,)), rng.standard_normal(2 * m + 1), mode


# --- values -------------------------------------------------------------------------------------


@given(problems(modes=PAD_MODES))
def test_pad_matches_the_definition(problem):
    x, w, mode = problem
    m = len(w) // 2
    np.testing.assert_array_equal(signal.pad(x, m, mode), ref_pad(x, m, mode))


def test_pad_examples_of_the_api():
    x = np.array([0.0, 1.0, 1.0, 2.0])
    np.testing.assert_array_equal(signal.pad(x, 3, "mirror")[:3], [2, 1, 1])
    np.testing.assert_array_equal(signal.pad(x, 3, "symmetric")[:3], [1, 1, 0])
    np.testing.assert_array_equal(signal.pad(x, 2, "replicate"), [0, 0, 0, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(signal.pad(x, 2, "circular"), [1, 2, 0, 1, 1, 2, 0, 1])
    np.testing.assert_array_equal(signal.pad(x, 1, "zero"), [0, 0, 1, 1, 2, 0])


@pytest.mark.parametrize("backend", ["numpy", "scalar"])
def test_pad_on_tensors_is_differentiable(backend):
    x = ad.Tensor([[1.0, 2.0, 3.0]], requires_grad=True, backend=backend)
    p = signal.pad(x, 2, "symmetric")  # [2 1 | 1 2 3 | 3 2]
    np.testing.assert_array_equal(p.numpy(), [[2, 1, 1, 2, 3, 3, 2]])
    (p * ad.Tensor(np.arange(7.0), backend=backend)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0 + 1 + 2, 0 + 3 + 6, 4 + 5]])  # cells 0,1,2 | 0,3,6 | 4,5


@given(problems())
def test_convolve1d_matches_the_definition(problem):
    x, w, mode = problem
    np.testing.assert_allclose(signal.convolve1d(x, w, mode), ref_convolve1d(x, w, mode), atol=1e-12)


@given(problems())
def test_convolve1d_is_the_matrix_conv_matrix(problem):
    x, w, mode = problem
    a = signal.conv_matrix(w, x.shape[-1], mode)
    assert a.shape == (x.shape[-1] - (2 * (len(w) // 2) if mode == "valid" else 0), x.shape[-1])
    np.testing.assert_allclose(x @ a.T, signal.convolve1d(x, w, mode), atol=1e-12)


@given(problems(), st.floats(-3, 3), st.floats(-3, 3))
def test_convolve1d_is_linear_in_x_and_in_w(problem, a, b):
    x, w, mode = problem
    rng = np.random.default_rng(1)
    y, v = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
    conv = signal.convolve1d
    np.testing.assert_allclose(conv(a * x + b * y, w, mode), a * conv(x, w, mode) + b * conv(y, w, mode), atol=1e-10)
    np.testing.assert_allclose(conv(x, a * w + b * v, mode), a * conv(x, w, mode) + b * conv(x, v, mode), atol=1e-10)


def test_long_signals_and_batches_match_the_definition():
    # the fast path (one np.correlate over all rows, ends recomputed) on rows longer than the strips
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 2, 40)), rng.standard_normal(7)
    for mode in MODES:
        np.testing.assert_allclose(signal.convolve1d(x, w, mode), ref_convolve1d(x, w, mode), atol=1e-12)
        np.testing.assert_allclose(signal.convolve1d(x[0, 1], w, mode), ref_convolve1d(x[0, 1], w, mode), atol=1e-12)


def test_filters_longer_than_the_signal_where_the_mode_allows():
    x, w = np.array([1.0, -2.0]), np.arange(1.0, 8.0)  # m = 3 > n
    for mode in ("zero", "replicate", "circular"):
        np.testing.assert_allclose(signal.convolve1d(x, w, mode), ref_convolve1d(x, w, mode))


def test_types_follow_the_inputs():
    x = np.arange(6, dtype=np.float32)
    w32 = np.array([0.25, 0.5, 0.25], dtype=np.float32)
    assert signal.convolve1d(x, w32).dtype == np.float32
    assert signal.convolve1d([1, 2, 3], [0, 1, 0]).dtype == np.float64  # ints become floats
    out = signal.convolve1d(x, ad.Tensor(w32, requires_grad=True))
    assert isinstance(out, ad.Tensor) and out.dtype == np.float32
    out.sum().backward()
    assert isinstance(signal.convolve1d(np.ones(4), np.ones(3)), np.ndarray)


def test_overflow_of_finite_values_is_not_an_error():
    z = signal.convolve1d(np.array([1e308, 1e308, 1e308]), np.array([1.0, 1.0, 1.0]))
    assert np.isinf(z[1])


# --- gradients ----------------------------------------------------------------------------------

GRAD_CASES = [  # (mode, batch shape + (n,), m): the fast path (n > 4m) and the general one
    (mode, shape, m)
    for mode in MODES
    for shape, m in [((2, 9), 2), ((5,), 1), ((2, 5), 2)]
] + [("zero", (2,), 2), ("replicate", (3,), 2), ("circular", (2,), 3), ("mirror", (3,), 2), ("symmetric", (2,), 2)]


@pytest.mark.parametrize("mode, shape, m", GRAD_CASES)
def test_gradcheck_convolve1d(mode, shape, m):
    rng = np.random.default_rng(3)
    x = ad.Tensor(rng.standard_normal(shape), requires_grad=True)
    w = ad.Tensor(rng.standard_normal(2 * m + 1), requires_grad=True)
    assert ad.gradcheck(lambda a, b: signal.convolve1d(a, b, mode), (x, w))


@pytest.mark.parametrize("mode", MODES)
def test_gradgradcheck_convolve1d(mode):
    rng = np.random.default_rng(4)
    x = ad.Tensor(rng.standard_normal((2, 4)), requires_grad=True)
    w = ad.Tensor(rng.standard_normal(3), requires_grad=True)
    # square the output so that the second derivative is not identically zero
    assert ad.gradgradcheck(lambda a, b: signal.convolve1d(a, b, mode) ** 2, (x, w))


@pytest.mark.parametrize("mode", MODES)
def test_scalar_back_end_agrees(mode):
    rng = np.random.default_rng(5)
    xv, wv, gv = rng.standard_normal((2, 5)), rng.standard_normal(3), rng.standard_normal((2, 5 - 2 * (mode == "valid")))
    grads = {}
    for backend in ("numpy", "scalar"):
        x = ad.Tensor(xv, requires_grad=True, backend=backend)
        w = ad.Tensor(wv, requires_grad=True, backend=backend)
        z = signal.convolve1d(x, w, mode)
        assert z.backend == backend
        z.backward(gv)
        grads[backend] = (z.numpy(), x.grad.numpy(), w.grad.numpy())
    for a, b in zip(grads["numpy"], grads["scalar"]):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_scalar_back_end_second_derivative_agrees():
    rng = np.random.default_rng(6)
    xv, wv = rng.standard_normal(4), rng.standard_normal(3)
    result = {}
    for backend in ("numpy", "scalar"):
        x = ad.Tensor(xv, requires_grad=True, backend=backend)
        w = ad.Tensor(wv, requires_grad=True, backend=backend)
        (gw,) = ad.grad((signal.convolve1d(x, w, "mirror") ** 2).sum(), w, create_graph=True)
        (gw * gw).sum().backward()
        result[backend] = x.grad.numpy()
    np.testing.assert_allclose(result["numpy"], result["scalar"], atol=1e-10)


def test_filter_gradient_sums_over_the_batch():
    x = ad.Tensor(np.arange(12.0).reshape(3, 4))
    w = ad.Tensor(np.zeros(3), requires_grad=True)
    signal.convolve1d(x, w, "circular").sum().backward()
    # every sample is read once by every tap in circular mode: dz/dw_j summed = Σ x
    np.testing.assert_allclose(w.grad.numpy(), [66.0, 66.0, 66.0])


# --- convolve2d ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_convolve2d_matches_the_definition(mode):
    rng = np.random.default_rng(7)
    image, w = rng.standard_normal((2, 6, 9)), rng.standard_normal((3, 5))
    np.testing.assert_allclose(signal.convolve2d(image, w, mode), ref_convolve2d(image, w, mode), atol=1e-12)
    np.testing.assert_allclose(signal.convolve2d(image[1], w, mode), ref_convolve2d(image[1], w, mode), atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_convolve2d(mode):
    rng = np.random.default_rng(8)
    image = ad.Tensor(rng.standard_normal((4, 5)), requires_grad=True)
    w = ad.Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    assert ad.gradcheck(lambda a, b: signal.convolve2d(a, b, mode), (image, w))
    small = ad.Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    assert ad.gradgradcheck(lambda a, b: signal.convolve2d(a, b, mode) ** 2, (small, w))


@pytest.mark.parametrize("mode", ["replicate", "valid"])
def test_convolve2d_scalar_back_end_agrees(mode):
    rng = np.random.default_rng(9)
    iv, wv = rng.standard_normal((3, 4)), rng.standard_normal((3, 3))
    out = {}
    for backend in ("numpy", "scalar"):
        image = ad.Tensor(iv, requires_grad=True, backend=backend)
        w = ad.Tensor(wv, requires_grad=True, backend=backend)
        z = signal.convolve2d(image, w, mode)
        (z * z).sum().backward()
        out[backend] = (z.numpy(), image.grad.numpy(), w.grad.numpy())
    for a, b in zip(out["numpy"], out["scalar"]):
        np.testing.assert_allclose(a, b, atol=1e-12)


# --- conv_matrix --------------------------------------------------------------------------------


def test_conv_matrix_of_a_tensor_filter_is_differentiable():
    w = ad.Tensor([0.5, -1.0, 2.0], requires_grad=True)
    a = signal.conv_matrix(w, 4, "symmetric")
    assert isinstance(a, ad.Tensor) and a.shape == (4, 4)
    np.testing.assert_allclose(a.numpy(), signal.conv_matrix(w.numpy(), 4, "symmetric"))
    assert ad.gradcheck(lambda v: signal.conv_matrix(v, 4, "mirror"), (w,))
    ws = ad.Tensor(w.numpy(), requires_grad=True, backend="scalar")
    a_scalar = signal.conv_matrix(ws, 4, "symmetric")
    (a_scalar * a_scalar).sum().backward()
    (a * a).sum().backward()
    np.testing.assert_allclose(ws.grad.numpy(), w.grad.numpy())


def test_circular_conv_matrix_is_circulant():
    a = signal.conv_matrix(np.array([1.0, 2.0, 3.0]), 5, "circular")
    for i in range(1, 5):
        np.testing.assert_array_equal(a[i], np.roll(a[0], i))


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: signal.convolve1d(np.ones(5), np.ones(4)), r"convolve1d: filter lengths must be odd .*\(4,\)"),
        (lambda: signal.convolve1d(np.ones(5), np.ones((3, 3))), r"convolve1d: expected a 1-D filter.*\(3, 3\)"),
        (lambda: signal.convolve1d(np.ones(3), np.ones(5), "valid"), r"'valid' mode needs a signal at least as long as the filter \(5\), got 3"),
        (lambda: signal.convolve1d(np.ones(2), np.ones(5), "mirror"), r"'mirror' mode .* at least 3, got 2"),
        (lambda: signal.convolve1d(np.ones(2), np.ones(7), "symmetric"), r"'symmetric' mode .* at least 3, got 2"),
        (lambda: signal.convolve1d(np.array([1.0, np.nan, 2.0]), np.ones(3)), r"convolve1d: x contains nan or inf \(shape \(3,\)\)"),
        (lambda: signal.convolve1d(np.array([1.0, np.inf, 2.0]), np.ones(3), "valid"), r"x contains nan or inf"),
        (lambda: signal.convolve1d(ad.Tensor([1.0, np.nan, 2.0]), np.ones(3)), r"x contains nan or inf"),
        (lambda: signal.convolve1d(np.ones(4), np.array([1.0, np.nan, 0.0])), r"the filter contains nan or inf"),
        (lambda: signal.convolve2d(np.full((3, 3), np.inf), np.ones((3, 3)), "mirror"), r"convolve2d: x contains nan or inf"),
        (lambda: signal.convolve1d(ad.Tensor([1.0, 2.0, 3.0], backend="scalar"), [1.0, np.inf, 1.0]), r"the filter contains nan"),
        (lambda: signal.convolve1d(np.ones(4), np.ones(3), "reflect"), r"unknown mode 'reflect' \(SciPy's .*'symmetric'.*'mirror'.*valid modes: 'zero', 'replicate', 'mirror', 'symmetric', 'circular', 'valid'"),
        (lambda: signal.convolve1d(np.ones(4), np.ones(3), "same"), r"unknown mode 'same' \('same' is a convolution padding.*valid modes: 'zero'"),
        (lambda: signal.convolve1d(np.ones(4), np.ones(3), "foo"), r"convolve1d: unknown mode 'foo'; valid modes"),
        (lambda: signal.convolve1d(np.ones(0), np.ones(3)), r"cannot filter an empty signal"),
        (lambda: signal.convolve1d(np.float64(1.0), np.ones(3)), r"expected at least 1 axes"),
        (lambda: signal.convolve2d(np.ones((4, 4)), np.ones(3)), r"convolve2d: expected a 2-D filter of odd x odd shape"),
        (lambda: signal.convolve2d(np.ones((4, 4)), np.ones((3, 2))), r"convolve2d: filter lengths must be odd .*\(3, 2\)"),
        (lambda: signal.convolve2d(np.ones((4, 2)), np.ones((3, 3)), "valid"), r"convolve2d: 'valid' mode needs .* got 2 \(shape \(4, 2\)\)"),
        (lambda: signal.convolve2d(np.ones(4), np.ones((3, 3))), r"convolve2d: expected at least 2 axes"),
        (lambda: signal.pad(np.ones(4), 2, "valid"), r"signal.pad: unknown mode 'valid' \('valid' means no padding"),
        (lambda: signal.pad(np.ones(4), -1), r"signal.pad: m must be non-negative"),
        (lambda: signal.pad(np.ones(3), 3, "mirror"), r"'mirror' padding of 3 needs at least 4 samples, got 3"),
        (lambda: signal.conv_matrix(np.ones(3), 0), r"conv_matrix: n must be a positive int"),
        (lambda: signal.conv_matrix(np.ones(5), 3, "valid"), r"conv_matrix: 'valid' mode needs"),
        (lambda: signal.conv_matrix(np.ones(2), 3), r"conv_matrix: filter lengths must be odd"),
    ],
)
def test_errors_say_what_is_valid(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: signal.pad(np.ones(4), 1.5), r"signal.pad: m must be an int"),
        (lambda: signal.convolve1d(np.ones(4, dtype=complex), np.ones(3)), r"x must hold real numbers"),
        (lambda: signal.convolve1d(np.ones(4), np.array(["a", "b", "c"])), r"w must hold real numbers"),
    ],
)
def test_type_errors(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_the_package_exports():
    assert sorted(signal.__all__) == ["conv_matrix", "convolve1d", "convolve2d", "filters", "pad"]
    assert ad.signal is signal
