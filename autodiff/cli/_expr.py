"""Expressions such as ``tanh(a*b + c)`` turned into a graph of Scalars, safely.

The text is parsed with ``ast`` and only a whitelist is accepted: numbers, variable names, the
operators ``+ - * / **`` and unary ``-``/``+``, and calls of the Scalar functions below with one
argument. Everything else (attributes, subscripts, lambdas, comprehensions, keywords, strings,
other names as functions) is refused. Nothing is ever passed to ``eval``. The tree is walked
with an explicit stack, so a long expression cannot exhaust Python's recursion limit.
"""

from __future__ import annotations

import ast

from autodiff.cli._common import CliError
from autodiff.scalar import Scalar

__all__ = ["FUNCTIONS", "DEFAULTS", "build", "variables"]

FUNCTIONS = ("exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "sin", "cos")
_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a ** b,
}
_UNARY = {ast.USub: lambda a: -a, ast.UAdd: lambda a: a}
DEFAULTS = (0.5, -1.0, 1.5, -0.5, 2.0, -1.5, 1.0, -2.0)  # unknown variables, in order of appearance
MAX_LENGTH = 2000


def _where(node) -> str:
    return f" at column {node.col_offset + 1}" if hasattr(node, "col_offset") else ""


def _refuse(node, what=None) -> CliError:
    what = what or f"{type(node).__name__.lower()} expressions"
    return CliError(
        f"not allowed in an expression{_where(node)}: {what}; use numbers, variables, + - * / **, and "
        f"the functions {', '.join(FUNCTIONS)}"
    )


def _parse(text: str) -> ast.Expression:
    if len(text) > MAX_LENGTH:
        raise CliError(f"the expression is longer than {MAX_LENGTH} characters")
    try:
        return ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        where = f" (column {e.offset})" if e.offset else ""
        raise CliError(f"cannot parse the expression: {e.msg}{where}") from None
    except (ValueError, RecursionError, MemoryError):
        raise CliError("cannot parse the expression (too deeply nested or not text)") from None


def _children(node):
    """Checked sub-expressions of one node, in operand order."""
    if isinstance(node, ast.Expression):
        return [node.body]
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise _refuse(node, f"the operator {type(node.op).__name__}")
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise _refuse(node, f"the operator {type(node.op).__name__}")
        return [node.operand]
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise _refuse(node, "calling anything but a function name")
        if node.func.id not in FUNCTIONS:
            raise _refuse(node, f"the unknown function {node.func.id!r}")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise _refuse(node, f"{node.func.id} with other than one plain argument")
        return [node.args[0]]
    if isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise _refuse(node, f"the function {node.id!r} without a call")
        if node.id.startswith("_"):
            raise _refuse(node, f"the name {node.id!r} (names starting with '_')")
        return []
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _refuse(node, f"a constant of type {type(node.value).__name__}")
        return []
    raise _refuse(node)


def _postorder(tree):
    """Every node after its children, checked against the whitelist (iterative)."""
    out, stack = [], [(tree, False)]
    while stack:
        node, done = stack.pop()
        if done:
            out.append(node)
            continue
        stack.append((node, True))
        for child in reversed(_children(node)):
            stack.append((child, False))
    return out


def variables(text: str) -> list:
    """The variable names of an expression, in order of first appearance."""
    names = []
    for node in _postorder(_parse(text)):
        if isinstance(node, ast.Name) and node.id not in names:
            names.append(node.id)
    return names


def _fold(fn, *values):
    """An op on plain numbers, with the Scalar engine's inf/nan instead of Python's exceptions."""
    result = fn(*(Scalar(v) for v in values))
    return result.data


def build(text: str, values: dict):
    """The expression's value as a Scalar graph over leaves named after the variables.

    ``values`` maps every variable name to a number. Returns (output Scalar, {name: leaf}).
    Constant sub-expressions are folded into numbers (so ``2**3`` is the number 8).
    """
    leaves = {name: Scalar(float(v), label=name) for name, v in values.items()}
    results = {}
    for node in _postorder(_parse(text)):
        if isinstance(node, ast.Expression):
            out = results[id(node.body)]
            break
        if isinstance(node, ast.Constant):
            try:
                value = float(node.value)
            except OverflowError:
                raise CliError(f"the number{_where(node)} is too large") from None
        elif isinstance(node, ast.Name):
            value = leaves[node.id]
        else:
            args = [results.pop(id(c)) for c in _children(node)]
            if isinstance(node, ast.Call):
                fn = getattr(Scalar, node.func.id)
            elif isinstance(node, ast.BinOp):
                fn = _BINARY[type(node.op)]
            else:
                fn = _UNARY[type(node.op)]
            if all(isinstance(a, float) for a in args):
                value = _fold(fn, *args)
            else:
                value = fn(*args)
        results[id(node)] = value
    if isinstance(out, float):
        raise CliError("the expression has no variables, so it has no graph to draw")
    return out, leaves
