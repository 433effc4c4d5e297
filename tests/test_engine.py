"""The Tensor engine (API.md §2): backward, retain_graph, create_graph, ad.grad, grad modes,
detach, requires_grad rules and anomaly detection, on both back ends."""

import warnings

import numpy as np
import pytest

import autodiff as ad
from autodiff import Op

BOTH = pytest.mark.parametrize("backend", ad.BACKENDS)


def T(x, backend, rg=True):
    return ad.Tensor(np.asarray(x, dtype=np.float64), requires_grad=rg, backend=backend)


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


@BOTH
def test_backward_accumulates_into_leaves(backend):
    x = T([1.0, 2.0], backend)
    w = T([[1.0, -1.0], [0.5, 2.0]], backend)
    y = (x @ w).tanh().sum() + (x * x).sum()
    y.backward()
    first = x.grad.numpy().copy()
    assert isinstance(x.grad, ad.Tensor) and x.grad.backend == backend and x.grad.shape == (2,)
    assert w.grad.shape == (2, 2)
    ((x @ w).tanh().sum() + (x * x).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


@BOTH
def test_backward_of_a_non_scalar_needs_a_gradient_of_its_shape(backend):
    x = T([1.0, 2.0], backend)
    y = x * x
    with pytest.raises(RuntimeError, match="gradient"):
        y.backward()
    with pytest.raises(ValueError, match="shape"):
        y.backward(np.ones(3))
    y.backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 40.0])


@BOTH
def test_deep_chain_has_no_recursion_error(backend):
    x = T([0.5], backend)
    y = x
    for _ in range(20_000 if backend == "numpy" else 5_000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    assert x.grad.item() == 1.0


@BOTH
def test_second_backward_needs_retain_graph(backend):
    x = T([1.0, 3.0], backend)
    y = (x * x.exp()).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (1 + x.numpy()) * np.exp(x.numpy()))
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    z = (x * 2.0).sum()
    ad.grad(z, x)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        ad.grad(z, x)


def _f(x, a):
    # a smooth function of a vector x with a non-trivial Hessian
    return (ad.sin(x) * x * x).sum() + ad.logsumexp(x * a) + ((a @ x) ** 2)


@BOTH
def test_create_graph_hessian_vector_product_matches_finite_differences(backend):
    rng = np.random.default_rng(1)
    x0, a0, v = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)
    x, a = T(x0, backend), T(a0, backend, rg=False)
    (g,) = ad.grad(_f(x, a), x, create_graph=True)
    assert g.requires_grad
    (hv,) = ad.grad((g * T(v, backend, rg=False)).sum(), x)

    def grad_at(p):
        xp = T(p, backend)
        return ad.grad(_f(xp, a), xp)[0].numpy()

    eps = 1e-5
    numeric = (grad_at(x0 + eps * v) - grad_at(x0 - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hv.numpy(), numeric, rtol=1e-6, atol=1e-8)


@BOTH
def test_gradient_penalty_backward_matches_finite_differences(backend):
    # loss(w) = mean((x @ w).tanh()) + |d out / d x|², differentiated in w through ad.grad
    rng = np.random.default_rng(2)
    x0, w0 = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))

    def loss(w_values, create_graph):
        x, w = T(x0, backend), T(w_values, backend)
        out = (x @ w).tanh().mean()
        (gx,) = ad.grad(out, x, create_graph=create_graph)
        return out + (gx * gx).sum(), w

    total, w = loss(w0, True)
    total.backward()
    numeric = np.zeros_like(w0)
    for i in np.ndindex(w0.shape):
        up, down = w0.copy(), w0.copy()
        up[i] += 1e-6
        down[i] -= 1e-6
        numeric[i] = (loss(up, False)[0].item() - loss(down, False)[0].item()) / 2e-6
    np.testing.assert_allclose(w.grad.numpy(), numeric, rtol=1e-5, atol=1e-8)


@BOTH
def test_grad_returns_gradients_without_touching_dot_grad(backend):
    x, y, unused = T([1.0, 2.0], backend), T([3.0], backend), T([0.0], backend)
    out = (x * y).sum()
    gx, gy = ad.grad(out, [x, y], retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(gy.numpy(), [3.0])
    assert x.grad is None and y.grad is None
    with pytest.raises(RuntimeError, match="allow_unused"):
        ad.grad(out, [x, unused], retain_graph=True)
    gx2, gu = ad.grad(out, [x, unused], allow_unused=True, retain_graph=True)
    assert gu is None
    (gx3,) = ad.grad(x * y, x, grad_outputs=np.array([1.0, -1.0]))
    np.testing.assert_allclose(gx3.numpy(), [3.0, -3.0])
    with pytest.raises(RuntimeError):  # an input that does not require grad
        ad.grad((x * 2).sum(), T([1.0], backend, rg=False))


@BOTH
def test_no_grad_enable_grad_and_decorator(backend):
    x = T([1.0, 2.0], backend)
    assert ad.is_grad_enabled()
    with ad.no_grad():
        assert not ad.is_grad_enabled()
        y = x * 2
        with ad.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.is_leaf and y.op == ""
    assert z.requires_grad and z.op
    if backend == "scalar":  # the Scalars made under no_grad are not graph nodes either
        assert all(s.is_leaf for s in y.data.ravel())

    @ad.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad and ad.is_grad_enabled()
    with ad.set_grad_enabled(False):
        assert not (x + 1).requires_grad
    assert (x + 1).requires_grad


@BOTH
def test_detach_cuts_the_graph(backend):
    x = T([1.0, 2.0], backend)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    np.testing.assert_array_equal(d.numpy(), x.numpy())
    (x * d).sum().backward()  # d is a constant: the gradient is d, not 2x
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])
    if backend == "numpy":
        assert np.shares_memory(d.numpy(), x.numpy())


@BOTH
def test_requires_grad_rules(backend):
    x = T([1.0], backend, rg=False)
    assert not x.requires_grad and not (x * 2).requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert y.requires_grad and not y.is_leaf
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    x.requires_grad_(False)
    assert not x.requires_grad
    for data in (np.arange(3), np.array([True, False])):
        with pytest.raises(TypeError, match="requires_grad"):
            ad.Tensor(data, requires_grad=True, backend=backend)
        with pytest.raises(TypeError):
            ad.Tensor(data, backend=backend).requires_grad_()
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).sum().backward()


@BOTH
def test_detect_anomaly_names_the_op_in_forward_and_backward(backend):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with ad.detect_anomaly():
            with pytest.raises(FloatingPointError, match="forward of 'log'"):
                ad.log(T([-1.0, 1.0], backend))
            x = T([0.0, 4.0], backend)
            y = x.sqrt().sum()  # finite forward, inf derivative at 0
            with pytest.raises(FloatingPointError, match="backward of 'sqrt'"):
                y.backward()
        ad.log(T([-1.0], backend))  # outside the context nan passes silently
        x = T([0.0], backend)
        x.sqrt().sum().backward()
        assert x.grad.item() == np.inf


@BOTH
def test_shape_mismatch_names_the_op_and_both_shapes(backend):
    a, b = ad.zeros(2, 3, backend=backend), ad.zeros(4, backend=backend)
    for fn, name in [(lambda: a + b, "add"), (lambda: a * b, "mul"), (lambda: a @ b, "matmul"),
                     (lambda: ad.maximum(a, b), "maximum")]:
        with pytest.raises(ValueError) as info:
            fn()
        msg = str(info.value)
        assert msg.startswith(name) and "(2, 3)" in msg and "(4,)" in msg


@BOTH
def test_linear_shape_errors_name_the_op_and_the_shapes(backend):
    x, w = ad.zeros(2, 3, backend=backend), ad.zeros(3, 4, backend=backend)
    with pytest.raises(ValueError, match=r"linear: .*\(3, 4\) and \(3,\)"):
        ad.linear(x, w, ad.zeros(3, backend=backend))
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 4\) do not align"):
        ad.linear(x, ad.zeros(4, 4, backend=backend), ad.zeros(4, backend=backend))


def test_linear_keeps_dtype_rules_of_x_at_w_plus_b():
    # The in-place bias add must not change NumPy's result type: a float64 bias on a float32
    # product gives float64, as x @ W + b does; the gradients match the two-op graph.
    rng = np.random.default_rng(0)
    x = ad.Tensor(rng.standard_normal((5, 3)).astype(np.float32))
    w = ad.Tensor(rng.standard_normal((3, 2)).astype(np.float32), requires_grad=True)
    for bdtype in (np.float32, np.float64):
        b = ad.Tensor(rng.standard_normal(2).astype(bdtype), requires_grad=True)
        fused, plain = ad.linear(x, w, b), x @ w + b
        assert fused.dtype == plain.dtype
        np.testing.assert_array_equal(fused.numpy(), plain.numpy())
        (gw, gb), (pw, pb) = ad.grad(fused.sum(), [w, b]), ad.grad(plain.sum(), [w, b])
        np.testing.assert_allclose(gw.numpy(), pw.numpy(), rtol=1e-6)
        np.testing.assert_array_equal(gb.numpy(), pb.numpy())
        assert gw.dtype == np.float32 and gb.dtype == bdtype


class _FailsOnce(ad.Function):
    """The identity, whose backward raises the first time it runs."""

    calls = 0

    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        _FailsOnce.calls += 1
        if _FailsOnce.calls == 1:
            raise ArithmeticError("boom")
        return g


def test_a_backward_that_raises_leaves_no_gradient_behind():
    # Gradients in flight sit on the nodes during backward; an exception must drop them, so a
    # later pass through the same nodes sums only its own gradients.
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0  # shared by both passes
    w = ad.Tensor([5.0, 7.0], requires_grad=True)
    with pytest.raises(ArithmeticError, match="boom"):
        (_FailsOnce.apply(h) * w + h).sum().backward(retain_graph=True)
    assert x.grad is None and w.grad is not None  # w's gradient had landed; x's had not
    w.grad = None
    (h * w).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [15.0, 21.0])  # 3 * w, nothing left over
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 6.0])


class _GradOut(ad.Function):
    """The identity, whose backward returns an array it made in one of several ways (``kind``):
    fresh, fresh but also kept, or a view of a fresh, a kept or a much larger array."""

    kept = []  # arrays the backward keeps a reference to
    made = []  # ids of the arrays it returned

    @staticmethod
    def forward(ctx, x, kind):
        ctx.kind = kind
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        g, n = g.numpy(), g.shape[0]
        pad = 10 * n if ctx.kind == "sliver" else 1
        out = np.array(g, copy=True) if ctx.kind in ("fresh", "kept") else np.concatenate([g, np.zeros(pad)])
        if ctx.kind in ("kept", "view of kept"):
            _GradOut.kept.append(out)
        out = out if ctx.kind in ("fresh", "kept") else out[:n]
        _GradOut.made.append(id(out))
        return out, None


@pytest.mark.parametrize("kind", ["fresh", "kept", "view", "view of kept", "sliver"])
def test_a_leaf_grad_never_shares_memory_with_an_array_held_elsewhere(kind):
    # A custom Function declares nothing about the arrays its backward returns: whatever it
    # returns (an array it keeps, a view of one), the leaf's .grad is an array of its own.
    n = 3 if kind in ("view", "view of kept", "sliver") else 2
    x = ad.Tensor(np.arange(1.0, n + 1.0), requires_grad=True)
    _GradOut.apply(x, kind).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(n))
    for held in _GradOut.kept:
        assert not np.shares_memory(x.grad.numpy(), held)
    assert x.grad.numpy().flags.writeable and x.grad.numpy().flags.owndata
    # the caller's gradient array, and one array handed to two leaves, are copied too, by the
    # first-order pass and in anomaly mode
    for anomaly in (False, True):
        g = np.array([3.0, 4.0])
        a, b = ad.Tensor([1.0, 2.0], requires_grad=True), ad.Tensor([1.0, 2.0], requires_grad=True)
        with ad.detect_anomaly(anomaly):
            (a + b).backward(gradient=g)
        assert not np.shares_memory(a.grad.numpy(), g) and not np.shares_memory(b.grad.numpy(), g)
        assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
        g[:] = 0
        np.testing.assert_array_equal(a.grad.numpy(), [3.0, 4.0])


@pytest.mark.parametrize("fresh", [True, False])
def test_whether_a_leaf_keeps_a_rules_array_is_what_the_op_declares(fresh):
    # No reference counts are read: an op that declares its rule's arrays fresh hands them to the
    # leaf as they are; one that does not gets them copied. (This op's rule lies on purpose — it
    # keeps the array it returns — to show which of the two decided.)
    kept = []

    def rule(g, out, x):
        kept.append(np.array(g, copy=True))
        return kept[-1]

    op = Op("identity_keeping", lambda x: x.copy(), (rule,), fresh=fresh)
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    op(x).backward(gradient=np.array([5.0, 6.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 6.0])
    assert np.shares_memory(x.grad.numpy(), kept[-1]) == fresh
    # a gradient that the engine summed back over broadcast axes is its own, whatever the op says
    y = ad.Tensor([1.0], requires_grad=True)
    op(y * np.ones(3)).backward(gradient=np.array([1.0, 2.0, 3.0]))
    assert y.grad.item() == 6.0 and not np.shares_memory(y.grad.numpy(), kept[-1])


def test_leaf_gradients_accumulate_however_they_are_read_between_passes():
    # Every mix of passes (first order, anomaly mode) and reads must add up and keep one .grad
    # Tensor once it exists (accumulated in place, as PyTorch does).
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * 4.0).sum().backward()  # bare + bare
    first = x.grad
    assert isinstance(first, ad.Tensor) and x.grad is first
    np.testing.assert_array_equal(first.numpy(), [7.0, 7.0])
    (x * 5.0).sum().backward()  # into the existing Tensor
    assert x.grad is first
    np.testing.assert_array_equal(first.numpy(), [12.0, 12.0])
    y = ad.Tensor([1.0, 2.0], requires_grad=True)
    (y * 2.0).sum().backward()  # then a pass in anomaly mode adds to it
    with ad.detect_anomaly():
        (y * 3.0).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [5.0, 5.0])
    w = ad.Tensor([1.0, 1.0], requires_grad=True)  # an optimizer steps on a gradient never read
    (w * ad.Tensor([2.0, -4.0])).sum().backward()
    ad.nn.optim.SGD([w], lr=0.5).step()
    np.testing.assert_array_equal(w.numpy(), [0.0, 3.0])


def _square_saving(calls):
    """x², an Op whose forward saves 2x for its rule; ``calls`` records what each rule call got."""

    def forward(x):
        return x * x, 2.0 * x

    def rule(g, out, x, saved=None):
        calls.append(saved)
        return g * (2.0 * x if saved is None else saved)

    return Op("square_saving", forward, (rule,), scalar=lambda x: x * x, saves=True)


def test_saved_arrays_reach_the_rule_only_when_the_call_is_recorded():
    calls = []
    op = _square_saving(calls)
    x = ad.Tensor([1.0, -3.0], requires_grad=True)
    np.testing.assert_array_equal(op(np.array([1.0, -3.0])), [1.0, 9.0])  # arrays in: the result alone
    with ad.no_grad():
        y = op(x)
    assert not y.requires_grad and y.is_leaf and ad.graph.saved(y) is None  # nothing kept unrecorded
    y = op(x).sum()
    y.backward(retain_graph=True)
    y.backward()  # the rule must leave its saved arrays as they were for a second pass
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, -12.0])
    assert len(calls) == 2 and all(np.array_equal(c, [2.0, -6.0]) for c in calls)
    (g,) = ad.grad(op(x).sum(), x, create_graph=True)  # Tensors in: the rule records, saved or not
    (gg,) = ad.grad(g.sum(), x)
    np.testing.assert_array_equal(gg.numpy(), [2.0, 2.0])
    assert ad.gradcheck(op, (ad.Tensor([0.5, -2.0], requires_grad=True),))


def test_saves_needs_a_scalar_forward_that_returns_the_result_alone():
    with pytest.raises(ValueError, match="saves=True needs a scalar forward"):
        Op("bad", lambda x: (x, x), (lambda g, out, x, saved=None: g,), saves=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_0d_leaf_gets_a_tensor_gradient_that_accumulates(dtype):
    # Arithmetic on 0-d arrays gives NumPy scalars; a gradient must still be a Tensor around an
    # ndarray, however it was reached, and an optimizer must be able to step a 0-d parameter.
    w = ad.Tensor(dtype(2.0), requires_grad=True)
    for f, slope in ((lambda w: w, 1.0), (lambda w: w * 1, 1.0), (lambda w: w * w, 4.0)):
        w.grad = None
        f(w).backward()
        f(w).backward()  # accumulates
        g = w.grad
        assert isinstance(g, ad.Tensor) and type(g.data) is np.ndarray and g.dtype == dtype
        assert g.item() == 2 * slope
    (g,) = ad.grad(w * w * 3, w)
    assert type(g.data) is np.ndarray and g.item() == 12.0
    _ = w.grad  # wrapped; a later pass adds to the Tensor
    (w * 5).backward()
    assert type(w.grad.data) is np.ndarray and w.grad.item() == 8.0 + 5
    for opt in (ad.nn.optim.SGD, ad.nn.optim.Adam):
        p = ad.Tensor(dtype(1.5), requires_grad=True)
        (p * p).backward()
        opt([p], lr=0.1).step()
        assert p.item() < 1.5


class _WritesIntoG(ad.Function):
    """2x, whose backward (wrongly) writes into the gradient it is given."""

    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, g):
        g.data[...] *= 2.0
        return g


def test_a_custom_backward_that_writes_into_its_gradient_gets_a_clear_error():
    # The gradient a backward gets may be the caller's array, shared with another input's
    # gradient (add hands one array to both) or a read-only broadcast view: writing into it
    # corrupted other gradients silently. It is read-only, and the error says what to do.
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    w = ad.Tensor([0.0, 0.0], requires_grad=True)
    caller = np.ones(2)
    for run in (lambda: _WritesIntoG.apply(x).sum().backward(),
                lambda: (w + _WritesIntoG.apply(x)).backward(caller),
                lambda: _WritesIntoG.apply(ad.Tensor(3.0, requires_grad=True)).backward()):
        with pytest.raises(ValueError, match="_WritesIntoG.backward: .*read-only.*if that is what it wrote into"):
            run()
    np.testing.assert_array_equal(caller, [1.0, 1.0])


class _SeesG(ad.Function):
    """2x; its backward records what it was given."""

    seen = []

    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, g):
        _SeesG.seen.append(type(g.data))
        return g * 2.0


def test_a_custom_backward_gets_an_array_also_when_the_gradient_is_0d():
    # (y * y) hands its 0-d gradient on as a NumPy scalar; the Function still sees an ndarray.
    x = ad.Tensor(3.0, requires_grad=True)
    y = _SeesG.apply(x)  # 6
    (y * y).backward()  # dL/dy = 2y = 12
    assert x.grad.item() == 24.0 and _SeesG.seen[-1] is np.ndarray


def test_the_seed_of_backward_never_becomes_a_gradient_the_user_shares():
    x = ad.Tensor(np.float32(3.0), requires_grad=True)
    x.backward()
    x.grad.data += 1  # the user's array to change
    x.backward()
    assert x.grad.item() == 3.0
    y = ad.Tensor(np.float32(4.0), requires_grad=True)
    y.backward()
    assert y.grad.item() == 1.0 and y.grad.numpy().flags.writeable


def test_what_a_forward_saved_goes_with_the_graph_after_backward():
    calls = []
    op = _square_saving(calls)
    for first_order in (True, False):
        x = ad.Tensor([1.0, -3.0], requires_grad=True)
        y = op(x)
        if first_order:
            y.sum().backward(retain_graph=True)
            assert ad.graph.saved(y) is not None  # kept for the next pass
            y.sum().backward()
        else:  # the general pass (ad.grad)
            ad.grad(y.sum(), x)
        assert ad.graph.saved(y) is None and ad.graph.freed(y)


class _Sq(ad.Function):
    """x², its backward written with Tensor ops (a reshape too: g must be a Tensor under
    create_graph on both back ends)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g.reshape(x.shape)


@BOTH
def test_a_custom_function_is_differentiable_again_under_create_graph_from_a_constant_seed(backend):
    # ad.grad(f(x).sum(), x, create_graph=True) seeds backward with constant ones: the Function's
    # backward must still be recorded, or the second-order terms vanish (they did: [1, 1]).
    for square in (lambda x: _Sq.apply(x), lambda x: x * x):
        x = T([1.0, 2.0], backend)
        (g,) = ad.grad(square(x).sum(), x, create_graph=True)  # g = 2x
        ((g * g).sum() + x.sum()).backward()  # d/dx (4x² + x) = 8x + 1
        np.testing.assert_allclose(x.grad.numpy(), [9.0, 17.0])


def test_the_read_only_error_of_a_custom_backward_keeps_the_original_message():
    class WritesElsewhere(ad.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.table = np.broadcast_to(np.ones(1), (2,))  # read-only, not the gradient
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            ctx.table[0] = 5.0
            return g

    with pytest.raises(ValueError, match="WritesElsewhere.backward: assignment destination is read-only.*if that is"):
        WritesElsewhere.apply(ad.Tensor([1.0, 2.0], requires_grad=True)).sum().backward()


def test_a_copy_of_a_gradient_taken_with_np_array_is_a_copy():
    # np.array(t) / np.array(t, copy=True) must copy (NumPy's __array__ protocol); a backward that
    # copies its gradient that way may then write into the copy.
    t = ad.Tensor([1.0, 2.0])
    assert not np.shares_memory(np.array(t), t.data) and not np.shares_memory(np.array(t, copy=True), t.data)
    assert np.asarray(t) is t.data and np.asarray(t, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="needs a copy"):
        np.array(t, dtype=np.float32, copy=False)

    class CopiesThenWrites(ad.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            a = np.array(g)
            a *= 2.0
            return a

    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    CopiesThenWrites.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


class _ExpSavesOutput(ad.Function):
    """exp, saving its result for backward, as in PyTorch's example."""

    @staticmethod
    def forward(ctx, x):
        y = ad.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


@BOTH
def test_a_custom_function_that_saves_its_output_has_the_right_second_derivative(backend):
    # forward runs without recording, so the saved output was a constant and d²/dx² lost exp(x)
    x0 = np.array([0.5, 1.0])
    x = T(x0, backend)
    (g,) = ad.grad(_ExpSavesOutput.apply(x).sum() + (x**3).sum(), x, create_graph=True)
    (h,) = ad.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), np.exp(x0) + 6 * x0)
    assert ad.gradgradcheck(_ExpSavesOutput.apply, (T([0.3, -0.2], backend),))


@BOTH
def test_a_custom_backward_under_create_graph_gets_a_tensor_it_can_reshape(backend):
    x = T([1.0, 2.0], backend)
    (g,) = ad.grad(_Sq.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])


def test_create_graph_leaf_gradients_never_share_memory_with_the_seed_or_each_other():
    x, v = ad.Tensor([1.0, 2.0], requires_grad=True), np.ones(2)
    (x + 0.0).backward(v, create_graph=True)
    v *= 10  # the caller's seed
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    for seed in (np.ones(2), ad.Tensor([1.0, 1.0], requires_grad=True)):
        a, b = ad.Tensor([1.0, 2.0], requires_grad=True), ad.Tensor([3.0, 4.0], requires_grad=True)
        (a + b).backward(seed, create_graph=True)
        assert a.grad is not b.grad and a.grad is not seed
        a.grad.numpy()[:] = 0
        np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])
    b.grad.sum().backward()  # the copy is recorded: the seed Tensor gets its gradient
    np.testing.assert_array_equal(seed.grad.numpy(), [1.0, 1.0])
