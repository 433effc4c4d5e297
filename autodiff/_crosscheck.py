"""Cross-back-end checking: run one function on the numpy and the scalar back end and compare
values, first derivatives and second derivatives.

The two back ends share nothing below the op definitions (vectorised NumPy rules on one side, the
graph of ``Scalar`` nodes and its own rules on the other), so agreement to ~1e-10 is strong
evidence that both are right.
"""

from __future__ import annotations

import numpy as np

from autodiff._backward import grad as _grad
from autodiff.tensor import Tensor

__all__ = ["check_backends"]


def _convert(x, backend):
    """One input on ``backend``: floats become float64 Tensors (requiring grad unless given as a
    Tensor that does not); integer and boolean arrays (indices, masks) pass unchanged."""
    if isinstance(x, Tensor):
        if x.dtype.kind != "f":
            return Tensor(x.numpy(), backend=backend)
        return Tensor(np.asarray(x.numpy(), dtype=np.float64), requires_grad=x.requires_grad, backend=backend)
    arr = np.asarray(x)
    if arr.dtype.kind == "f" or isinstance(x, float):
        return Tensor(arr.astype(np.float64), requires_grad=True, backend=backend)
    return x


def _outputs(result, backend):
    outs = [result] if isinstance(result, Tensor) else result
    if not isinstance(outs, (tuple, list)) or not all(isinstance(o, Tensor) for o in outs):
        raise TypeError(f"check_backends: fn must return a Tensor or a tuple of Tensors, got {type(result).__name__}")
    for o in outs:
        if o.backend != backend:
            raise AssertionError(f"check_backends: fn returned a Tensor on back end '{o.backend}' for '{backend}' inputs")
    return list(outs)


def _values(t, shape):
    return np.zeros(shape) if t is None else np.asarray(t.numpy(), dtype=np.float64)


def _derivatives(fn, inputs, backend, order, vectors):
    """Values, VJPs (one per differentiable input) and Hessian-vector products on one back end.

    ``vectors`` is ``rng`` before the first run, which draws the random cotangents and directions
    from the shapes it finds, then the pair of lists it drew (so both back ends use the same)."""
    args = [_convert(x, backend) for x in inputs]
    outs = _outputs(fn(*args), backend)
    diff = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
    result = {"value": [o.numpy() for o in outs]}
    if isinstance(vectors, np.random.Generator):
        vectors = ([vectors.standard_normal(o.shape) for o in outs], [vectors.standard_normal(d.shape) for d in diff])
    cotangents, directions = vectors
    if order < 1:
        return result, vectors
    live = [(o, u) for o, u in zip(outs, cotangents) if o.requires_grad and o.dtype.kind == "f"]
    gs = [None] * len(diff)
    if live and diff:
        gs = _grad(
            [o for o, _ in live],
            diff,
            grad_outputs=[Tensor(u, backend=backend) for _, u in live],
            create_graph=order >= 2,
            allow_unused=True,
        )
    result["gradient"] = [_values(g, d.shape) for g, d in zip(gs, diff)]
    if order < 2:
        return result, vectors
    terms = [(g * Tensor(v, backend=backend)).sum() for g, v in zip(gs, directions) if g is not None and g.requires_grad]
    hs = [None] * len(diff)
    if terms:
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        hs = _grad(total, diff, allow_unused=True)
    result["second derivative"] = [_values(h, d.shape) for h, d in zip(hs, diff)]
    return result, vectors


_WHAT = {
    "value": "value of output {i}",
    "gradient": "gradient (vector-Jacobian product, fixed random cotangent) for input {i}",
    "second derivative": "second derivative (Hessian-vector product, fixed random direction) for input {i}",
}


def _compare(kind, i, a, b, rtol, atol):
    """A line describing how ``a`` (numpy) and ``b`` (scalar) differ, or None when they agree."""
    what = _WHAT[kind].format(i=i)
    if a.shape != b.shape:
        return f"{what}: shapes differ, numpy {a.shape} vs scalar {b.shape}"
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    same_inf = np.isinf(a) & (a == b)
    with np.errstate(invalid="ignore"):
        err = np.abs(a - b)
        tol = atol + rtol * np.maximum(np.abs(a), np.abs(b))
        bad = ~(both_nan | same_inf | (err <= tol))
    if not bad.any():
        return None
    score = np.where(bad, np.nan_to_num(err / tol, nan=np.inf, posinf=np.inf), -1.0)
    k = np.unravel_index(int(np.argmax(score)), a.shape) if a.ndim else ()
    return (
        f"{what} (shape {a.shape}): {int(bad.sum())} of {a.size} elements differ; worst at "
        f"{tuple(int(j) for j in k)}: numpy {float(a[k]):.17g}, scalar {float(b[k]):.17g}, abs error {float(err[k]):.3e}"
    )


def check_backends(fn, *inputs, rtol=1e-10, atol=1e-12, order=2, seed=0):
    """Run ``fn`` on both back ends and check that values and derivatives agree.

    ``inputs`` are ndarrays, numbers or Tensors. Floating inputs become float64 Tensors on each
    back end that require grad (a Tensor input keeps its ``requires_grad``); integer and boolean
    arrays are passed unchanged (indices, masks). ``fn`` returns a Tensor or a tuple of Tensors.
    Compared: the values; with ``order >= 1`` the vector-Jacobian products for a fixed random
    cotangent (``seed``); with ``order=2`` the Hessian-vector products for a fixed random
    direction, obtained by differentiating the first ones (``ad.grad(..., create_graph=True)``).
    An element agrees when ``|a - b| <= atol + rtol * max(|a|, |b|)`` (nan agrees with nan).
    Raises ``AssertionError`` listing every disagreement; returns None.

    >>> check_backends(lambda x, w: ad.tanh(x @ w).sum(axis=0), np.ones((2, 3)), np.ones((3, 2)))
    """
    if order not in (0, 1, 2):
        raise ValueError(f"check_backends: order must be 0, 1 or 2, got {order!r}")
    vectors = np.random.default_rng(seed)
    runs = {}
    for backend in ("numpy", "scalar"):
        try:
            runs[backend], vectors = _derivatives(fn, inputs, backend, order, vectors)
        except Exception as e:
            if backend == "numpy":
                raise
            raise AssertionError(
                f"check_backends: {_name(fn)} ran on the numpy back end but raised on the scalar one: "
                f"{type(e).__name__}: {e}"
            ) from e
    problems = []
    for kind in ("value", "gradient", "second derivative"):
        a, b = runs["numpy"].get(kind, []), runs["scalar"].get(kind, [])
        if len(a) != len(b):
            problems.append(f"{kind}: numpy gave {len(a)} results, scalar {len(b)}")
            continue
        for i, (x, y) in enumerate(zip(a, b)):
            line = _compare(kind, i, x, y, rtol, atol)
            if line:
                problems.append(line)
    if problems:
        head = f"check_backends: numpy and scalar back ends disagree for {_name(fn)} (rtol={rtol:g}, atol={atol:g}):"
        raise AssertionError("\n  ".join([head] + problems))


def _name(fn):
    return getattr(fn, "__qualname__", None) or repr(fn)
