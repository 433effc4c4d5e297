"""autodiff.testing (API.md §3): the strategies draw what they promise, and check_grads
property-tests a custom op in a few lines and fails on a wrong one."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import find, given, settings
from test_gradcheck import Cube, WrongCube, _flat_sin

import autodiff as ad
from autodiff.testing import (
    away_from,
    broadcastable_shapes,
    broadcastable_tensors,
    check_grads,
    matmul_shapes,
    shapes,
    tensors,
)


def test_import_autodiff_does_not_import_hypothesis_and_testing_is_lazy():
    code = (
        "import sys, autodiff as ad; assert 'hypothesis' not in sys.modules; "
        "assert ad.testing.check_grads and 'hypothesis' in sys.modules; "
        "import autodiff.testing as t; assert t is ad.testing"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        ad.nonexistent  # noqa: B018


@given(shapes(min_dims=1, max_dims=2, min_side=2, max_side=3))
def test_shapes_respect_their_bounds(shape):
    assert 1 <= len(shape) <= 2 and all(2 <= n <= 3 for n in shape)


@given(broadcastable_shapes(3))
def test_broadcastable_shapes_broadcast(shps):
    assert len(shps) == 3 and len(np.broadcast_shapes(*shps)) <= 3


@given(matmul_shapes())
def test_matmul_shapes_are_valid_for_matmul(ab):
    np.matmul(np.zeros(ab[0]), np.zeros(ab[1]))  # raises if not (np.empty's garbage could warn of nan)


@pytest.mark.parametrize(
    "kind",
    [
        lambda a, b: len(a) == 1 and len(b) == 1,  # dot product
        lambda a, b: len(a) == 2 and len(b) == 1,  # matrix @ vector
        lambda a, b: len(a) == 1 and len(b) == 2,  # vector @ matrix
        lambda a, b: len(a) == 2 and len(b) == 2 and a[0] > 1 and b[1] > 1,
        lambda a, b: len(a) > 2 and len(b) > 2 and a[:-2] != b[:-2],  # broadcast batch axes
    ],
    ids=["1d@1d", "2d@1d", "1d@2d", "2d@2d", "batched"],
)
def test_matmul_shapes_cover_numpys_cases(kind):
    find(matmul_shapes(), lambda ab: kind(*ab), settings=settings(database=None, max_examples=2000))


@given(away_from([0.0, 1.0], margin=0.1))
def test_away_from_keeps_its_margin(x):
    assert -2 <= x <= 2 and abs(x) >= 0.1 and abs(x - 1) >= 0.1


@given(tensors(shape=(2, 3), backend="scalar", requires_grad=False))
def test_tensors_honour_shape_backend_and_requires_grad(t):
    assert isinstance(t, ad.Tensor) and t.shape == (2, 3) and t.backend == "scalar" and not t.requires_grad
    assert np.all(np.abs(t.numpy()) <= 2)


@given(tensors(shape=shapes(min_dims=1), dtype=np.float32, elements=away_from([0.0], 0.5, 0.0, 1.0)))
def test_tensors_honour_dtype_and_elements(t):
    assert t.dtype == np.float32 and t.requires_grad and t.ndim >= 1
    assert np.all((t.numpy() >= 0.5) & (t.numpy() <= 1.0))


@given(tensors(shape=(4, 4), min_gap=0.01))
def test_tensors_min_gap_gives_tie_free_values(t):
    v = np.sort(t.numpy().ravel())
    assert np.all(np.diff(v) >= 0.01 - 1e-12)


@given(broadcastable_tensors(2, backend="scalar"))
def test_broadcastable_tensors(pair):
    a, b = pair
    assert a.backend == b.backend == "scalar"
    assert (a + b).shape == np.broadcast_shapes(a.shape, b.shape)


def test_check_grads_passes_a_right_op_and_fails_a_wrong_one():
    check_grads(Cube.apply, tensors(), max_examples=10)
    check_grads(lambda a, b: a * b.tanh(), broadcastable_tensors(2), order=2, max_examples=10)
    check_grads(lambda x: x.relu(), tensors(elements=away_from([0.0])), max_examples=10)
    with pytest.raises(ad.GradcheckError, match="WrongCube"):
        check_grads(WrongCube.apply, tensors(shape=shapes(max_side=2)), max_examples=10)
    check_grads(_flat_sin, tensors(shape=(2,)), max_examples=5)  # first order is right...
    with pytest.raises(ad.GradcheckError, match="first derivative"):
        check_grads(_flat_sin, tensors(shape=(2,)), order=2, max_examples=5)  # ... second is not


def test_check_grads_argument_errors():
    with pytest.raises(ValueError, match="order"):
        check_grads(Cube.apply, tensors(), order=3)
    with pytest.raises(TypeError, match="strategy"):
        check_grads(Cube.apply)
