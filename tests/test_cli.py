"""The `autodiff` command line: graph and gradcheck in subprocesses (exit codes, one-line errors,
no traceback), the expression parser's whitelist in-process. train and filter: test_cli_train_filter.py."""

import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest

from autodiff.cli import main
from autodiff.cli._expr import build, variables


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "autodiff", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def assert_usage_error(proc):
    """Exit 2, no traceback, the error on one line (argparse's usage lines may precede it)."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines and ": error: " in lines[-1]
    if not lines[0].startswith("usage:"):
        assert len(lines) == 1, proc.stderr


def test_help_lists_commands_with_examples():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for command in ("train", "graph", "gradcheck", "filter", "examples:"):
        assert command in proc.stdout


def test_graph_expression_writes_file_and_explains(tmp_path):
    out = tmp_path / ("g.svg" if shutil.which("dot") else "g.dot")
    proc = run_cli("graph", "tanh(a*b + c)", "--var", "a=2", "--var", "b=-3", "--out", str(out), "--explain")
    assert proc.returncode == 0, proc.stderr
    assert "defaults for unset variables: c=0.5" in proc.stdout  # says which variables it made up
    # d tanh(ab + c)/dc = 1 - tanh²(-5.5) = 6.68e-05 (by hand: tanh(-5.5) = -0.9999666)
    assert "d/dc = 6.68046e-05" in proc.stdout
    assert "step 1: out = -1  [tanh]" in proc.stdout
    if out.suffix == ".svg":
        texts = [t.text for t in ET.parse(out).getroot().iter("{http://www.w3.org/2000/svg}text")]
        assert {"a", "b", "c", "out"} <= set(texts)
    else:
        assert out.read_text().startswith("digraph")


def test_graph_refuses_a_hostile_expression(tmp_path):
    proc = run_cli("graph", "__import__('os').system('echo pwned')", "--out", str(tmp_path / "g.dot"), cwd=tmp_path)
    assert_usage_error(proc)
    assert "pwned" not in proc.stdout + proc.stderr.replace("echo pwned", "")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('echo pwned')",
        "a.__class__",
        "(lambda: a)()",
        "[a for a in b]",
        "{a: b}",
        "a[0]",
        "exp(a, b)",
        "exp(x=a)",
        "open('f')",
        "a if b else c",
        "a < b",
        "a @ b",
        "'text'",
        "True * a",
        "_secret * 2",
        "f'{a}'",
        "exp",
        "1 +",
        "(" * 300 + "a" + ")" * 300,
        "2 ** 3",  # no variables: nothing to draw
    ],
)
def test_expression_whitelist_refuses(expr, tmp_path, capsys):
    assert main(["graph", expr, "--out", str(tmp_path / "g.dot")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("autodiff graph: error:") and "\n" not in err
    assert list(tmp_path.iterdir()) == []


def test_expression_builds_the_scalar_graph_by_hand():
    assert variables("tanh(w*x + b) - x") == ["w", "x", "b"]
    out, leaves = build("(a - 1)**2 / b + exp(-a)", {"a": 3.0, "b": 2.0})
    out.backward()
    # f = (a-1)²/b + e^-a: df/da = 2(a-1)/b - e^-a = 2 - e^-3, df/db = -(a-1)²/b² = -1
    assert out.data == pytest.approx(2.0 + 0.049787068, abs=1e-8)
    assert leaves["a"].grad == pytest.approx(2.0 - 0.049787068, abs=1e-8)
    assert leaves["b"].grad == pytest.approx(-1.0)
    deep, _ = build("+".join(["a"] * 900), {"a": 1.0})  # long: the walk is iterative
    deep.backward()
    assert deep.data == 900


def test_graph_bad_arguments(tmp_path):
    assert_usage_error(run_cli("graph", "a*b", "--var", "a=two"))
    assert_usage_error(run_cli("graph", "a*b", "--out", str(tmp_path / "g.txt")))
    proc = run_cli("graph", "a*b", "--max-nodes", "0", "--out", str(tmp_path / "g.dot"))
    assert_usage_error(proc)
    assert "--max-nodes must be a positive number" in proc.stderr
    proc = run_cli("graph", "a*b", "--out", str(tmp_path / "nodir" / "g.dot"))
    assert_usage_error(proc)
    assert "nodir/g.dot'" in proc.stderr and ".tmp" not in proc.stderr


def test_gradcheck_builtin_table_passes():
    proc = run_cli("gradcheck")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:2] == ["op", "inputs"] and "worst abs error" in lines[0]
    rows = [ln for ln in lines[2:] if ln.strip() and " of " not in ln]
    assert len(rows) >= 40 and all(ln.rstrip().endswith("ok") for ln in rows)
    assert any(ln.startswith("log_softmax") for ln in rows)


def test_gradcheck_custom_ops_report_and_exit_status(tmp_path):
    (tmp_path / "my_ops.py").write_text(textwrap.dedent("""
        import autodiff as ad

        class Cube(ad.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 3 * x ** 2 * g

        class WrongCube(Cube):
            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x ** 2 * g          # the deliberate mistake

        def bilinear(a, b):
            return a @ b
    """))
    ok = run_cli("gradcheck", "my_ops.py:Cube", "my_ops:bilinear", "--shape", "2,3", "--shape", "3,2", cwd=tmp_path)
    assert ok.returncode == 2 and "takes 1 input(s) but 2 --shape" in ok.stderr  # Cube has one input
    ok = run_cli("gradcheck", "my_ops.py:Cube", "my_ops:bilinear", "--shape", "3,3", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = run_cli("gradcheck", "my_ops.py:Cube", "my_ops.py:WrongCube", "--low", "0.5", cwd=tmp_path)
    assert bad.returncode == 1
    table = bad.stdout.split("\n\n")[0].splitlines()  # the failure details follow a blank line
    rows = {ln.split()[0]: ln for ln in table if ln.startswith("my_ops")}
    assert rows["my_ops.py:Cube"].endswith("ok") and rows["my_ops.py:WrongCube"].endswith("FAIL")
    assert "gradcheck failed for WrongCube.apply" in bad.stdout and "analytic" in bad.stdout
    assert_usage_error(run_cli("gradcheck", "missing.py:f", cwd=tmp_path))
    assert_usage_error(run_cli("gradcheck", "my_ops.py:nope", cwd=tmp_path))
