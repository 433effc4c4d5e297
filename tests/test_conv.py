"""conv1d / conv2d: forward against a Python-loop reference, gradients against finite differences
(first and second order), the two back ends against each other, and the error messages."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import autodiff as ad

MODES = ("zero", "replicate", "mirror", "symmetric", "circular")


def _source(i, n, mode):
    """The input index that padded position i (may be < 0 or >= n) copies, or None for a zero."""
    if 0 <= i < n:
        return i
    if mode == "zero":
        return None
    if mode == "replicate":
        return min(max(i, 0), n - 1)
    if mode == "mirror":
        return -i if i < 0 else 2 * (n - 1) - i
    if mode == "symmetric":
        return -i - 1 if i < 0 else 2 * n - 1 - i
    return i % n  # circular


def reference_conv(x, w, b, stride, padding, dilation, mode):
    """Direct loops over every output element and every kernel tap (1-D or 2-D)."""
    d = x.ndim - 2
    n_batch, c_in = x.shape[:2]
    c_out, ksize = w.shape[0], w.shape[2:]
    sizes = x.shape[2:]
    out = [(n + 2 * p - dl * (k - 1) - 1) // s + 1 for n, p, k, s, dl in zip(sizes, padding, ksize, stride, dilation)]
    y = np.zeros((n_batch, c_out, *out))
    for n, o in itertools.product(range(n_batch), range(c_out)):
        for pos in itertools.product(*(range(m) for m in out)):
            acc = 0.0 if b is None else b[o]
            for c in range(c_in):
                for tap in itertools.product(*(range(k) for k in ksize)):
                    src = [
                        _source(pos[a] * stride[a] + tap[a] * dilation[a] - padding[a], sizes[a], mode) for a in range(d)
                    ]
                    if None not in src:
                        acc += x[(n, c, *src)] * w[(o, c, *tap)]
            y[(n, o, *pos)] = acc
    return y


@st.composite
def conv_cases(draw, max_side=6, max_batch=2, max_channels=2):
    """A valid conv problem: dimension, shapes, stride, padding, dilation, mode and a seed."""
    d = draw(st.sampled_from([1, 2]))
    ksize = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    mode = draw(st.sampled_from(MODES))
    eff = [dl * (k - 1) + 1 for k, dl in zip(ksize, dilation)]
    if all(s == 1 for s in stride) and all(e % 2 for e in eff) and draw(st.booleans()):
        padding = "same"
        pads = [(e - 1) // 2 for e in eff]
    else:
        pads = [draw(st.integers(0, 2)) for _ in range(d)]
        padding = pads[0] if len(set(pads)) == 1 and draw(st.booleans()) else tuple(pads)
    # each axis long enough for the kernel and for the reflection modes
    lows = [max(1, e - 2 * p, p + 1) for e, p in zip(eff, pads)]
    sizes = tuple(draw(st.integers(lo, max(max_side, lo))) for lo in lows)
    n = draw(st.integers(1, max_batch))
    c_in, c_out = draw(st.integers(1, max_channels)), draw(st.integers(1, max_channels))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return dict(d=d, x=(n, c_in, *sizes), w=(c_out, c_in, *ksize), bias=bias, stride=stride, padding=padding,
                pads=tuple(pads), dilation=dilation, mode=mode, seed=seed)


def _arrays(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["x"])
    w = rng.standard_normal(case["w"])
    b = rng.standard_normal(case["w"][0]) if case["bias"] else None
    return x, w, b


def _conv(case):
    fn = ad.conv1d if case["d"] == 1 else ad.conv2d
    kw = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], padding_mode=case["mode"])
    return lambda x, w, b=None: fn(x, w, b, **kw)


def _tensors(case, backend="numpy"):
    return [None if a is None else ad.Tensor(a, requires_grad=True, backend=backend) for a in _arrays(case)]


@given(conv_cases())
def test_forward_matches_loops(case):
    x, w, b = _arrays(case)
    got = _conv(case)(ad.Tensor(x), ad.Tensor(w), None if b is None else ad.Tensor(b))
    want = reference_conv(x, w, b, case["stride"], case["pads"], case["dilation"], case["mode"])
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


@given(conv_cases())
def test_gradcheck(case):
    f = _conv(case)
    args = [t for t in _tensors(case) if t is not None]
    assert ad.gradcheck(f, args)


@settings(max_examples=10)
@given(conv_cases(max_side=4, max_batch=1))
def test_gradgradcheck(case):
    f = _conv(case)
    args = [t for t in _tensors(case) if t is not None]
    assert ad.gradgradcheck(f, args)


@settings(max_examples=8)
@given(conv_cases(max_side=4, max_batch=1))
def test_backends_agree(case):
    f = _conv(case)
    tn, ts = _tensors(case), _tensors(case, "scalar")
    yn, ys = f(*tn), f(*ts)
    np.testing.assert_allclose(ys.numpy(), yn.numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(1).standard_normal(yn.shape)
    yn.backward(g)
    ys.backward(g)
    for a, b in zip(tn, ts):
        if a is not None:
            np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradcheck_scalar_backend():
    rng = np.random.default_rng(0)
    x = ad.Tensor(rng.standard_normal((1, 2, 4)), requires_grad=True, backend="scalar")
    w = ad.Tensor(rng.standard_normal((2, 2, 3)), requires_grad=True, backend="scalar")
    b = ad.Tensor(rng.standard_normal(2), requires_grad=True, backend="scalar")
    f = lambda x, w, b: ad.conv1d(x, w, b, stride=2, padding=2, padding_mode="symmetric")
    assert ad.gradcheck(f, (x, w, b))
    assert ad.gradgradcheck(f, (x, w, b))


def test_third_derivative_through_conv_transpose():
    # d/dw of <grad_x(<v, conv(x, w)^2>), u> records conv_transpose and conv_weight_grad twice over
    rng = np.random.default_rng(2)
    x = ad.Tensor(rng.standard_normal((1, 1, 4, 4)), requires_grad=True)
    w = ad.Tensor(rng.standard_normal((1, 1, 2, 2)), requires_grad=True)

    def second(w):
        y = ad.conv2d(x, w, stride=2)
        (gx,) = ad.grad((y * y).sum(), x, create_graph=True)
        return (gx * gx).sum()

    assert ad.gradgradcheck(second, (w,))


def test_float32_stays_float32():
    rng = np.random.default_rng(0)
    x = ad.Tensor(rng.standard_normal((2, 3, 6, 6)), dtype=np.float32, requires_grad=True)
    w = ad.Tensor(rng.standard_normal((4, 3, 3, 3)), dtype=np.float32, requires_grad=True)
    y = ad.conv2d(x, w, padding=1, padding_mode="replicate")
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_unbatched_input_and_ndarrays():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 5, 6)), rng.standard_normal((2, 3, 3, 3))
    batched = ad.conv2d(ad.Tensor(x[None]), ad.Tensor(w), padding="same")
    single = ad.conv2d(ad.Tensor(x), ad.Tensor(w), padding="same")
    assert single.shape == (2, 5, 6)
    np.testing.assert_allclose(single.numpy(), batched.numpy()[0])
    plain = ad.conv2d(x[None], w, padding="same")  # ndarrays in, ndarray out
    assert isinstance(plain, np.ndarray)
    np.testing.assert_allclose(plain, batched.numpy())


def test_same_and_valid_shapes():
    x = ad.zeros(2, 3, 9, 7)
    assert ad.conv2d(x, ad.zeros(4, 3, 3, 5), padding="same").shape == (2, 4, 9, 7)
    assert ad.conv2d(x, ad.zeros(4, 3, 2, 2), padding="same", dilation=(2, 4)).shape == (2, 4, 9, 7)
    assert ad.conv2d(x, ad.zeros(4, 3, 3, 5), padding="valid").shape == (2, 4, 7, 3)
    assert ad.conv1d(ad.zeros(1, 1, 10), ad.zeros(1, 1, 3), stride=3).shape == (1, 1, 3)  # remainder dropped


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: ad.conv2d(ad.zeros(2, 3), ad.zeros(4, 3, 3, 3)), ["conv2d", "(N, C_in, H, W)", "(2, 3)"]),
        (lambda: ad.conv1d(ad.zeros(2, 3, 5), ad.zeros(4, 3, 3, 3)), ["conv1d", "weight", "(4, 3, 3, 3)"]),
        (lambda: ad.conv2d(ad.zeros(2, 3, 5, 5), ad.zeros(4, 2, 3, 3)), ["conv2d", "3 channels", "(2, 3, 5, 5)", "(4, 2, 3, 3)"]),
        (lambda: ad.conv1d(ad.zeros(1, 1, 5), ad.zeros(1, 1, 2), padding="same"), ["conv1d", "'same'", "odd", "(2,)"]),
        (lambda: ad.conv2d(ad.zeros(1, 1, 5, 5), ad.zeros(1, 1, 3, 3), padding="same", stride=2), ["conv2d", "stride"]),
        (lambda: ad.conv1d(ad.zeros(1, 1, 5), ad.zeros(1, 1, 3), padding="full"), ["conv1d", "'same'", "'valid'"]),
        (lambda: ad.conv1d(ad.zeros(1, 1, 2), ad.zeros(1, 1, 5)), ["conv1d", "larger", "(1, 1, 2)", "(1, 1, 5)"]),
        (lambda: ad.conv1d(ad.zeros(1, 1, 5), ad.zeros(2, 1, 3), ad.zeros(3)), ["conv1d", "bias", "(2,)", "(3,)"]),
        (lambda: ad.conv1d(ad.zeros(1, 1, 3), ad.zeros(1, 1, 3), padding=3, padding_mode="mirror"), ["conv1d", "mirror"]),
        (lambda: ad.conv1d(ad.zeros(1, 1, 5), ad.zeros(1, 1, 3), stride=0), ["conv1d", "stride"]),
    ],
)
def test_value_errors_name_the_op_and_shapes(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_unknown_mode_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        ad.conv2d(ad.zeros(1, 1, 5, 5), ad.zeros(1, 1, 3, 3), padding=1, padding_mode="reflect")
    message = str(info.value)
    assert "conv2d" in message and "'reflect'" in message
    assert all(repr(m) in message for m in MODES)


def test_bad_argument_types():
    with pytest.raises(TypeError, match="conv2d: stride"):
        ad.conv2d(ad.zeros(1, 1, 5, 5), ad.zeros(1, 1, 3, 3), stride=(1, 2, 3))
    with pytest.raises(TypeError, match="conv1d: padding"):
        ad.conv1d(ad.zeros(1, 1, 5), ad.zeros(1, 1, 3), padding=1.5)
