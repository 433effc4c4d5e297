"""The backward pass as text: the chain-rule bookkeeping of every step, in the order the engine runs it.

Nothing is recomputed by hand: the steps follow the engine's own topological order
(``ad.graph.toposort``) and each step is the engine's own (``ad.graph.step``: the op's derivative
rules from ``autodiff/ops``). The local derivative of a Scalar op is its step at incoming gradient
1; what a step passes on is its step at the real incoming gradient, as ``backward()`` does. The
walk-through only reads the graph and changes no ``.grad``; it works before ``backward()``, and
after it when that kept the graph (``retain_graph=True``).
"""

from __future__ import annotations

import numpy as np

from autodiff import graph
from autodiff.scalar import Scalar
from autodiff.tensor import Tensor
from autodiff.viz._graph import _check_not_freed, _param_names, _scalar_context, _tensor_parents, walk

__all__ = ["explain"]


def _num(x) -> str:
    return f"{float(x):.4g}"


def _float(x) -> float:
    return x.data if isinstance(x, Scalar) else float(x)


def _sum_text(parts) -> str:
    if len(parts) == 1:
        return _num(parts[0])
    shown = " + ".join(_num(p) for p in parts[:4]) + (" + ..." if len(parts) > 4 else "")
    return f"{_num(sum(parts))} (= {shown}, one term per use)"


def _order(roots):
    try:
        return graph.toposort(roots)  # the engine's own order
    except RuntimeError:
        raise RuntimeError(
            "explain: backward() has released this graph; call backward(retain_graph=True) to explain it "
            "afterwards, or explain before backward"
        ) from None


def _explain_scalars(roots, seeds, labels, max_steps):
    order = _order(roots)
    index = {id(s): i for i, s in enumerate(order)}

    def name(s):
        return s.label or labels.get(id(s)) or f"#{index[id(s)]}"

    def show(s):
        return f"{name(s)} = {_num(s.data)}"

    parts = {}
    for r, g in zip(roots, seeds):
        parts.setdefault(id(r), []).append(float(g))
    if len(roots) == 1:
        head = f"of {show(roots[0])}, seeded with g = {_num(seeds[0])}"
    else:
        head = f"of {len(roots)} outputs, seeded with the given gradient"
    lines = [
        f"Backward pass {head}, in the order the engine runs it.",
        "Each step: the node's gradient g = d(out)/d(node), summed over its uses; for each parent the",
        "local derivative d(node)/d(parent) from the op's rule, and what it passes on (g × local).",
        "",
    ]
    steps, leaves = 0, []
    for node in reversed(order):
        got = parts.pop(id(node), None)
        if got is None:
            continue  # not reached: no gradient flows through it
        g = sum(got)
        if node.is_leaf:
            leaves.append((node, got))
            continue
        local = graph.step(node, 1.0)
        passed = graph.step(node, g)
        steps += 1
        if steps <= max_steps:
            lines.append(f"step {steps}: {show(node)}  [{node.op}]  g = {_sum_text(got)}")
        for (_, p, loc), (_, _, pg) in zip(local, passed):
            parts.setdefault(id(p), []).append(_float(pg))
            if steps <= max_steps:
                lines.append(f"    -> {show(p):<24} local {_num(_float(loc)):>10}   passes {_num(_float(pg))}")
    if steps > max_steps:
        lines.append(f"... {steps - max_steps} more steps (raise max_steps to see them)")
    ran = any(_float(r.grad) != 0 for r in roots)
    lines.append("")
    lines.append("Leaves: their total gradient" + (" (and their .grad, from backward()):" if ran else ":"))
    for node, got in leaves[:max_steps]:
        extra = f"   .grad = {_num(_float(node.grad))}" if ran else ""
        lines.append(f"    {show(node):<24} grad {_sum_text(got)}{extra}")
    if len(leaves) > max_steps:
        lines.append(f"    ... {len(leaves) - max_steps} more leaves")
    return "\n".join(lines)


def _norm(a) -> str:
    a = np.asarray(a, dtype=np.float64)
    return _num(a.reshape(())) if a.size == 1 else f"‖·‖ {_num(np.linalg.norm(a))}"


def _explain_tensors(root, seed, names, max_steps):
    index = {id(t): i for i, t in enumerate(walk([root], _tensor_parents))}

    def show(t):
        name = names.get(id(t)) or t.label or f"#{index[id(t)]}"
        what = t.op or ("param" if t.requires_grad else "leaf")
        value = f" = {_num(t.item())}" if t.size == 1 else ""
        return f"{name} {what} {t.shape}{value}"

    lines = [
        f"Backward pass of {show(root)}, in the order the engine runs it (NumPy back end: one step",
        "per Tensor; gradients shown by shape and norm, summed back over broadcast axes).",
        "",
    ]
    grads = {id(root): [seed]}
    steps, leaves = 0, []
    for node in reversed(_order([root])):
        got = grads.pop(id(node), None)
        if got is None:
            continue
        g = sum(got[1:], got[0])
        if node.is_leaf:
            leaves.append((node, g))
            continue
        steps += 1
        uses = f" (sum of {len(got)} uses)" if len(got) > 1 else ""
        if steps <= max_steps:
            lines.append(f"step {steps}: {show(node)}  g {g.shape} {_norm(g)}{uses}")
        passed = {i: pg for i, _, pg in graph.step(node, g)}
        for i, p in enumerate(node.parents):
            if i in passed:
                grads.setdefault(id(p), []).append(passed[i])
                text = f"passes {passed[i].shape} {_norm(passed[i])}"
            else:
                text = "no gradient (does not require grad)"
            if steps <= max_steps:
                lines.append(f"    -> {show(p):<32} {text}")
    if steps > max_steps:
        lines.append(f"... {steps - max_steps} more steps (raise max_steps to see them)")
    lines.append("")
    lines.append("Leaves: their total gradient (what backward() adds to .grad):")
    for node, g in leaves:
        extra = f"   .grad {_norm(node.grad.numpy())}" if node.grad is not None else ""
        lines.append(f"    {show(node):<32} grad {_norm(g)}{extra}")
    return "\n".join(lines)


def _seed_values(root, gradient):
    if gradient is None:
        if root.size != 1:
            raise ValueError(f"explain: the output has shape {root.shape}; pass gradient= (an array of that shape)")
        return np.ones(root.shape)
    g = np.asarray(gradient.numpy() if isinstance(gradient, Tensor) else gradient, dtype=np.float64)
    if g.shape != root.shape:
        raise ValueError(f"explain: gradient shape {g.shape} does not match output shape {root.shape}")
    return g


def explain(root, gradient=None, max_steps=200, params=None) -> str:
    """The backward pass from ``root`` as text, step by step in the order the engine runs it.

    For a Scalar (or a Tensor on the scalar back end) each step shows a node's gradient, the
    local derivative for each parent (the op's rule at gradient 1) and what it passes on; a
    NumPy-back-end Tensor shows shapes and norms. Unlabelled nodes are numbered ``#k`` as in
    ``draw``. ``gradient`` seeds a non-scalar output, as in ``backward``. Reads the graph only
    and never changes ``.grad``: call it before ``backward()``, or after
    ``backward(retain_graph=True)`` (a backward pass without it releases the graph, and explain
    then raises a RuntimeError that says so).

    >>> a = ad.Scalar(2.0, label="a"); b = ad.Scalar(-3.0, label="b")
    >>> print(viz.explain(a * b))      # step 1: #2 = -6 [*] g = 1; a gets -3, b gets 2
    """
    if max_steps < 0:
        raise ValueError(f"explain: max_steps must be >= 0, got {max_steps}")
    if isinstance(root, Scalar):
        return _explain_scalars([root], [1.0 if gradient is None else float(gradient)], {}, max_steps)
    if not isinstance(root, Tensor):
        raise TypeError(f"explain: expected a Scalar or a Tensor, got {type(root).__name__}")
    seed = _seed_values(root, gradient)
    names = _param_names(params)
    if not root.requires_grad:
        raise ValueError("explain: the output does not require grad, so backward has nothing to do")
    _check_not_freed(root)
    if root.backend == "scalar":
        labels = _scalar_context(root, names)[0]
        return _explain_scalars(root.data.ravel().tolist(), seed.ravel().tolist(), labels, max_steps)
    return _explain_tensors(root, seed.astype(root.dtype), names, max_steps)
