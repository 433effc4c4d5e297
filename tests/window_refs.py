"""NumPy references and input strategies for the windowed ops of the op table (convolution and
pooling), kept out of op_table.py so the table stays readable. The references gather every
window with fancy indexing: independent of the im2col and tap-loop code under test."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autodiff.ops.padding import MODES
from autodiff.testing import finite_floats

_NUMPY_PAD = {"zero": "constant", "replicate": "edge", "mirror": "reflect", "symmetric": "symmetric", "circular": "wrap"}


def _windows(xp, ksize, stride, dilation):
    """(N, C, *out, *ksize): the cells each output position reads."""
    d = len(ksize)
    idx = []
    for n, k, s, dl in zip(xp.shape[2:], ksize, stride, dilation):
        out = (n - dl * (k - 1) - 1) // s + 1
        idx.append(np.arange(out)[:, None] * s + dl * np.arange(k))  # (out, k)
    if d == 1:
        return xp[:, :, idx[0]]
    return xp[:, :, idx[0][:, None, :, None], idx[1][None, :, None, :]]


def conv_ref(x, w, bias=None, stride=1, padding=0, dilation=1, padding_mode="zero"):
    """Cross-correlation by gathering windows: PyTorch's conv1d/conv2d (int arguments)."""
    d = w.ndim - 2
    pw = ((0, 0), (0, 0)) + ((padding, padding),) * d
    xp = np.pad(x, pw, mode=_NUMPY_PAD[padding_mode])
    win = _windows(xp, w.shape[2:], (stride,) * d, (dilation,) * d)
    if d == 1:
        y = np.einsum("nclk,ock->nol", win, w)
    else:
        y = np.einsum("nchwij,ocij->nohw", win, w)
    return y if bias is None else y + bias.reshape((-1,) + (1,) * d)


def pool_ref(reduce, d):
    def ref(x, kernel_size, stride=None):
        k = (kernel_size,) * d
        win = _windows(x, k, (stride or kernel_size,) * d, (1,) * d)
        return reduce(win, axis=tuple(range(-d, 0)))

    return ref


@st.composite
def conv_inputs(draw, s, d):
    """(x, w[, bias]) and the conv keywords, small enough for the scalar back end."""
    side = 4 if s.max_side >= 4 else 3
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k = draw(st.integers(1, 3 if d == 1 else 2))
    dilation = draw(st.integers(1, 2))
    padding = draw(st.integers(0, 1))
    mode = draw(st.sampled_from(MODES))
    reach = dilation * (k - 1) + 1
    low = max(reach - 2 * padding, 2)
    spatial = tuple(draw(st.integers(low, max(low, side + 1))) for _ in range(d))
    stride = draw(st.integers(1, 2))
    arr = lambda shape: draw(hnp.arrays(np.float64, shape, elements=finite_floats()))  # noqa: E731
    arrays = [arr((n, c) + spatial), arr((o, c) + (k,) * d)]
    if draw(st.booleans()):
        arrays.append(arr((o,)))
    kw = {"stride": stride, "padding": padding, "dilation": dilation, "padding_mode": mode}
    return tuple(arrays), kw


@st.composite
def pool_inputs(draw, s, d, tie_free):
    """(x,) and kernel_size/stride; max pooling gets tie-free values (a tie is a kink)."""
    side = 5 if s.max_side >= 4 else 4
    k = draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + tuple(draw(st.integers(k, side)) for _ in range(d))
    if tie_free:
        elements = st.integers(0, 400).map(lambda i: -2 + i / 100)
        x = draw(hnp.arrays(np.float64, shape, elements=elements, unique=True))
    else:
        x = draw(hnp.arrays(np.float64, shape, elements=finite_floats()))
    stride = draw(st.sampled_from([None, 1, 2]))
    return (x,), {"kernel_size": k, "stride": stride}
