"""Dropout and batch normalisation, the two ops that behave differently in training and evaluation."""

from __future__ import annotations

import numbers

import numpy as np

from autodiff._engine import Op
from autodiff._mode import default_rng
from autodiff.ops._windows import shape_of
from autodiff.ops.elementwise import add, astype, mul, sub
from autodiff.ops.shape import _reshape
from autodiff.tensor import Tensor

__all__ = ["dropout", "batch_norm"]


def _float_dtype(x):
    dtype = x.dtype if isinstance(x, (Tensor, np.ndarray)) else np.dtype(np.float64)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


# --- dropout ----------------------------------------------------------------------------------

_dropout = Op(  # y = x * scale, scale = mask / (1 - p), a constant drawn once: dy/dx = scale
    "dropout", lambda x, scale: x * scale, (lambda grad, out, x, scale: grad * scale,), fresh=True
)


def dropout(x, p=0.5, training=True, rng=None):
    """Inverted dropout: zero each element with probability ``p`` and scale the kept ones by
    1/(1-p), so the expected value is unchanged.

    ``rng`` is a ``numpy.random.Generator``; by default the generator behind ``ad.manual_seed``.
    The mask is drawn once and backward uses the same mask. With ``training=False`` or ``p=0``
    the input is returned as it is. ``p`` must be in [0, 1) (ValueError otherwise).

    >>> y = ad.dropout(ad.ones(4, 5), p=0.25, rng=np.random.default_rng(0))   # 0 or 4/3
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
        raise ValueError(f"dropout: p must be a probability in [0, 1), got {p!r}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"dropout: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not training or p == 0:
        return x
    rng = default_rng() if rng is None else rng
    dtype = _float_dtype(x)
    keep = rng.random(shape_of(x)) >= p
    return _dropout(x, scale=keep.astype(dtype) * dtype.type(1 / (1 - p)))


# --- batch normalisation ----------------------------------------------------------------------


def _count(shape, axes):
    return int(np.prod([shape[a] for a in axes]))


def _normalize_forward(x, axes, eps):
    """x̂ and 1/σ (kept for the rule). Plain array arithmetic (no np.var), so the same code builds
    the Scalar graph on object arrays."""
    n = _count(x.shape, axes)
    d = x - x.sum(axis=axes, keepdims=True) / n
    inv_std = ((d * d).sum(axis=axes, keepdims=True) / n + eps) ** -0.5
    return d * inv_std, inv_std


def _normalize_rule(grad, out, x, axes, eps, saved=None):
    # x̂ = (x - μ)/σ with batch statistics: dx = (g - mean(g) - x̂ mean(g x̂)) / σ, σ = sqrt(var + eps).
    # Fused for speed; written with operators, so it records itself under create_graph (where
    # the forward's 1/σ, a constant, is not given).
    n = _count(x.shape, axes)
    inv_std = (x.var(axis=axes, keepdims=True) + eps) ** -0.5 if saved is None else saved
    return inv_std * (grad - grad.sum(axis=axes, keepdims=True) / n - out * (grad * out).sum(axis=axes, keepdims=True) / n)


_normalize = Op(
    "batch_norm", _normalize_forward, (_normalize_rule,), scalar=lambda x, axes, eps: _normalize_forward(x, axes, eps)[0],
    saves=True, fresh=True,
)


def _check_buffer(buf, name, c, xs):
    if buf is None:
        return
    if not isinstance(buf, np.ndarray):
        raise TypeError(f"batch_norm: {name} must be a NumPy array of shape ({c},) or None, got {type(buf).__name__}")
    if buf.shape != (c,) or buf.dtype.kind != "f":
        raise ValueError(
            f"batch_norm: {name} must be a float array of shape ({c},), got {buf.dtype} {buf.shape} (input shape {xs})"
        )


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation over the batch (and spatial) axes of x (N, C) or (N, C, H, W).

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` per channel. In training mode the batch
    statistics are used (the biased variance normalises) and ``running_mean``/``running_var``
    (float ndarrays of shape (C,), or None) are updated in place with the batch mean and the
    unbiased batch variance: ``r = (1 - momentum) r + momentum * batch_stat``, as PyTorch's
    buffers. In evaluation mode the running statistics are used, and must be given. ``weight``
    and ``bias`` (shape (C,)) may be None. As in ``torch.nn.functional.batch_norm``, ``weight``,
    ``bias`` and ``training`` default to None, None and False, and any (N, C, *) input works;
    ``momentum=None`` (PyTorch's cumulative average) is not supported. A float16 input is
    normalised in float32 (as in PyTorch) and the result cast back to float16.
    """
    xs = shape_of(x)
    if len(xs) < 2:
        raise ValueError(f"batch_norm: input must have shape (N, C) or (N, C, H, W), got shape {xs}")
    c = xs[1]
    _check_buffer(running_mean, "running_mean", c, xs)
    _check_buffer(running_var, "running_var", c, xs)
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    for name, v in (("weight", weight), ("bias", bias)):
        if v is not None and shape_of(v) != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},), got {shape_of(v)} (input shape {xs})")
    if not isinstance(momentum, numbers.Real) or not isinstance(eps, numbers.Real):
        raise TypeError("batch_norm: momentum and eps must be numbers")
    axes = (0,) + tuple(range(2, len(xs)))
    per_channel = (c,) + (1,) * (len(xs) - 2)
    dtype = _float_dtype(x)
    if training:
        n = _count(xs, axes)
        if n < 2:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input shape {xs}")
        if dtype == np.float16:  # in float32, as PyTorch: (x - mean)² overflows float16 past a spread of 256
            y = astype(_normalize(astype(x, dtype=np.dtype(np.float32)), axes=axes, eps=float(eps)), dtype=dtype)
        else:
            y = _normalize(x, axes=axes, eps=float(eps))
        if running_mean is not None:
            # in float64, with plain reductions (np.mean and np.var cost 6 µs more for 64 x 128)
            values = np.asarray(x.numpy() if isinstance(x, Tensor) else x, dtype=np.float64)
            mean = np.add.reduce(values, axis=axes) / n
            dev = values - mean.reshape(per_channel)
            dev *= dev
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * (np.add.reduce(dev, axis=axes) / (n - 1))  # unbiased
    else:
        if running_mean is None:
            raise ValueError("batch_norm: running_mean and running_var are needed in evaluation mode (training=False)")
        shift = running_mean.reshape(per_channel).astype(dtype)
        scale = ((running_var + eps) ** -0.5).reshape(per_channel).astype(dtype)
        y = mul(sub(x, shift), scale)
    if weight is not None:
        y = mul(y, _reshape(weight, shape=per_channel))
    if bias is not None:
        y = add(y, _reshape(bias, shape=per_channel))
    return y
