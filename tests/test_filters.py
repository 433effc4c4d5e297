"""autodiff.signal.filters: the exact conventions of API.md, the sums, and what each filter does to
a signal (checked on signals whose answer is known in closed form)."""

import math

import numpy as np
import pytest

from autodiff import signal
from autodiff.signal import filters

ONE_D = {
    "identity": filters.identity,
    "translation": lambda: filters.translation(2),
    "average": lambda: filters.average(5),
    "gaussian": lambda: filters.gaussian(1.3, 4),
    "sharpen": filters.sharpen,
    "laplacian": filters.laplacian,
    "laplacian_of_gaussian": lambda: filters.laplacian_of_gaussian(1.5, 5),
    "centered_difference": filters.centered_difference,
    "forward_difference": filters.forward_difference,
    "simpson": filters.simpson,
}
TWO_D = {
    "gaussian2d": lambda: filters.gaussian2d(0.8, 2),
    "sobel": lambda: filters.sobel(0),
    "laplacian_of_gaussian2d": lambda: filters.laplacian_of_gaussian2d(1.0, 3),
}
SUM_TO_ONE = ["identity", "translation", "average", "gaussian", "sharpen", "simpson", "gaussian2d"]
SUM_TO_ZERO = [
    "laplacian", "laplacian_of_gaussian", "centered_difference", "forward_difference", "sobel",
    "laplacian_of_gaussian2d",
]


def test_the_bank_is_exactly_the_api_list():
    assert sorted(filters.__all__) == sorted(list(ONE_D) + list(TWO_D))
    for name in filters.__all__:
        assert len(getattr(filters, name).__doc__.strip()) > 40, name


@pytest.mark.parametrize("name", list(ONE_D) + list(TWO_D))
def test_filters_are_odd_float_arrays(name):
    w = {**ONE_D, **TWO_D}[name]()
    assert isinstance(w, np.ndarray) and w.dtype == np.float64
    assert w.ndim == (2 if name in TWO_D else 1)
    assert all(k % 2 == 1 for k in w.shape)


@pytest.mark.parametrize("name", SUM_TO_ONE)
def test_averaging_filters_sum_to_one(name):
    assert math.isclose({**ONE_D, **TWO_D}[name]().sum(), 1.0, rel_tol=1e-12)


@pytest.mark.parametrize("name", SUM_TO_ZERO)
def test_derivative_filters_sum_to_zero(name):
    assert abs({**ONE_D, **TWO_D}[name]().sum()) < 1e-12


def test_exact_values_of_the_api():
    np.testing.assert_array_equal(filters.identity(), [0, 1, 0])
    np.testing.assert_array_equal(filters.translation(1), [0, 0, 1])
    np.testing.assert_array_equal(filters.translation(-1), [1, 0, 0])
    np.testing.assert_array_equal(filters.translation(0), [1])
    np.testing.assert_array_equal(filters.average(3), [1 / 3] * 3)
    np.testing.assert_array_equal(filters.sharpen(), [-1, 3, -1])
    np.testing.assert_array_equal(filters.laplacian(), [-1, 2, -1])
    np.testing.assert_array_equal(filters.centered_difference(), [-1, 0, 1])
    np.testing.assert_array_equal(filters.forward_difference(), [0, -1, 1])
    np.testing.assert_allclose(filters.simpson(), [1 / 6, 4 / 6, 1 / 6])
    np.testing.assert_array_equal(filters.sobel(0), [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    np.testing.assert_array_equal(filters.sobel(-1), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])


def test_gaussian_density_values_are_the_lecture_table():
    # N(0, 1) density at 0, 1, 2, 3 (four decimals, as printed in statistics tables)
    np.testing.assert_allclose(filters.gaussian(1.0, 3, normalize=False), [0.0044, 0.0540, 0.2420, 0.3989, 0.2420, 0.0540, 0.0044], atol=5e-5)
    w = filters.gaussian(2.0, 3, normalize=False)
    np.testing.assert_allclose(w[3], 1 / (2.0 * math.sqrt(2 * math.pi)))
    g = filters.gaussian(2.0, 3)
    np.testing.assert_allclose(g, w / w.sum())
    assert len(filters.gaussian(1.0)) == 7  # m defaults to ceil(3 sigma)


def test_laplacian_of_gaussian_formula():
    sigma, m = 1.5, 4
    i = np.arange(-m, m + 1)
    raw = (1 - i**2 / (2 * sigma**2)) * np.exp(-(i**2) / (2 * sigma**2))
    np.testing.assert_allclose(filters.laplacian_of_gaussian(sigma, m), raw - raw.mean())
    w2 = filters.laplacian_of_gaussian2d(1.0, 2)
    np.testing.assert_allclose(w2, w2.T)  # isotropic
    assert w2[2, 2] == w2.max()  # the centre of the Mexican hat


def test_gaussian2d_is_the_outer_product():
    g = filters.gaussian(0.8, 2)
    np.testing.assert_allclose(filters.gaussian2d(0.8, 2), np.outer(g, g))


@pytest.mark.parametrize("mode", ["zero", "replicate", "mirror", "symmetric", "circular"])
def test_identity_and_translation_do_what_they_say(mode):
    x = np.random.default_rng(0).standard_normal(11)
    np.testing.assert_array_equal(signal.convolve1d(x, filters.identity(), mode), x)
    for shift in (-3, -1, 1, 2):
        z = signal.convolve1d(x, filters.translation(shift), mode)
        lo, hi = max(0, -shift), 11 - max(0, shift)  # z_i = x_{i+shift} wherever x_{i+shift} exists
        np.testing.assert_array_equal(z[lo:hi], x[lo + shift : hi + shift])
        if mode == "circular":
            np.testing.assert_array_equal(z, np.roll(x, -shift))


def test_differences_on_polynomials():
    i = np.arange(12.0)
    ramp, square, cube = 3 * i + 1, i**2, i**3
    valid = lambda x, w: signal.convolve1d(x, w, "valid")  # noqa: E731
    np.testing.assert_allclose(valid(ramp, filters.forward_difference()), 3.0)  # x' = 3
    np.testing.assert_allclose(valid(ramp, filters.centered_difference()), 6.0)  # 2 x'
    np.testing.assert_allclose(valid(ramp, filters.laplacian()), 0.0)
    np.testing.assert_allclose(valid(square, filters.laplacian()), -2.0)  # -x''
    # Simpson: (1/2) ∫_{i-1}^{i+1} t³ dt = ((i+1)^4 - (i-1)^4) / 8, exact for cubics
    np.testing.assert_allclose(valid(cube, filters.simpson()), ((i[1:-1] + 1) ** 4 - (i[1:-1] - 1) ** 4) / 8)


def test_blur_and_sharpen_on_a_noisy_step():
    rng = np.random.default_rng(1)
    clean = np.r_[np.zeros(200), np.ones(200)]
    noisy = clean + 0.3 * rng.standard_normal(400)
    for w in (filters.average(9), filters.gaussian(2.0, 6)):
        smooth = signal.convolve1d(noisy, w, "replicate")
        assert np.std((smooth - clean)[20:180]) < 0.5 * np.std((noisy - clean)[20:180])  # less noise
    sharp = signal.convolve1d(clean, filters.sharpen(), "replicate")
    assert sharp[199] < 0 and sharp[200] > 1  # overshoot on both sides of the edge


def test_sobel_finds_edges_across_its_axis():
    image = np.zeros((8, 8))
    image[:, 4:] = 1.0  # a vertical edge: intensity changes along the columns (axis 1)
    across = signal.convolve2d(image, filters.sobel(1), "replicate")
    along = signal.convolve2d(image, filters.sobel(0), "replicate")
    assert np.all(across[:, 3:5] == 4.0) and np.all(across[:, :3] == 0)
    assert np.all(along == 0.0)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: filters.average(4), ValueError, r"average: width must be odd"),
        (lambda: filters.average(0), ValueError, r"average: width must be at least 1"),
        (lambda: filters.gaussian(0.0, 3), ValueError, r"gaussian: sigma must be a positive finite number"),
        (lambda: filters.gaussian(float("nan"), 3), ValueError, r"sigma must be a positive finite number"),
        (lambda: filters.gaussian(1.0, -1), ValueError, r"gaussian: m must be at least 0"),
        (lambda: filters.laplacian_of_gaussian(1.0, 2.5), TypeError, r"m must be an int"),
        (lambda: filters.translation(1.5), TypeError, r"translation: shift must be an int"),
        (lambda: filters.sobel(2), ValueError, r"sobel: axis must be 0 or 1"),
    ],
)
def test_filter_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
