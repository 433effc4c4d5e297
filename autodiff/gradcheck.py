"""Gradient checking: analytic vector-Jacobian products against central finite differences.

The whole Jacobian is compared, one backward pass per output element and two evaluations per
input element, in float64. Where the one-sided differences disagree the function has a kink at
that point (relu at 0, a tie in max); there any analytic value between the two one-sided slopes
is a valid subgradient: it passes, and is reported with a ``GradcheckKinkWarning``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from autodiff._backward import grad as _grad
from autodiff.tensor import Tensor

__all__ = ["gradcheck", "gradgradcheck", "gradcheck_report", "GradcheckError", "GradcheckKinkWarning", "GradcheckReport"]


class GradcheckError(AssertionError):
    """The analytic gradient disagrees with finite differences; the message names where."""


class GradcheckKinkWarning(UserWarning):
    """An analytic value was accepted as a subgradient at a kink."""


@dataclass
class Entry:
    """One Jacobian entry d output[out_index] / d input[input]..[element]."""

    input: int
    element: tuple
    output: int
    out_element: tuple
    analytic: float
    numeric: float
    left: float = float("nan")  # one-sided slopes, where they were needed
    right: float = float("nan")

    @property
    def error(self) -> float:
        return abs(self.analytic - self.numeric)

    def describe(self, shapes) -> str:
        where = f"input {self.input} (shape {shapes[self.input]}) element {self.element}"
        out = f"output {self.output} element {self.out_element}"
        text = f"{where}, {out}: analytic {self.analytic:.6e}, numeric {self.numeric:.6e}, error {self.error:.2e}"
        if self.left == self.left:
            text += f" (one-sided slopes {self.left:.6e} and {self.right:.6e})"
        return text


@dataclass
class GradcheckReport:
    """Everything a gradient check found: failures, accepted kinks, and the worst entry."""

    checked: int = 0
    failures: list = field(default_factory=list)
    kinks: list = field(default_factory=list)
    worst: Entry | None = None
    shapes: dict = field(default_factory=dict)
    atol: float = 0.0
    rtol: float = 0.0
    name: str = "the function"

    @property
    def passed(self) -> bool:
        return not self.failures

    def message(self, limit: int = 5) -> str:
        head = (
            f"gradcheck failed for {self.name}: {len(self.failures)} of {self.checked} Jacobian entries differ "
            f"(atol={self.atol:g}, rtol={self.rtol:g}; indices are 0-based)"
        )
        worst = sorted(self.failures, key=lambda e: -e.error)[:limit]
        lines = [head] + ["  " + e.describe(self.shapes) for e in worst]
        if len(self.failures) > limit:
            lines.append(f"  ... and {len(self.failures) - limit} more")
        return "\n".join(lines)


def _outputs(result):
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, (tuple, list)) and all(isinstance(r, Tensor) for r in result):
        return list(result)
    raise TypeError(f"gradcheck: the function must return a Tensor or a tuple of Tensors, got {type(result).__name__}")


def _float64_inputs(inputs):
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    floats = [i for i, a in enumerate(inputs) if isinstance(a, Tensor) and a.dtype.kind == "f"]
    checked = [i for i in floats if inputs[i].requires_grad] or floats
    if not checked:
        raise ValueError("gradcheck: no floating-point Tensor among the inputs")
    values = {i: np.array(inputs[i].numpy(), dtype=np.float64) for i in floats}

    def build(override=None):
        out = list(inputs)
        for i in floats:
            v = values[i] if override is None or override[0] != i else override[1]
            out[i] = Tensor(v, requires_grad=i in checked, backend=inputs[i].backend)
        return out

    return inputs, checked, values, build


def _evaluate(fn, args):
    return [o.numpy().astype(np.float64).ravel() for o in _outputs(fn(*args))]


def gradcheck_report(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3) -> GradcheckReport:
    """Compare the full Jacobian of ``fn`` at ``inputs`` with finite differences; return a report."""
    inputs, checked, values, build = _float64_inputs(inputs)
    report = GradcheckReport(atol=atol, rtol=rtol, shapes={i: values[i].shape for i in values}, name=_name(fn))
    args = build()
    outs = _outputs(fn(*args))
    targets = [args[i] for i in checked]
    # analytic Jacobian rows, one backward pass per output element
    rows = []  # per output: array (out.size, [input sizes])
    for o in outs:
        jac = {i: np.zeros((o.size, values[i].size)) for i in checked}
        if o.requires_grad and o.dtype.kind == "f":
            for j in range(o.size):
                seed = np.zeros(o.size)
                seed[j] = 1.0
                gs = _grad(o, targets, grad_outputs=seed.reshape(o.shape), retain_graph=True, allow_unused=True)
                for i, g in zip(checked, gs):
                    if g is not None:
                        jac[i][j] = g.numpy().ravel()
        rows.append(jac)
    base = _evaluate(fn, build())
    for i in checked:
        for e in range(values[i].size):
            plus, minus = values[i].copy(), values[i].copy()
            plus.flat[e] += eps
            minus.flat[e] -= eps
            fp = _evaluate(fn, build((i, plus)))
            fm = _evaluate(fn, build((i, minus)))
            for k, (p, m, b) in enumerate(zip(fp, fm, base)):
                central = (p - m) / (2 * eps)
                analytic = rows[k][i][:, e]
                for j in range(len(central)):
                    report.checked += 1
                    entry = Entry(
                        i, _index(e, values[i].shape), k, _index(j, outs[k].shape),
                        float(analytic[j]), float(central[j]),
                    )
                    if report.worst is None or entry.error > report.worst.error:
                        report.worst = entry
                    close = _close(entry.analytic, entry.numeric, atol, rtol)
                    right, left = float((p[j] - b[j]) / eps), float((b[j] - m[j]) / eps)
                    kink = not _close(left, right, atol, rtol)
                    if close and not kink:
                        continue
                    entry.left, entry.right = left, right
                    lo, hi = min(left, right), max(left, right)
                    tol = atol + rtol * max(abs(lo), abs(hi))
                    if kink and lo - tol <= entry.analytic <= hi + tol:
                        report.kinks.append(entry)  # reported even where it matches the central slope (abs at 0)
                    else:
                        report.failures.append(entry)
    return report


def _name(fn):
    owner = getattr(fn, "__self__", None)  # Function.apply is a bound classmethod
    if isinstance(owner, type):
        return f"{owner.__name__}.{fn.__name__}"
    return getattr(fn, "__qualname__", None) or repr(fn)


def _index(flat, shape):
    return tuple(int(v) for v in np.unravel_index(flat, shape))


def _close(a, b, atol, rtol):
    if a != a or b != b:  # nan agrees only with nan
        return a != a and b != b
    return abs(a - b) <= atol + rtol * abs(b)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """Check the gradients of ``fn`` at ``inputs`` against central differences in float64.

    Inputs that require grad are checked (all floating-point Tensors when none does); float32
    inputs are checked on float64 copies; both back ends and ``Function``s work. Returns True,
    or raises ``GradcheckError`` naming the input, element, analytic and numeric values
    (``raise_exception=False`` returns False instead).
    """
    report = gradcheck_report(fn, inputs, eps=eps, atol=atol, rtol=rtol)
    for k in report.kinks[:3]:
        warnings.warn(
            "gradcheck: accepted a subgradient at a kink: " + k.describe(report.shapes),
            GradcheckKinkWarning,
            stacklevel=2,
        )
    if report.passed:
        return True
    if raise_exception:
        raise GradcheckError(report.message())
    return False


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0) -> bool:
    """Check second derivatives: gradcheck of ``(inputs, v) -> grad(fn(inputs), inputs, v)``
    recorded with ``create_graph=True``. ``v`` is random (fixed ``seed``) unless given."""
    inputs, checked, values, build = _float64_inputs(inputs)
    outs = _outputs(fn(*build()))
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [Tensor(rng.standard_normal(o.shape), requires_grad=True, backend=o.backend) for o in outs]
    else:
        grad_outputs = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
        grad_outputs = [Tensor(v.numpy(), requires_grad=True, backend=v.backend) for v in grad_outputs]
    n = len(inputs)

    def first_derivative(*args):
        xs, vs = args[:n], args[n:]
        ys = _outputs(fn(*xs))
        live = [(y, v) for y, v in zip(ys, vs) if y.requires_grad]
        targets = [xs[i] for i in checked]
        if not live:
            return tuple(Tensor(np.zeros(t.shape), backend=t.backend) for t in targets)
        gs = _grad([y for y, _ in live], targets, grad_outputs=[v for _, v in live], create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(np.zeros(t.shape), backend=t.backend) for g, t in zip(gs, targets))

    first_derivative.__qualname__ = f"the first derivative of {_name(fn)}"  # named in the report
    args = build() + grad_outputs
    return gradcheck(first_derivative, tuple(args), eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
