"""Drawing backprop graphs with Graphviz: ``draw`` builds a ``graphviz.Digraph``, ``render`` writes it.

As in micrograd's pictures, every value is a record (label, op, shape, data, grad) and a small op
node sits between a value and the values it was made from. Leaves, parameters, the output, values
holding NaN/inf and parameters whose gradient is exactly zero get their own colours.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import graphviz
import numpy as np

from autodiff._files import atomic_write
from autodiff.viz._graph import GraphTooLarge, collect

__all__ = ["draw", "render", "NO_DOT"]

RANKDIRS = ("LR", "RL", "TB", "BT")
_SMALL = 6  # arrays with at most this many elements show their values
_COMMUTATIVE = {"+", "*", "add", "mul", "max", "min", "maximum", "minimum"}
_FILL = {
    "param": "#dbeafe",  # blue: a leaf that receives a gradient
    "input": "#f1f5f9",  # grey: a leaf without gradient (data, a constant)
    "value": "#ffffff",
    "root": "#fef9c3",  # yellow: the output
    "dead": "#fed7aa",  # orange: a parameter whose gradient is exactly zero
    "nonfinite": "#fecaca",  # red: NaN or inf in data or grad
}
NO_DOT = (
    "Graphviz's 'dot' program is not installed (it is needed for .svg, .png and .pdf; .dot files "
    "need nothing). Install it with 'sudo apt-get install graphviz' (Debian/Ubuntu), "
    "'brew install graphviz' (macOS) or 'conda install graphviz', or write a .dot file instead"
)


def _esc(text) -> str:
    """Text for an HTML-like Graphviz label: &, <, >, quotes escaped, newlines as line breaks."""
    text = "".join(c if c >= " " or c == "\n" else " " for c in str(text))
    return html.escape(text, quote=True).replace("\n", "<BR/>")


def _num(x) -> str:
    return f"{float(x):.4g}"


def _values(a) -> str:
    """A small array as rows of numbers (escaped), a large one as its norm."""
    if a.ndim == 0:
        return _num(a)
    if a.size == 0:
        return "[]"
    if a.size <= _SMALL:
        if a.ndim == 1:
            return "[" + ", ".join(_num(v) for v in a.ravel()) + "]"
        rows = a.reshape(-1, a.shape[-1])
        return "<BR/>".join("[" + ", ".join(_num(v) for v in r) + "]" for r in rows)
    return f"‖·‖ {_num(np.linalg.norm(a))}"


def _show(x) -> str:
    if isinstance(x, np.ndarray):
        return _values(x)
    return _num(x)


def _finite(x) -> bool:
    return x is None or bool(np.all(np.isfinite(x)))


def _kind(node, is_root, ran):
    if not (_finite(node.data) and _finite(node.grad)):
        return "nonfinite"
    if node.param and ran and node.grad is not None and not np.any(node.grad):
        return "dead"
    if is_root:
        return "root"
    if node.leaf:
        return "param" if node.param else "input"
    return "value"


def _value_label(node, kind, is_root, show_values) -> str:
    # Unlabelled values are numbered as in ``explain``'s text, so the two can be read together.
    title = [f"<B>{_esc(node.label)}</B>" if node.label else f"#{node.index}"]
    tag = node.op if not node.leaf else ("param" if node.param else "leaf")
    if node.shape is not None:
        tag += f" {node.shape}"
    title.append(f'<FONT POINT-SIZE="8">{_esc(tag)}</FONT>')
    notes = {"nonfinite": "NaN/inf!", "dead": "grad = 0 (dead)"}
    if kind in notes:
        title.append(f'<FONT POINT-SIZE="8" COLOR="#b91c1c">{notes[kind]}</FONT>')
    elif node.param and isinstance(node.grad, np.ndarray) and node.grad.size > 1:
        zeros = int(np.count_nonzero(node.grad == 0))
        if zeros:  # some units get no gradient: worth a look, not an alarm
            title.append(f'<FONT POINT-SIZE="8" COLOR="#9a3412">{zeros}/{node.grad.size} grads = 0</FONT>')
    cells = ["<BR/>".join(title)]
    if show_values:
        cells.append(f"data {_show(node.data)}")
        if node.grad is not None:  # the NumPy back end keeps gradients of leaves only
            cells.append(f"grad {_show(node.grad)}")
    border = "2" if is_root else "1"
    tds = "".join(f"<TD>{c}</TD>" for c in cells)
    return (
        f'<<TABLE BORDER="{border}" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3" '
        f'BGCOLOR="{_FILL[kind]}"><TR>{tds}</TR></TABLE>>'
    )


def _op_label(node) -> str:
    text = _esc(node.op)
    if node.params:
        text += f'<BR/><FONT POINT-SIZE="7">{_esc(node.params)}</FONT>'
    return f"<{text}>"


def draw(root, show_values=True, rankdir="LR", max_nodes=300, cluster=False, params=None) -> graphviz.Digraph:
    """The backprop graph of ``root`` (a Scalar, or a Tensor on either back end) as a Digraph.

    A Scalar or a scalar-back-end Tensor draws the graph of Scalars; a NumPy-back-end Tensor
    draws one node per Tensor. Values show label, op and shape, and (``show_values``) data and
    grad, written out for at most 6 elements and as a norm otherwise. ``max_nodes`` bounds the
    number of value nodes: a larger graph raises ``ValueError`` instead of an unreadable picture.
    ``cluster=True`` boxes the values made inside each ``nn.Module`` call under the module's
    name (a parameter joins the box of the one module that uses it). ``params`` (a dict or
    ``model.named_parameters()``) names parameter Tensors, as torchviz's ``make_dot`` does.
    Unlabelled values are numbered ``#k`` as in ``explain``'s text. Colours: parameters blue,
    other leaves grey, the output yellow (bold border), NaN/inf red, and after backward a
    parameter whose gradient is exactly zero orange. Operand numbers label the edges into
    non-commutative ops.

    >>> a = ad.Scalar(2.0, label="a"); b = ad.Scalar(-3.0, label="b")
    >>> viz.draw(a * b + a)            # 4 value nodes, 2 op nodes
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw: rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"draw: max_nodes must be a positive int or None, got {max_nodes!r}")
    try:
        nodes, roots, ran = collect(root, max_nodes, params)
    except GraphTooLarge:
        hint = (
            "draw a smaller example (fewer samples, a smaller model) or the NumPy back end (one node per Tensor)"
            if not (hasattr(root, "backend") and root.backend == "numpy")
            else "draw the loss of a smaller model"
        )
        raise ValueError(
            f"draw: the graph has more than max_nodes={max_nodes} values; a picture that large is unreadable. "
            f"Pass a larger max_nodes (or None) to draw it anyway, or {hint}"
        ) from None
    g = graphviz.Digraph("autodiff", graph_attr={"rankdir": rankdir, "fontname": "Helvetica"})
    g.attr("node", fontname="Helvetica", fontsize="10")
    g.attr("edge", arrowsize="0.6")
    root_set = set(roots)
    boxes = _boxes({n.scope for n in nodes if n.scope is not None}) if cluster else {}
    for n in nodes:
        where = boxes.get(n.scope, g)
        kind = _kind(n, n.index in root_set, ran)
        where.node(f"v{n.index}", _value_label(n, kind, n.index in root_set, show_values), shape="plaintext")
        if n.leaf:
            continue
        where.node(f"o{n.index}", _op_label(n), shape="ellipse", style="filled", fillcolor="#e2e8f0",
                   fontsize="9", margin="0.02", width="0.4", height="0.3")
        g.edge(f"o{n.index}", f"v{n.index}")
        numbered = len(n.parents) > 1 and n.op not in _COMMUTATIVE
        for j, p in enumerate(n.parents):
            g.edge(f"v{p}", f"o{n.index}", **({"label": str(j), "fontsize": "8"} if numbered else {}))
    for path in sorted(boxes, key=lambda p: -p.count("/")):  # inner boxes into outer ones
        parent = path.rpartition("/")[0]
        boxes.get(parent, g).subgraph(boxes[path])
    return g


def _boxes(scopes) -> dict:
    """One cluster per scope and per enclosing scope: nn names a call inside another call
    'outer/inner' (``MLP/Linear[0]``), drawn as a box inside a box labelled with the last part."""
    paths = set()
    for scope in scopes:
        parts = scope.split("/")
        paths.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    boxes = {}
    for k, path in enumerate(sorted(paths)):
        box = graphviz.Digraph(f"cluster_{k}")
        box.attr(label=f"<<B>{_esc(path.rpartition('/')[2])}</B>>", style="rounded,dashed", color="#64748b",
                 fontname="Helvetica")
        boxes[path] = box
    return boxes


_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
_SOURCES = (".dot", ".gv")


def render(root, path, **draw_options) -> Path:
    """Draw ``root`` (or take a Digraph from ``draw``) and write it to ``path``; returns the path.

    The suffix picks the format: ``.dot``/``.gv`` write the DOT source (no Graphviz program
    needed); ``.svg``, ``.png`` and ``.pdf`` run Graphviz's ``dot``, and raise a RuntimeError
    that says how to install it when it is missing. The file is written atomically.
    ``draw_options`` are passed to ``draw``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _FORMATS and suffix not in _SOURCES:
        raise ValueError(
            f"render: cannot tell the format from {str(path)!r}; use a name ending in "
            f"{', '.join(list(_FORMATS) + list(_SOURCES))}"
        )
    g = root if isinstance(root, graphviz.Digraph) else draw(root, **draw_options)
    if suffix in _SOURCES:
        return atomic_write(path, g.source.encode("utf-8"))
    if shutil.which("dot") is None:
        raise RuntimeError(f"render: {NO_DOT}")
    try:
        data = g.pipe(format=_FORMATS[suffix])
    except graphviz.ExecutableNotFound:
        raise RuntimeError(f"render: {NO_DOT}") from None
    except graphviz.CalledProcessError as e:
        detail = (e.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"render: Graphviz's dot failed: {detail[-1] if detail else e}") from None
    return atomic_write(path, data)
