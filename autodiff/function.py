"""Custom ops: subclass ``Function`` with ``forward(ctx, *args)`` and ``backward(ctx, *grads)``.

>>> class Cube(ad.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x ** 3
...     @staticmethod
...     def backward(ctx, g):
...         (x,) = ctx.saved_tensors
...         return 3 * x ** 2 * g
>>> y = Cube.apply(ad.Tensor([2.0], requires_grad=True))

``forward`` runs without recording and returns one Tensor; ``backward`` receives the gradient of
that output and returns one gradient (Tensor, array or None) per forward argument. It must not
write into the gradient it receives (it may be shared with other gradients; on the NumPy back
end it is read-only, and writing raises a ValueError that says so). Written with Tensor ops,
``backward`` is itself differentiable under ``create_graph=True``: through the inputs and the
output it saved (as in PyTorch; other values computed in ``forward`` are constants there). On
the scalar back end every output element becomes a Scalar node whose rule calls ``backward``.
"""

from __future__ import annotations

import numpy as np

from autodiff._engine import Op
from autodiff._mode import _grad_enabled, no_grad
from autodiff.scalar import Scalar
from autodiff.tensor import Tensor, as_tensor

__all__ = ["Function", "FunctionCtx"]


class FunctionCtx:
    """What ``forward`` leaves for ``backward``: saved Tensors, other attributes, and
    ``needs_input_grad`` (one bool per forward argument)."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()

    def save_for_backward(self, *tensors):
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        return self._saved

    def _recorded(self, out_id, node, run):
        """Run ``run()`` (a backward under create_graph) with the forward's output, if it was
        saved, replaced by ``node``, the recorded output: forward ran without recording, so the
        saved output would be a constant and backward's derivative through it would be lost (an
        exp that saves its result, as in PyTorch's example). The output is known by its id
        (``out_id``, None when it was one of the inputs): the graph must not keep it alive, and
        a saved one is alive, so no other saved Tensor can have that id."""
        saved = self._saved
        if out_id is None or not any(id(t) == out_id for t in saved):
            return run()
        self._saved = tuple(node if id(t) == out_id else t for t in saved)
        try:
            return run()
        finally:
            self._saved = saved


class Function:
    """Base class of user-defined differentiable ops; call ``MyFunction.apply(*args)``."""

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("Function subclasses define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function subclasses define backward(ctx, grad)")

    @classmethod
    def apply(cls, *args):
        tensors = [a for a in args if isinstance(a, Tensor)]
        backends = {t.backend for t in tensors}
        if len(backends) > 1:
            raise ValueError(f"{cls.__name__}: cannot mix back ends {sorted(backends)} in one op")
        ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        with no_grad():
            out = cls.forward(ctx, *args)
        if isinstance(out, tuple):
            raise TypeError(f"{cls.__name__}.forward must return a single Tensor, got a tuple")
        if not isinstance(out, Tensor):
            out = Tensor(out, backend=tensors[0].backend if tensors else "numpy")
        if not (any(ctx.needs_input_grad) and _grad_enabled.get()):
            return out
        # (an output that is one of the inputs stays what it is in a saved list)
        out_id = None if any(out is a for a in args) else id(out)
        if out.backend == "scalar":
            return _scalar_nodes(cls, ctx, args, out, out_id)
        # The node keeps the context (the saved Tensors) in its params, which backward releases
        # with the rest of the node; the op holds nothing of this call.
        ctx._out_id = out_id
        return Op(cls.__name__, _given, vjp=_function_vjp(cls))(*args, value=out.data, ctx=ctx)


def _given(*args, value, ctx):
    """The forward of a Function's node: the value its forward computed already."""
    return value


def _check_grads(cls, grads, shapes):
    """One gradient per forward argument; ``shapes`` has each argument's shape where it takes a
    gradient (None elsewhere: that gradient is dropped)."""
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != len(shapes):
        raise ValueError(
            f"{cls.__name__}.backward returned {len(grads)} gradient(s), expected {len(shapes)} "
            f"(one per forward argument, None for those without)"
        )
    out = []
    for i, (g, want) in enumerate(zip(grads, shapes)):
        if g is None or want is None:
            out.append(None)
            continue
        shape = tuple(np.shape(g.data if isinstance(g, Tensor) else g))
        if shape != want:
            raise ValueError(
                f"{cls.__name__}.backward returned a gradient of shape {shape} for argument {i} "
                f"of shape {want}"
            )
        out.append(g)
    return out


def _function_vjp(cls):
    def vjp(g, out, *inputs, needs, value, ctx):
        shapes = [tuple(np.shape(x)) if need else None for x, need in zip(inputs, needs)]
        if isinstance(out, Tensor):  # create_graph (the engine passes the Tensors): backward records
            if not isinstance(g, Tensor):  # (the engine hands Tensors under create_graph)
                g = as_tensor(np.asarray(g))
            grads = _check_grads(cls, ctx._recorded(ctx._out_id, out, lambda: cls.backward(ctx, g)), shapes)
            return [gr if gr is None or isinstance(gr, Tensor) else Tensor(gr) for gr in grads]
        # A read-only view: the gradient may be shared (add hands one array to both inputs), the
        # caller's (backward(gradient=...)) or a broadcast view, so writing into it would corrupt
        # other gradients; it raises instead. (A NumPy scalar from 0-d arithmetic becomes 0-d.)
        view = np.asarray(g).view()
        view.flags.writeable = False
        try:
            with no_grad():
                grads = _check_grads(cls, cls.backward(ctx, as_tensor(view)), shapes)
        except ValueError as e:
            if "read-only" not in str(e):
                raise
            raise ValueError(
                f"{cls.__name__}.backward: {e}. The gradient backward is given is read-only (it may be "
                f"shared with other gradients): if that is what it wrote into, compute a new array or "
                f"Tensor instead (g * 2, not g.data *= 2)"
            ) from e
        return [None if gr is None else np.asarray(gr.data if isinstance(gr, Tensor) else gr) for gr in grads]

    return vjp


def _scalar_nodes(cls, ctx, args, out, out_id):
    """Each output element a Scalar node over every input Scalar, whose rule runs backward with a
    one-hot output gradient (n backward calls: the scalar back end is for small graphs)."""
    slots = []  # (argument index, flat position) of each input Scalar
    prev = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor) and a.requires_grad:
            flat = a.data.ravel().tolist()
            slots.extend((i, j) for j in range(len(flat)))
            prev.extend(flat)
    shape = out.shape
    values = out.numpy().ravel()
    shapes = [a.shape if isinstance(a, Tensor) else None for a in args]
    res = None  # the recorded output (below), which a backward under create_graph differentiates through

    def rule_for(k):
        def vjp(g, out_value, *inputs, needs):
            # create_graph: the engine passes the node itself (a Scalar) and a Scalar gradient;
            # backward then records
            graph = isinstance(out_value, Scalar)
            seed = np.empty(len(values), dtype=object)
            seed[:] = [Scalar(0.0) for _ in range(len(values))]
            seed[k] = g if isinstance(g, Scalar) else Scalar(g)
            gt = as_tensor(seed.reshape(shape), backend="scalar")
            if graph:
                grads = ctx._recorded(out_id, res, lambda: cls.backward(ctx, gt.requires_grad_()))
            else:
                with no_grad():
                    grads = cls.backward(ctx, gt)
            grads = _check_grads(cls, grads, shapes)
            result = []
            for i, j in slots:
                gr = grads[i]
                if gr is None:
                    result.append(0.0)
                    continue
                el = gr.data.ravel()[j] if isinstance(gr, Tensor) else np.asarray(gr).ravel()[j]
                result.append(el if graph and isinstance(el, Scalar) else float(el))
            return tuple(result)

        return vjp

    nodes = np.empty(len(values), dtype=object)
    nodes[:] = [Op(cls.__name__, lambda *xs, v=float(v): v, vjp=rule_for(k))(*prev) for k, v in enumerate(values)]
    # The Tensor-level record (for the graph, explain and draw); backward runs on the Scalars.
    res = Op(cls.__name__, None, scalar=lambda *raw: nodes.reshape(shape))(*args)
    return res
