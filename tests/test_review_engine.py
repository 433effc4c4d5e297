"""Review of the engine rewrite (issue #12): defects found, each pinned against an independent
reference (the numpy back end, NumPy, a value derived by hand and stated in a comment, or what
PyTorch 2.x does, quoted in a comment)."""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest

import autodiff as ad
from autodiff import signal

BOTH = pytest.mark.parametrize("backend", ad.BACKENDS)


# --- 1. scalar back end: a moving op that is not recorded shares Scalars between cells ----------
# owned() returns the forward's cells untouched when grad mode is off, and apply() runs the
# forward under no_grad whenever no input requires grad: one constant Scalar then fills every
# padded cell (issue #12's defect 3, through the unrecorded path).


def _unrecorded(kind, x):
    if kind == "pad":
        return x.pad(1)
    if kind == "where":
        return ad.where(np.array([True, False, False]), x, 0.0)
    return x[[0, 0, 1]]  # a repeated index


@BOTH
@pytest.mark.parametrize("kind", ["pad", "where", "index"])
@pytest.mark.parametrize("how", ["input_without_grad", "no_grad"])
def test_leaf_made_by_an_unrecorded_moving_op_gets_per_cell_gradients(backend, kind, how):
    x = ad.Tensor([1.0, 2.0, 3.0], backend=backend, requires_grad=how == "no_grad")
    if how == "no_grad":
        with ad.no_grad():
            p = _unrecorded(kind, x)
    else:
        p = _unrecorded(kind, x)
    p.requires_grad_()
    c = np.arange(1.0, p.shape[0] + 1)
    (p * ad.Tensor(c, backend=backend)).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), c)  # d sum(c * p) / dp = c, cell by cell


@BOTH
def test_copy_into_a_padded_tensor_sets_every_cell(backend):
    p = ad.Tensor([1.0, 2.0, 3.0], backend=backend).pad(1)
    p.copy_(np.arange(5.0))
    np.testing.assert_array_equal(p.numpy(), np.arange(5.0))  # scalar back end: [4, 1, 2, 3, 4]


# --- 2. scalar back end: create_graph inside no_grad records nothing ----------------------------
# _scalar_backward.backprop never turns the grad mode on for create_graph (the numpy back end's
# run() does, as PyTorch's engine does), so Scalar nodes made by the rules are leaves.


@BOTH
def test_create_graph_inside_no_grad_still_records_the_gradient(backend):
    x = ad.Tensor([1.0, 2.0], requires_grad=True, backend=backend)
    y = (x * x * x).sum()
    with ad.no_grad():
        (g,) = ad.grad(y, x, create_graph=True)  # 3x^2
    (h,) = ad.grad(g.sum(), x)  # 6x (PyTorch: tensor([6., 12.]))
    np.testing.assert_allclose(h.numpy(), [6.0, 12.0])


def test_scalar_create_graph_inside_no_grad_still_records_the_gradient():
    x = ad.Scalar(2.0)
    y = x * x * x
    with ad.no_grad():
        y.backward(create_graph=True)
    g = x.grad  # 3x^2 = 12, as a Scalar node
    x.grad = 0.0
    g.backward()
    assert x.grad == 12.0  # d(3x^2)/dx = 6x = 12; gets 0.0


# --- 3. ad.grad backpropagates through (and frees) branches that do not lead to its inputs -----


@BOTH
def test_grad_leaves_branches_that_do_not_reach_its_inputs_alone(backend):
    x = ad.Tensor([1.0, 2.0], requires_grad=True, backend=backend)
    w = ad.Tensor([3.0, 4.0], requires_grad=True, backend=backend)
    a, b = x * x, w * w
    (gx,) = ad.grad((a + b).sum(), x)
    np.testing.assert_allclose(gx.numpy(), [2.0, 4.0])
    # b's node is not on a path to x: PyTorch never runs (nor frees) it, so this works there
    b.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [6.0, 8.0])  # 2w


# --- 4. a custom Function keeps its inputs and saved Tensors alive after backward --------------
# The Op built in Function.apply closes over ctx (saved tensors), args and the output; Node.release
# keeps node.op, so none of it is released while the output is held.


class _Sum(ad.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sum()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ad.ones(*x.shape)


def test_backward_releases_what_a_function_saved_while_its_output_is_held():
    x = ad.Tensor(np.random.default_rng(0).standard_normal(50), requires_grad=True)
    h = (x * 2.0).tanh()
    ref = weakref.ref(h.data)
    loss = _Sum.apply(h)
    del h
    loss.backward()
    gc.collect()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * (1.0 - np.tanh(2.0 * x.numpy()) ** 2))
    assert ref() is None, "the Function's input activation is still alive after backward"


# --- 5. fresh=True rules of autodiff.signal can return a read-only view -----------------------
# _correlate._shared returns _rows' read-only as_strided view when it happens to be contiguous
# (one row, or a one-tap filter); convolve_full/correlate are fresh, so the view becomes .grad.


@pytest.mark.parametrize("shape, taps", [((1, 6), 3), ((2, 3), 1)])
def test_signal_gradient_is_a_writable_array(shape, taps):
    x = ad.Tensor(np.arange(float(np.prod(shape))).reshape(shape), requires_grad=True)
    w = ad.Tensor(np.arange(1.0, taps + 1), requires_grad=True)
    y = signal.convolve1d(x, w, "valid")
    y.backward(np.ones(y.shape))
    # reference: d sum(valid correlation) / dx = full convolution of ones with w, per row
    ref = np.stack([np.convolve(np.ones(y.shape[-1]), w.numpy(), "full") for _ in range(shape[0])])
    np.testing.assert_allclose(x.grad.numpy(), ref)
    x.grad.data *= 0.5  # gradient clipping by hand; raises "output array is read-only"
    np.testing.assert_allclose(x.grad.numpy(), ref * 0.5)


# --- 6. grad_outputs of the wrong length is silently truncated ---------------------------------


def test_grad_outputs_shorter_than_outputs_raises():
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    a, b = (x * 2).sum(), (x * 3).sum()
    # PyTorch: "grad_outputs should be a sequence of length 2"; here b is dropped and [2, 2] returned
    with pytest.raises((ValueError, RuntimeError)):
        ad.grad([a, b], [x], grad_outputs=[None])


# --- 7. Scalar gradients: +0.0 then -0.0 sums to -0.0 -----------------------------------------
# _backprop adds as (grad or -0.0) + g: a real +0.0 gradient is taken for "none yet".


def test_scalar_sum_of_plus_and_minus_zero_gradients_is_plus_zero():
    x = ad.Scalar(1.0)
    (x * 0.0 + x * -0.0).backward()
    assert math.copysign(1.0, x.grad) == 1.0  # IEEE 0.0 + -0.0 = 0.0 (PyTorch: 0.)


@BOTH
def test_tensor_sum_of_plus_and_minus_zero_gradients_is_plus_zero(backend):
    x = ad.Tensor([1.0], requires_grad=True, backend=backend)
    (x * 0.0 + x * -0.0).sum().backward()
    assert np.signbit(x.grad.numpy()).tolist() == [False]


# --- 8. the scalar back end does not accumulate into the existing .grad ------------------------
# docs/API.md: "added in place into an existing .grad, as PyTorch does"; _run_scalar's
# _add_grads makes a new Tensor, so a held gradient differs between the back ends.


@BOTH
def test_a_held_gradient_sees_the_next_accumulation(backend):
    x = ad.Tensor([1.0, 2.0], requires_grad=True, backend=backend)
    (x * 3).sum().backward()
    held = x.grad
    (x * 3).sum().backward()
    np.testing.assert_allclose(held.numpy(), [6.0, 6.0])


# --- 9. graph.step on scalar-back-end Tensors ----------------------------------------------------


def test_graph_step_gives_float_arrays_on_the_scalar_back_end():
    vals = {}
    for backend in ad.BACKENDS:
        x = ad.Tensor([1.0, 2.0], requires_grad=True, backend=backend)
        y = ad.Tensor([3.0, 4.0], requires_grad=True, backend=backend)
        vals[backend] = [pg for _, _, pg in ad.graph.step(x * y, np.ones(2))]
    for a, b in zip(vals["numpy"], vals["scalar"]):
        assert np.asarray(b).dtype == np.float64  # gets an object array of Scalar nodes
        np.testing.assert_allclose(np.asarray(b, dtype=np.float64), a)


def test_graph_step_on_a_scalar_backend_recorded_gradient_does_not_crash():
    x = ad.Tensor([1.0, 2.0], requires_grad=True, backend="scalar")
    (g,) = ad.grad((x * x * x).sum(), x, create_graph=True)  # 3x^2
    try:
        steps = ad.graph.step(g, np.ones(2))
    except (RuntimeError, ValueError, TypeError):
        return  # a clear refusal is fine
    (_, p, pg), *_ = [s for s in steps if s[1] is x]
    np.testing.assert_allclose(np.asarray(pg, dtype=np.float64), [6.0, 12.0])  # d(3x^2)/dx = 6x


def test_a_rule_returning_a_gradient_of_the_wrong_shape_is_an_error_naming_the_op():
    # (a gradient with fewer axes than its input was summed back over the wrong axes)
    bad = ad.Op("shrinks", lambda x: x * 1.0, (lambda g, out, x: g.sum(axis=0),))
    x = ad.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"shrinks: the rule for input 0 .*\(3,\).*\(2, 3\)"):
        bad(x).sum().backward()


def test_moving_a_parameter_to_the_scalar_back_end_in_another_dtype_is_refused():
    p = ad.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="float64"):
        p.to_("scalar", np.float32)
