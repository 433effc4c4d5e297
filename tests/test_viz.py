"""autodiff.viz: DOT source of known graphs, rendered SVG, escaping, explain's chain-rule text
(expected numbers worked out by hand), and the history plot."""

import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import autodiff as ad
from autodiff import viz
from autodiff._mode import module_scope

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def _counts(src):
    values = re.findall(r"^\s*v\d+ \[", src, flags=re.M)
    ops = re.findall(r"^\s*o\d+ \[", src, flags=re.M)
    edges = re.findall(r"->", src)
    return len(values), len(ops), len(edges)


def _lecture_graph():
    # micrograd's lecture example: L = (a*b + c) * f
    a, b, c, f = (ad.Scalar(v, label=n) for v, n in ((2.0, "a"), (-3.0, "b"), (10.0, "c"), (-2.0, "f")))
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    return L, (a, b, c, f)


def _svg_text(path):
    root = ET.parse(path).getroot()  # parses: the SVG is well-formed XML
    return [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text]


# --- draw: structure -------------------------------------------------------------------------


def test_scalar_graph_nodes_edges_and_labels():
    a, b = ad.Scalar(2.0, label="a"), ad.Scalar(-3.0, label="b")
    out = a * b + a
    src = viz.draw(out).source
    # values a, b, a*b, a*b+a; one op node per non-leaf; edges op->value and parent->op
    assert _counts(src) == (4, 2, 2 + 4)
    assert "<B>a</B>" in src and "<B>b</B>" in src
    assert "data -6" in src and "data -4" in src
    assert "#2" in src  # the unlabelled product is numbered, as explain numbers it
    assert viz.draw(out, show_values=False).source.count("data ") == 0


def test_tensor_graph_one_node_per_tensor_with_shapes_and_params():
    x = ad.Tensor(np.ones((4, 3)))
    W = ad.Tensor(np.full((3, 2), 0.5), requires_grad=True)
    loss = (x @ W).sum()
    src = viz.draw(loss, params={"W": W}).source
    assert _counts(src) == (4, 2, 2 + 3)
    assert "matmul (4, 2)" in src and "param (3, 2)" in src and "<B>W</B>" in src
    assert "leaf (4, 3)" in src  # an input without gradient is a plain leaf
    assert 'label=0' in src and 'label=1' in src  # operand order of a non-commutative op


def test_an_op_node_shows_its_params_but_not_the_arrays_it_saved():
    x = ad.Tensor(np.zeros((40, 5)), requires_grad=True)
    loss = ad.nn.cross_entropy(x, np.arange(40) % 5, reduction="sum")
    assert ad.graph.saved(loss) is not None  # cross-entropy keeps its exponentials for the rule
    src = viz.draw(loss).source
    assert "reduction=&#x27;sum&#x27;" in src and "saved" not in src
    # a saved value short enough to print is left out too
    from autodiff import Op

    twice = Op("twice", lambda a, k: (a * k, 2.0), (lambda g, out, a, k, saved=None: g * k,),
               scalar=lambda a, k: a * k, saves=True)
    src = viz.draw(twice(x, k=3.0).sum()).source
    assert "k=3.0" in src and "saved" not in src


def test_scalar_backend_draws_the_scalar_graph():
    x = ad.Tensor([1.0, 2.0], backend="scalar", requires_grad=True)
    x.label = "x"
    y = (x * x).sum()
    src = viz.draw(y).source
    # x[0], x[1], two products and the sum of the two (np.sum adds pairwise: one '+')
    assert _counts(src) == (5, 3, 3 + 4 + 2)
    assert "<B>x[0]</B>" in src and "<B>x[1]</B>" in src


def test_marks_nan_and_dead_parameters():
    w = ad.Tensor([-1.0, 2.0], requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = w.log().sum()
    assert "NaN/inf!" in viz.draw(y).source
    # every unit negative before relu: the weight's gradient is exactly zero (a dead unit)
    x = ad.Tensor(np.ones((2, 3)))
    W = ad.Tensor(-np.ones((3, 2)), requires_grad=True)
    loss = (x @ W).relu().sum()
    assert "dead" not in viz.draw(loss).source  # before backward a zero gradient means nothing
    loss.backward(retain_graph=True)  # (a Tensor graph is drawn after backward only if kept)
    assert "grad = 0 (dead)" in viz.draw(loss).source
    W2 = ad.Tensor([[1.0, -1.0], [1.0, -1.0], [1.0, -1.0]], requires_grad=True)
    (x @ W2).relu().sum().backward()  # the second unit is dead: its column gets no gradient
    assert "3/6 grads = 0" in viz.draw((x @ W2).relu().sum()).source
    a = ad.Scalar(0.0, label="a")
    s = a.relu() * 3
    s.backward()
    assert "grad = 0 (dead)" in viz.draw(s).source


def test_clusters_follow_module_scopes():
    x = ad.Tensor(np.ones((1, 2)))
    W1 = ad.Tensor(np.ones((2, 2)), requires_grad=True)
    W2 = ad.Tensor(np.ones((2, 1)), requires_grad=True)
    with module_scope("hidden"):
        h = (x @ W1).tanh()
    with module_scope("head"):
        y = h @ W2
    loss = y.sum()
    src = viz.draw(loss, cluster=True).source
    assert src.count("subgraph cluster_") == 2 and "<B>hidden</B>" in src and "<B>head</B>" in src
    assert "subgraph" not in viz.draw(loss).source
    # on the scalar back end the Scalars made inside each call are boxed the same way
    xs, W1s, W2s = (t.to("scalar") for t in (x, W1, W2))
    with module_scope("hidden"):
        hs = (xs @ W1s).tanh()
    with module_scope("head"):
        ys = (hs @ W2s).sum()
    body = viz.draw(ys, cluster=True).source.split("subgraph cluster_")
    assert len(body) == 3
    hidden = next(b for b in body if "<B>hidden</B>" in b)
    assert hidden.count("tanh") >= 2 * 2  # the two tanh values and their op nodes


def test_max_nodes_gives_a_clear_error_and_deep_graphs_do_not_recurse():
    x = ad.Scalar(0.5, label="x")
    y = x
    for _ in range(3000):
        y = y * 1.0
    with pytest.raises(ValueError, match="more than max_nodes=300"):
        viz.draw(y)
    src = viz.draw(y, max_nodes=None, show_values=False).source  # 3000 levels: no RecursionError
    assert _counts(src)[0] == 1 + 2 * 3000
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw(x, rankdir="XY")
    with pytest.raises(TypeError):
        viz.draw(1.5)


# --- render ----------------------------------------------------------------------------------


def test_dot_output_needs_no_graphviz_program(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    L, _ = _lecture_graph()
    p = viz.render(L, tmp_path / "g.dot")
    assert p.read_text().startswith("digraph")
    with pytest.raises(RuntimeError, match="apt-get install graphviz.*brew install graphviz.*conda install graphviz"):
        viz.render(L, tmp_path / "g.svg")
    with pytest.raises(ValueError, match=r"\.svg"):
        viz.render(L, tmp_path / "g.txt")
    assert sorted(f.name for f in tmp_path.iterdir()) == ["g.dot"]  # nothing half-written


@needs_dot
def test_rendered_svg_parses_and_shows_labels(tmp_path):
    L, _ = _lecture_graph()
    L.backward()
    texts = _svg_text(viz.render(L, tmp_path / "g.svg", rankdir="TB"))
    for label in ("a", "b", "c", "f", "e", "d", "L"):
        assert label in texts
    assert "grad 6" in texts and "grad -4" in texts  # dL/da = f*b, dL/db = f*a
    assert viz.render(L, tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_dot
def test_special_characters_in_labels(tmp_path):
    a = ad.Scalar(1.0, label='x<1 & "y">\nz')
    b = ad.Scalar(2.0, label="]}{|\\")
    src = viz.draw(a * b).source
    assert "&lt;" in src and "&amp;" in src and "&quot;" in src and "<BR/>z" in src
    texts = _svg_text(viz.render(a * b, tmp_path / "s.svg"))
    assert 'x<1 & "y">' in texts and "z" in texts and "]}{|\\" in texts
    x = ad.Tensor([1.0], requires_grad=True)
    x.label = "<script>"
    with module_scope("scope <&>"):
        y = x * 2
    texts = _svg_text(viz.render(y, tmp_path / "t.svg", cluster=True))
    assert "<script>" in texts and "scope <&>" in texts


# --- explain ---------------------------------------------------------------------------------


def _steps(text):
    return [" ".join(line.split()) for line in text.splitlines()]


def test_explain_lecture_example_by_hand():
    L, (a, b, c, f) = _lecture_graph()
    lines = _steps(viz.explain(L))
    # L = d*f with d = e + c = 4, e = a*b = -6, f = -2: L = -8
    # dL/dd = f = -2, dL/df = d = 4; dL/de = dL/dc = -2 (the + passes it on);
    # dL/da = -2 * b = 6, dL/db = -2 * a = -4
    expected = [
        "step 1: L = -8 [*] g = 1",
        "-> d = 4 local -2 passes -2",
        "-> f = -2 local 4 passes 4",
        "step 2: d = 4 [+] g = -2",
        "-> e = -6 local 1 passes -2",
        "-> c = 10 local 1 passes -2",
        "step 3: e = -6 [*] g = -2",
        "-> a = 2 local -3 passes 6",
        "-> b = -3 local 2 passes -4",
    ]
    start = lines.index(expected[0])
    assert lines[start : start + len(expected)] == expected
    leaves = {ln.split(" = ")[0]: ln for ln in lines if ln.startswith(("a =", "b =", "c =", "f ="))}
    assert leaves["a"].endswith("grad 6") and leaves["b"].endswith("grad -4")
    assert leaves["c"].endswith("grad -2") and leaves["f"].endswith("grad 4")
    assert a.grad == 0.0  # explain does not run backward


def test_explain_after_backward_sums_uses_and_says_when_the_graph_was_released():
    a = ad.Scalar(3.0, label="a")
    y = a * a + a ** 2  # dy/da = 2a + 2a = 12 at a = 3
    before = viz.explain(y)
    y.backward(retain_graph=True)
    after = _steps(viz.explain(y))
    assert "-> a = 3 local 6 passes 6" in after  # x**2: local 2a
    leaf = next(ln for ln in after if ln.startswith("a = 3 grad"))
    assert leaf.startswith("a = 3 grad 12 (= ") and leaf.endswith(".grad = 12")
    assert before.splitlines()[:12] == viz.explain(y).splitlines()[:12]
    y.backward()  # without retain_graph: the graph is released
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        viz.explain(y)
    assert viz.draw(y).source.count(" -> ") == 8  # a Scalar graph keeps its edges: micrograd's drawing works


def test_explain_and_draw_of_a_released_tensor_graph_say_to_retain_it():
    # backward without retain_graph releases a Tensor graph's edges and what cross-entropy saved
    # for its rule, so memory goes as backward runs; explain and draw then say what to do.
    x = ad.Tensor(np.linspace(-1, 1, 120).reshape(40, 3), requires_grad=True)

    def chain(text):  # the steps of the backward pass (the leaves' lines add .grad once it is set)
        return [ln for ln in _steps(text) if ln.startswith(("step", "->"))]

    loss = ad.nn.cross_entropy(x * 2.0, np.arange(40) % 3)
    before = chain(viz.explain(loss))
    loss.backward(retain_graph=True)
    assert len(before) == 4 and chain(viz.explain(loss)) == before
    loss.backward()
    for show in (viz.explain, viz.draw):
        with pytest.raises(RuntimeError, match=r"backward\(retain_graph=True\)"):
            show(loss)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()  # the graph is still freed for backward itself


def test_explain_adds_up_an_operand_used_twice_and_shows_one_element_gradients():
    # x - x, x / x, x ** x: both operand positions pass a gradient (a dict by id kept one)
    for f in (lambda x: x - x, lambda x: x / x, lambda x: x**x,
              lambda x: ad.concatenate([x.reshape(1), (x * 1.0).reshape(1)], 0).sum()):
        x = ad.Tensor(np.array(1.5), requires_grad=True)
        text = viz.explain(f(x))
        f(x).backward()
        leaf = [ln for ln in _steps(text) if ln.startswith("#0 param")][-1]
        assert float(leaf.split(" grad ")[1].split()[0]) == pytest.approx(x.grad.item(), rel=1e-3), text


def test_draw_empty_arrays_and_max_nodes_over_many_roots():
    x = ad.Tensor(np.zeros((3, 0)), requires_grad=True)
    assert "[]" in viz.draw(x.sum()).source
    cells = ad.Tensor(np.ones(50), backend="scalar", requires_grad=True)
    with pytest.raises(ValueError, match="max_nodes=10"):
        viz.draw(cells, max_nodes=10)


def test_render_into_a_missing_directory_names_the_users_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nodir/a.dot'"):
        viz.render(ad.Scalar(1.0) * 2, tmp_path / "nodir" / "a.dot")
    assert not list(tmp_path.iterdir())


def test_explain_numbering_matches_draw():
    a, b = ad.Scalar(2.0, label="a"), ad.Scalar(5.0, label="b")
    y = (a * b).tanh()
    src, text = viz.draw(y).source, viz.explain(y)
    for k in (2, 3):
        assert f"#{k}" in src and f"#{k} =" in text


def test_explain_tensor_graph_shapes_and_norms():
    x = ad.Tensor([[1.0, 2.0], [3.0, 4.0]])
    W = ad.Tensor([[0.5], [-0.5]], requires_grad=True)
    text = viz.explain((x @ W).sum(), params={"W": W})
    # d sum(xW)/dW = x^T 1 = [[4], [6]], norm sqrt(52) = 7.211
    assert "W param (2, 1)" in text and "passes (2, 1) ‖·‖ 7.211" in text
    assert "no gradient (does not require grad)" in text
    with pytest.raises(ValueError, match="pass gradient="):
        viz.explain(x @ W)
    xs = ad.Tensor([1.0, 2.0], backend="scalar", requires_grad=True)
    xs.label = "x"
    lines = _steps(viz.explain((xs * xs).sum()))
    assert "x[0] = 1 grad 2 (= 1 + 1, one term per use)" in lines
    assert "x[1] = 2 grad 4 (= 2 + 2, one term per use)" in lines


# --- plot_history ----------------------------------------------------------------------------


def test_plot_history_writes_png_and_svg(tmp_path):
    h = {
        "train_loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.7, 0.8],
        "train_acc": [0.5, 0.7, 0.8], "val_acc": [0.4, 0.6, 0.55], "best_epoch": 1,
    }
    png = viz.plot_history(h, tmp_path / "h.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    texts = _svg_text(viz.plot_history(h, tmp_path / "h.svg"))
    assert any("best epoch (2)" in t for t in texts)
    with pytest.raises(ValueError, match=r"\.png"):
        viz.plot_history(h, tmp_path / "h.txt")
    with pytest.raises(ValueError, match="train_loss"):
        viz.plot_history({"best_epoch": 0}, tmp_path / "e.png")
    assert sorted(f.name for f in tmp_path.iterdir()) == ["h.png", "h.svg"]


def test_nested_scopes_give_nested_boxes():
    x = ad.Tensor(np.ones((1, 2)))
    W = ad.Tensor(np.ones((2, 2)), requires_grad=True)
    with module_scope("MLP/Linear[0]"):
        h = x @ W
    with module_scope("MLP/Tanh[1]"):
        y = h.tanh()
    src = viz.draw(y.sum(), cluster=True).source
    assert src.count("subgraph cluster_") == 3
    assert re.search(r"\n\tsubgraph cluster_\d+ \{\n\t\t[^\n]*<B>MLP</B>", src)
    for inner in (r"Linear\[0\]", r"Tanh\[1\]"):  # one level deeper: inside the MLP box
        assert re.search(r"\n\t\tsubgraph cluster_\d+ \{\n\t\t\t[^\n]*<B>" + inner, src)
    # the parameter sits in the box of the layer that uses it, the input x does not
    linear = src.split("Linear[0]")[1].split("}")[0]
    assert "param (2, 2)" in linear and "leaf (1, 2)" not in linear
