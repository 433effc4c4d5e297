"""The Tensor engine (API.md §2): modes, graphs, errors and edge cases, on both back ends."""

import numpy as np
import pytest

import autodiff as ad

BOTH = pytest.mark.parametrize("backend", ad.BACKENDS)


@BOTH
def test_pow_derivative_at_zero_base_and_zero_exponent_is_zero(backend):
    # d(a^b)/da = b a^(b-1) is 0 * inf at a == b == 0; PyTorch gives 0, and so must both back ends.
    a = ad.Tensor([0.0, 0.0, 2.0], requires_grad=True, backend=backend)
    b = ad.Tensor([0.0, 1.5, 0.0], requires_grad=True, backend=backend)
    ga, gb = ad.grad((a**b).sum(), [a, b])
    np.testing.assert_array_equal(ga.numpy(), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(gb.numpy(), [0.0, 0.0, np.log(2.0)])
    (gc,) = ad.grad((a**0).sum(), a)
    np.testing.assert_array_equal(gc.numpy(), [0.0, 0.0, 0.0])
