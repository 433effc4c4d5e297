"""Convolution: cross-correlation in one and two dimensions with PyTorch's layout.

    y[n, o, p] = sum_{c, k} x[n, c, stride * p + dilation * k] * w[o, c, k]   (+ bias[o])

Three bilinear ops are closed under differentiation: the correlation ``corr(x, w)``, its adjoint
in x (``corr_input``: the transposed correlation) and its adjoint in w (``corr_weight``). Each
op's rules are the other two, so gradients of any order are convolutions again. The rules are
fused (one matrix product each, for speed): an im2col matrix (C*K, N*out) is copied from a
strided view of the input, laid out so that the copy reads long contiguous runs. Padding is the
shared differentiable ``pad`` op. On the scalar back end the same NumPy code runs on object
arrays (a strided view, a copy and a matrix product of Scalars), building the Scalar graph.
"""

from __future__ import annotations

import numpy as np

from autodiff._engine import Op
from autodiff.ops._windows import ntuple, out_size, shape_of, tap_slices, windows
from autodiff.ops.elementwise import add
from autodiff.ops.padding import check_mode, pad
from autodiff.ops.shape import _reshape

__all__ = ["conv1d", "conv2d"]


def _im2col(x, ksize, stride, dilation):
    """The (C*K, N*out) matrix of the cells every output reads: row (c, k), column (n, p)."""
    d = len(ksize)
    win = windows(x, ksize, stride, dilation)  # (N, C, *out, *K), a view
    cols = win.transpose((1, *range(2 + d, 2 + 2 * d), 0, *range(2, 2 + d)))
    return cols.reshape(int(np.prod(cols.shape[: 1 + d])), -1)


def _out(shape, ksize, stride, dilation):
    return tuple(out_size(n, k, s, dl) for n, k, s, dl in zip(shape[2:], ksize, stride, dilation))


def _corr_forward(x, w, stride, dilation):
    ksize = w.shape[2:]
    y = w.reshape(w.shape[0], -1) @ _im2col(x, ksize, stride, dilation)  # (O, N*out)
    return y.reshape((w.shape[0], x.shape[0]) + _out(x.shape, ksize, stride, dilation)).swapaxes(0, 1)


def _by_channel(gy):
    """(N, O, *out) -> the (O, N*out) matrix."""
    return gy.swapaxes(0, 1).reshape(gy.shape[1], -1)


def _corr_weight_forward(x, gy, stride, dilation, ksize):
    # dw[o, c, k] = sum_{n, p} gy[n, o, p] x[n, c, stride p + dilation k]
    cols = _im2col(x, ksize, stride, dilation)
    return (_by_channel(gy) @ cols.T).reshape((gy.shape[1], x.shape[1]) + tuple(ksize))


def _corr_input_forward(gy, w, stride, dilation, shape):
    # dx[n, c, stride p + dilation k] += sum_o gy[n, o, p] w[o, c, k]: one product, then one
    # strided add per kernel tap (col2im).
    o, c, ksize = w.shape[0], w.shape[1], w.shape[2:]
    cols = w.reshape(o, -1).T @ _by_channel(gy)  # (C*K, N*out)
    cols = cols.reshape((c, int(np.prod(ksize)), gy.shape[0]) + gy.shape[2:])
    dx = np.zeros(shape, dtype=cols.dtype)
    for t, index in tap_slices(ksize, stride, dilation, gy.shape[2:]):
        dx[index] += cols[:, t].swapaxes(0, 1)
    return dx


# The rules. With T(x, w, gy) = <gy, corr(x, w)> (trilinear):
#   corr(x, w)         = dT/dgy;  its rules: dx = corr_input(grad, w), dw = corr_weight(x, grad)
#   corr_input(gy, w)  = dT/dx;   its rules: dgy = corr(grad, w),      dw = corr_weight(grad, gy)
#   corr_weight(x, gy) = dT/dw;   its rules: dx = corr_input(gy, grad), dgy = corr(x, grad)
def _corr_vjp(grad, out, x, w, needs, stride, dilation):
    return [
        _corr_input(grad, w, stride=stride, dilation=dilation, shape=tuple(x.shape)) if needs[0] else None,
        _corr_weight(x, grad, stride=stride, dilation=dilation, ksize=tuple(w.shape[2:])) if needs[1] else None,
    ]


def _corr_input_vjp(grad, out, gy, w, needs, stride, dilation, shape):
    return [
        _corr(grad, w, stride=stride, dilation=dilation) if needs[0] else None,
        _corr_weight(grad, gy, stride=stride, dilation=dilation, ksize=tuple(w.shape[2:])) if needs[1] else None,
    ]


def _corr_weight_vjp(grad, out, x, gy, needs, stride, dilation, ksize):
    return [
        _corr_input(gy, grad, stride=stride, dilation=dilation, shape=tuple(x.shape)) if needs[0] else None,
        _corr(x, grad, stride=stride, dilation=dilation) if needs[1] else None,
    ]


_corr = Op("conv", _corr_forward, vjp=_corr_vjp, fresh=True, uses_out=False)
_corr_input = Op("conv_transpose", _corr_input_forward, vjp=_corr_input_vjp, fresh=True, uses_out=False)
_corr_weight = Op("conv_weight_grad", _corr_weight_forward, vjp=_corr_weight_vjp, fresh=True, uses_out=False)


def _padding(padding, ksize, stride, dilation, where):
    d = len(ksize)
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{where}: padding='same' needs stride 1 (as in PyTorch), got stride {stride}")
            eff = tuple(dl * (k - 1) + 1 for k, dl in zip(ksize, dilation))
            if any(e % 2 == 0 for e in eff):
                raise ValueError(
                    f"{where}: padding='same' needs an odd effective kernel size dilation*(K-1)+1, "
                    f"got {eff} (kernel {tuple(ksize)}, dilation {dilation})"
                )
            return tuple((e - 1) // 2 for e in eff)
        raise ValueError(f"{where}: padding must be an int, a tuple of {d} ints, 'same' or 'valid', got {padding!r}")
    return ntuple(padding, d, "padding", where, minimum=0)


def _conv(x, w, bias, stride, padding, dilation, padding_mode, d, where):
    layout = "(N, C_in, L)" if d == 1 else "(N, C_in, H, W)"
    wlayout = "(C_out, C_in, K)" if d == 1 else "(C_out, C_in, KH, KW)"
    xs, ws = shape_of(x), shape_of(w)
    unbatched = len(xs) == d + 1  # (C_in, *spatial), as PyTorch accepts
    if unbatched:
        xs = (1,) + xs
    if len(xs) != d + 2:
        raise ValueError(f"{where}: input must have shape {layout}, got shape {shape_of(x)}")
    if len(ws) != d + 2:
        raise ValueError(f"{where}: weight must have shape {wlayout}, got shape {ws} (input shape {shape_of(x)})")
    if xs[1] != ws[1]:
        raise ValueError(
            f"{where}: input has {xs[1]} channels but the weight expects {ws[1]} "
            f"(input shape {shape_of(x)}, weight shape {ws})"
        )
    ksize = ws[2:]
    if min(ksize, default=1) < 1:
        raise ValueError(f"{where}: empty kernel in weight shape {ws}")
    stride = ntuple(stride, d, "stride", where)
    dilation = ntuple(dilation, d, "dilation", where)
    check_mode(padding_mode, where)
    pads = _padding(padding, ksize, stride, dilation, where)
    for n, p, k, dl in zip(xs[2:], pads, ksize, dilation):
        if n + 2 * p < dl * (k - 1) + 1:
            raise ValueError(
                f"{where}: kernel {tuple(ksize)} with dilation {dilation} is larger than the padded input "
                f"(input shape {shape_of(x)}, padding {pads}, weight shape {ws})"
            )
    if bias is not None and shape_of(bias) != (ws[0],):
        raise ValueError(f"{where}: bias must have shape ({ws[0]},), got {shape_of(bias)} (weight shape {ws})")
    if unbatched:
        x = _reshape(x, shape=xs)
    if any(pads):
        try:
            x = pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in pads), mode=padding_mode)
        except ValueError as e:
            raise ValueError(f"{where}: {e} (input shape {shape_of(x)}, padding {pads})") from None
    y = _corr(x, w, stride=stride, dilation=dilation)
    if bias is not None:
        y = add(y, _reshape(bias, shape=(ws[0],) + (1,) * d))
    if unbatched:
        y = _reshape(y, shape=shape_of(y)[1:])
    return y


def conv1d(x, w, bias=None, stride=1, padding=0, dilation=1, padding_mode="zero"):
    """1-D cross-correlation: x (N, C_in, L), w (C_out, C_in, K), bias (C_out,) -> (N, C_out, L_out).

    ``L_out = (L + 2 padding - dilation (K - 1) - 1) // stride + 1``. ``padding`` is an int, a
    1-tuple, ``"valid"`` (0) or ``"same"`` (stride 1 and an odd ``dilation*(K-1)+1``: keeps L);
    ``padding_mode`` is one of ``"zero" "replicate" "mirror" "symmetric" "circular"`` (PyTorch's
    ``"reflect"`` is ``"mirror"``). An unbatched input (C_in, L) gives (C_out, L_out), as in
    PyTorch. Differentiable in x, w and bias to any order.

    >>> y = ad.conv1d(ad.randn(2, 3, 10), ad.randn(4, 3, 3), padding="same")   # (2, 4, 10)
    """
    return _conv(x, w, bias, stride, padding, dilation, padding_mode, 1, "conv1d")


def conv2d(x, w, bias=None, stride=1, padding=0, dilation=1, padding_mode="zero"):
    """2-D cross-correlation: x (N, C_in, H, W), w (C_out, C_in, KH, KW) -> (N, C_out, H_out, W_out).

    ``stride``, ``padding`` and ``dilation`` are an int or an (h, w) pair; ``padding`` may also be
    ``"valid"`` or ``"same"`` (as in ``conv1d``), and ``padding_mode`` is one of ``"zero"
    "replicate" "mirror" "symmetric" "circular"``. The same padding is applied on both sides of an
    axis. An unbatched input (C_in, H, W) is accepted, as in PyTorch.

    >>> y = ad.conv2d(ad.randn(8, 1, 28, 28), ad.randn(6, 1, 3, 3), stride=2)   # (8, 6, 13, 13)
    """
    return _conv(x, w, bias, stride, padding, dilation, padding_mode, 2, "conv2d")
