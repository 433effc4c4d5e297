"""Loss functions and weight penalties. Cross-entropy is one fused op (stable, one node, its own
rule softmax − target); the others are composed from ops, which carry their derivatives.

Every loss takes ``reduction="mean" | "sum" | "none"`` (per-sample values), as in PyTorch.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from autodiff._engine import Op
from autodiff.ops.activation import softmax
from autodiff.ops.elementwise import abs as _abs, relu, sigmoid
from autodiff.ops.reduce import kept_reduce
from autodiff.scalar import Scalar
from autodiff.tensor import Tensor

__all__ = [
    "mse_loss", "cross_entropy", "binary_cross_entropy_with_logits", "hinge_loss", "l1_penalty",
    "l2_penalty", "one_hot",
]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction, where):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{where}: reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _values(y):
    """Plain values of a target (Tensor, ndarray, list or number)."""
    if isinstance(y, Tensor):
        return y.numpy() if y.dtype.kind == "f" else y.data
    return np.asarray(y)


def one_hot(y, num_classes=None, dtype=np.float64):
    """Rows of the identity: ``one_hot([2, 0], 3)`` is [[0, 0, 1], [1, 0, 0]].

    ``y``: integer class indices (array, list or integer Tensor) of any shape; the result has
    one more axis of length ``num_classes`` (default max(y) + 1). An ndarray, or a Tensor on
    the same back end when ``y`` is a Tensor.
    """
    idx = _values(y)
    if idx.dtype.kind == "f" and np.all(idx == np.round(idx)):
        idx = idx.astype(np.intp)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: class indices must be integers, got dtype {idx.dtype}")
    k = int(idx.max()) + 1 if num_classes is None and idx.size else int(num_classes or 0)
    if idx.size and (idx.min() < 0 or idx.max() >= k):
        raise ValueError(f"one_hot: class indices must lie in [0, {k}), got range [{idx.min()}, {idx.max()}]")
    out = np.zeros(idx.shape + (k,), dtype=dtype)
    np.put_along_axis(out, idx[..., None].astype(np.intp), 1, axis=-1)
    return Tensor(out, backend=y.backend) if isinstance(y, Tensor) else out


# --- cross-entropy: log-softmax and NLL fused ------------------------------------------------


_add_reduce, _max_reduce = np.add.reduce, np.maximum.reduce  # (np.sum's Python wrapper costs a µs)


def _ce_parts(z, target, reduction):
    """The loss of logits ``z`` whose rows' maxima are subtracted (so exp never overflows), and
    what the rule reuses: exp(z), its row sums (N, 1), and for an index target the flat
    positions of the targets' logits."""
    e = np.exp(z)
    s = kept_reduce(np.add, e, 1)
    lse = np.log(s).reshape(-1)
    flat = None
    if target.dtype.kind == "f":  # -sum_c t_c log softmax_c = lse·sum(t) - <t, z>
        loss = lse * _add_reduce(target, axis=1) - _add_reduce(target * z, axis=1)
    else:  # (a flat gather: a tenth of the time of z[arange(n), target])
        n, k = z.shape
        flat = np.arange(n) * k
        flat += target
        loss = lse - z.reshape(-1)[flat]
    if reduction == "mean":
        loss = _add_reduce(loss, axis=None) / len(loss)
    elif reduction == "sum":
        loss = _add_reduce(loss, axis=None)
    return loss, (e, s, flat)


def _ce_forward(x, target, reduction):
    return _ce_parts(x - kept_reduce(np.maximum, x, 1), target, reduction)


def _ce_scalar(x, target, reduction):
    # The same formula on Scalars; the row maximum is a constant shift (no gradient).
    if not len(x) and reduction != "none":  # NumPy's empty sum of objects is the int 0
        return Scalar(0.0 if reduction == "sum" else math.nan)  # (the mean of nothing, as NumPy's)
    return _ce_parts(x - x.astype(np.float64).max(axis=1, keepdims=True), target, reduction)[0]


def _ce_rule(g, out, x, target, reduction, saved=None):
    # d loss_i / d x_i = softmax(x_i)·sum(t_i) - t_i  (t_i the one-hot row for an index target)
    n = x.shape[0]
    if isinstance(x, np.ndarray):  # first order: from the forward's exp(z) and row sums
        e, s, flat = _ce_forward(x, target, reduction)[1] if saved is None else saved
        p = np.divide(e, s, order="C")  # new (the saved arrays stay for another pass), C-ordered for flat
        if flat is None:
            p *= _add_reduce(target, axis=1, keepdims=True)
            p -= target
        else:
            p.reshape(-1)[flat] -= 1
        if reduction == "none":
            p *= g.reshape(n, 1)
        elif n:  # (a Python number scales faster than a 0-d array; an empty batch has nothing to scale)
            scale = float(g) if g.ndim == 0 else g
            p *= scale / n if reduction == "mean" else scale
        return p
    # create_graph: recorded, so it can be differentiated again
    s = softmax(x, axis=-1)
    if target.dtype.kind == "f":
        s = s * target.sum(axis=1, keepdims=True) - target
    else:
        s = s - one_hot(target, x.shape[1], dtype=s.dtype)
    if reduction == "none":
        return s * g.reshape(n, 1)
    return s * (g / n) if reduction == "mean" else s * g


_cross_entropy = Op("cross_entropy", _ce_forward, (_ce_rule,), scalar=_ce_scalar, saves=True, fresh=True, uses_out=False)


def _class_target(target, shape, where):
    n, k = shape
    t = target if type(target) is np.ndarray else _values(target)
    kind = t.dtype.kind
    if kind == "f" and t.shape == (n,):  # e.g. ad.Tensor([0, 2, 1]), floats by API rule
        if not np.all(t == np.round(t)):
            raise ValueError(f"{where}: a 1-D target holds class indices, got non-integer values")
        t, kind = t.astype(np.intp), "i"
    if kind == "f":
        if t.shape != (n, k):
            raise ValueError(f"{where}: probability targets must have the logits' shape {shape}, got {t.shape}")
        return t
    if kind not in "iu":
        raise TypeError(f"{where}: target must hold class indices (integers) or probabilities, got dtype {t.dtype}")
    if t.shape != (n,):
        raise ValueError(f"{where}: logits {shape} need one class index per row, shape ({n},); got {t.shape}")
    t = t.astype(np.intp, copy=False)
    # One reduction checks both bounds: seen as unsigned, a negative index is larger than any k.
    if n and _max_reduce(t.view(np.uintp)) >= k:
        raise ValueError(f"{where}: class indices must lie in [0, {k}), got range [{t.min()}, {t.max()}]")
    return t


def cross_entropy(logits, target, reduction="mean"):
    """Softmax cross-entropy of ``logits`` (N, C) against ``target``.

    ``target``: class indices (N,) as an integer array, list or Tensor (a 1-D float Tensor of
    whole numbers is read as indices), or float rows (N, C) of one-hot or probabilities (loss
    -Σ t·log softmax). One fused op: the log-softmax is computed with the row maximum
    subtracted (stable for logits of any magnitude) and the gradient is (softmax − t)·g.
    The target gets no gradient.

    >>> nn.cross_entropy(ad.Tensor([[2.0, 0.0], [0.0, 2.0]], requires_grad=True), [0, 1])
    """
    _check_reduction(reduction, "cross_entropy")
    shape = tuple(logits.shape)
    if len(shape) != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, C), got {shape}")
    t = _class_target(target, shape, "cross_entropy")
    if t.dtype.kind == "f":
        t = t.astype(logits.dtype, copy=False)
    return _cross_entropy(logits, target=t, reduction=reduction)


# --- losses composed from ops ---------------------------------------------------------------


def _match(pred, target, where):
    """The target (a Tensor, or an ndarray constant) in a shape that lines up with ``pred``."""
    t = target if isinstance(target, Tensor) else np.asarray(target, dtype=pred.dtype)
    shape, tshape = tuple(pred.shape), tuple(t.shape)
    if tshape == shape:
        return t
    if int(np.prod(tshape)) == int(np.prod(shape)) and len(tshape) >= 1 and len(shape) >= 1:
        return t.reshape(shape)  # (N,) against (N, 1): never broadcast to (N, N)
    try:
        if np.broadcast_shapes(shape, tshape) == shape:
            return t
    except ValueError:
        pass
    raise ValueError(f"{where}: input shape {shape} and target shape {tshape} do not match")


def mse_loss(input, target, reduction="mean"):
    """Mean squared error (input - target)², averaged over every element for "mean"."""
    _check_reduction(reduction, "mse_loss")
    d = input - _match(input, target, "mse_loss")
    return _reduce(d * d, reduction)


def _bce_forward(x, target):
    # max(x, 0) - x·t + log(1 + e^-|x|): no overflow, and exact when the loss is tiny
    return np.maximum(x, 0) - x * target + np.log1p(np.exp(-np.abs(x)))


def _bce_scalar(x, target):
    def one(s, t):  # the same two branches on Scalars, each with the derivative σ(s) - t
        return s * (1 - t) + (-s).softplus() if s.data > 0 else s.softplus() - s * t

    return np.frompyfunc(one, 2, 1)(x, target)


_bce_with_logits = Op(  # d/dx = σ(x) - t; fused for accuracy (softplus(x) - x·t cancels to 0)
    "binary_cross_entropy_with_logits",
    _bce_forward,
    (lambda g, out, x, target: g * (sigmoid(x) - target),),
    scalar=_bce_scalar,
    fresh=True,
)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """Sigmoid cross-entropy for independent binary (multi-label) targets t in [0, 1]:
    -t·log σ(x) - (1-t)·log(1-σ(x)), computed as max(x, 0) - t·x + log(1 + e^-|x|) (stable for
    any x, accurate for tiny losses); its gradient is σ(x) - t. The target gets no gradient."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    t = _match(logits, _values(target), "binary_cross_entropy_with_logits")
    t = np.broadcast_to(t.astype(logits.dtype, copy=False), logits.shape)
    return _reduce(_bce_with_logits(logits, target=t), reduction)


def hinge_loss(scores, y, reduction="mean"):
    """Binary hinge loss max(0, 1 - y·s) with labels y in {-1, +1} (micrograd's demo loss).

    ``scores``: (N,) or (N, 1); ``y``: N labels. Labels 0/1 raise a ValueError (use 2y - 1).
    """
    _check_reduction(reduction, "hinge_loss")
    yv = _values(y)
    if yv.size and not np.all((yv == 1) | (yv == -1)):
        raise ValueError("hinge_loss: labels must be -1 or +1 (for 0/1 labels pass 2*y - 1)")
    return _reduce(relu(1 - _match(scores, y, "hinge_loss") * scores), reduction)


def _param_list(params, where):
    from autodiff.nn.module import Module

    ps = list(params.parameters() if isinstance(params, Module) else params)
    if not ps:
        raise ValueError(f"{where}: no parameters given")
    for p in ps:
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: parameters must be Tensors, got {type(p).__name__}")
    return ps


def _check_lam(lam, where):
    if not isinstance(lam, numbers.Real) or lam < 0:
        raise ValueError(f"{where}: lam must be a number >= 0, got {lam!r}")
    return float(lam)


def l1_penalty(params, lam):
    """lam·Σ|w| over the given parameters (an iterable of Tensors, or a Module's parameters)."""
    lam = _check_lam(lam, "l1_penalty")
    ps = _param_list(params, "l1_penalty")
    total = _abs(ps[0]).sum()
    for p in ps[1:]:
        total = total + _abs(p).sum()
    return total * lam


def l2_penalty(params, lam):
    """(lam/2)·Σw² over the given parameters (the lecture's λ/2·‖W‖², gradient λ·w).

    Pass only the weights to leave biases unregularised, e.g.
    ``[p for name, p in model.named_parameters() if name.endswith("weight")]``.
    """
    lam = _check_lam(lam, "l2_penalty")
    ps = _param_list(params, "l2_penalty")
    total = (ps[0] * ps[0]).sum()
    for p in ps[1:]:
        total = total + (p * p).sum()
    return total * (lam / 2)
