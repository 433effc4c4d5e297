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
