"""The built-in ops that ``autodiff gradcheck`` checks: one row per op with its input shapes and
the input range that keeps it away from kinks and poles."""

from __future__ import annotations

import numpy as np

import autodiff as ad

__all__ = ["ROWS", "inputs_for", "available"]

# name, function of Tensors, input shapes, input range ("any" in [-1, 1], "positive" in
# [0.2, 2], "away" with |x| in [0.2, 1]: relu, abs and division stay off their kinks and poles),
# and the name of the autodiff function the row needs (rows for ops not in this build are skipped).
ROWS = [
    ("add (broadcast)", lambda a, b: a + b, [(2, 3), (3,)], "any", None),
    ("sub (broadcast)", lambda a, b: a - b, [(2, 3), (2, 1)], "any", None),
    ("mul", lambda a, b: a * b, [(2, 3), (2, 3)], "any", None),
    ("div", lambda a, b: a / b, [(2, 3), (2, 3)], "away", None),
    ("neg", lambda a: -a, [(2, 3)], "any", None),
    ("pow (tensor exponent)", lambda a, b: a ** b, [(2, 3), (2, 3)], "positive", None),
    ("pow (constant 3)", lambda a: a ** 3, [(2, 3)], "any", None),
    ("exp", ad.exp, [(2, 3)], "any", None),
    ("log", ad.log, [(2, 3)], "positive", None),
    ("sqrt", ad.sqrt, [(2, 3)], "positive", None),
    ("abs", ad.abs, [(2, 3)], "away", None),
    ("sin", ad.sin, [(2, 3)], "any", None),
    ("cos", ad.cos, [(2, 3)], "any", None),
    ("tanh", ad.tanh, [(2, 3)], "any", None),
    ("sigmoid", ad.sigmoid, [(2, 3)], "any", None),
    ("relu", ad.relu, [(2, 3)], "away", None),
    ("leaky_relu", lambda a: a.leaky_relu(0.1), [(2, 3)], "away", None),
    ("softplus", ad.softplus, [(2, 3)], "any", None),
    ("clip", lambda a: ad.clip(a, -0.5, 0.5), [(2, 3)], "any", None),
    ("maximum", ad.maximum, [(2, 3), (2, 3)], "any", None),
    ("minimum", ad.minimum, [(2, 3), (2, 3)], "any", None),
    ("where", lambda a, b: ad.where(a.numpy() > 0, a, b), [(2, 3), (2, 3)], "any", None),
    ("sum (axis 1)", lambda a: a.sum(axis=1), [(2, 3)], "any", None),
    ("mean (axis 0)", lambda a: a.mean(axis=0), [(2, 3)], "any", None),
    ("var (ddof 1)", lambda a: a.var(axis=1, ddof=1), [(2, 3)], "any", None),
    ("max (axis 1)", lambda a: a.max(axis=1), [(2, 3)], "any", None),
    ("min (all)", lambda a: a.min(), [(2, 3)], "any", None),
    ("logsumexp", lambda a: a.logsumexp(axis=1), [(2, 3)], "any", None),
    ("softmax", lambda a: ad.softmax(a, axis=-1), [(2, 3)], "any", None),
    ("log_softmax", lambda a: ad.log_softmax(a, axis=-1), [(2, 3)], "any", None),
    ("matmul", lambda a, b: a @ b, [(2, 3), (3, 2)], "any", None),
    ("matmul (batched)", lambda a, b: a @ b, [(2, 2, 3), (3, 2)], "any", None),
    ("matmul (vector)", lambda a, b: a @ b, [(3,), (3, 2)], "any", None),
    ("linear", ad.linear, [(2, 3), (3, 2), (2,)], "any", None),
    ("linear (batched)", ad.linear, [(2, 2, 3), (3, 2), (2,)], "any", None),
    ("linear (vector)", ad.linear, [(3,), (3, 2), (2,)], "any", None),
    ("reshape", lambda a: a.reshape(3, 2), [(2, 3)], "any", None),
    ("transpose", lambda a: a.transpose(2, 0, 1), [(2, 3, 2)], "any", None),
    ("squeeze", lambda a: a.squeeze(1), [(2, 1, 3)], "any", None),
    ("unsqueeze", lambda a: a.unsqueeze(0), [(2, 3)], "any", None),
    ("broadcast_to", lambda a: a.broadcast_to((2, 3)), [(3,)], "any", None),
    ("concatenate", lambda a, b: ad.concatenate([a, b], axis=1), [(2, 3), (2, 2)], "any", None),
    ("stack", lambda a, b: ad.stack([a, b], axis=0), [(2, 3), (2, 3)], "any", None),
    ("getitem (repeated index)", lambda a: a[np.array([0, 2, 2]), 1:], [(3, 3)], "any", None),
    ("getitem (mask)", lambda a: a[a.numpy() > 0], [(2, 3)], "away", None),
] + [
    (f"pad ({mode})", (lambda m: lambda a: ad.pad(a, ((1, 1), (2, 2)), mode=m))(mode), [(3, 4)], "any", None)
    for mode in ("zero", "replicate", "mirror", "symmetric", "circular")
] + [
    ("conv1d", lambda x, w: ad.conv1d(x, w, padding=1), [(1, 2, 5), (3, 2, 3)], "any", "conv1d"),
    ("conv1d (same, circular)", lambda x, w: ad.conv1d(x, w, padding="same", padding_mode="circular"),
     [(1, 1, 5), (2, 1, 3)], "any", "conv1d"),
    ("conv2d", lambda x, w: ad.conv2d(x, w, padding=1), [(1, 1, 4, 4), (2, 1, 3, 3)], "any", "conv2d"),
    ("conv2d (stride 2)", lambda x, w: ad.conv2d(x, w, stride=2), [(1, 2, 5, 5), (1, 2, 3, 3)], "any", "conv2d"),
    ("max_pool1d", lambda x: ad.max_pool1d(x, 2), [(1, 2, 6)], "any", "max_pool1d"),
    ("max_pool2d", lambda x: ad.max_pool2d(x, 2), [(1, 1, 4, 4)], "any", "max_pool2d"),
    ("avg_pool1d", lambda x: ad.avg_pool1d(x, 2), [(1, 2, 6)], "any", "avg_pool1d"),
    ("avg_pool2d", lambda x: ad.avg_pool2d(x, 2), [(1, 1, 4, 4)], "any", "avg_pool2d"),
    ("dropout", lambda x: ad.dropout(x, 0.5, rng=np.random.default_rng(0)), [(2, 3)], "any", "dropout"),
    ("batch_norm", lambda x, w, b: ad.batch_norm(x, None, None, w, b, training=True),
     [(4, 3), (3,), (3,)], "any", "batch_norm"),
]


def available():
    """The rows whose op exists in this build of autodiff."""
    return [r for r in ROWS if r[4] is None or hasattr(ad, r[4])]


def inputs_for(shapes, domain, rng, backend="numpy", low=-1.0, high=1.0):
    """Random float64 Tensors that require grad, drawn in the row's range."""
    out = []
    for shape in shapes:
        if domain == "positive":
            v = rng.uniform(0.2, 2.0, shape)
        elif domain == "away":
            v = rng.uniform(0.2, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
        else:
            v = rng.uniform(low, high, shape)
        out.append(ad.Tensor(v, requires_grad=True, backend=backend))
    return out
