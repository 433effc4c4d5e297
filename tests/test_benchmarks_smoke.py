"""The benchmarks are never tests. This only runs every case of every benchmark module once, with
tiny sizes (``--smoke``), so that benchmark code cannot rot; it times nothing."""

import importlib
import json
import pathlib

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
MODULES = sorted(p.stem for p in BENCH.glob("bench_*.py"))


@pytest.fixture(autouse=True)
def bench_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_module_runs_once_with_tiny_sizes(name, tmp_path, capsys):
    common = importlib.import_module("common")
    assert common.follows_convention(BENCH / f"{name}.py"), (
        f"{name} does not follow the convention of benchmarks/README.md (main(argv) with common.start)")
    mod = importlib.import_module(name)
    out = tmp_path / f"{name}.json"
    result = mod.main(["--smoke", "--json", str(out)])
    assert result["mode"] == "smoke"
    assert any(s["kind"] == "comparison" for s in result["sections"]), "a benchmark compares something"
    saved = json.loads(out.read_text())
    assert saved["benchmarks"][0]["benchmark"] == result["benchmark"]
    assert "numpy" in saved["env"]


def test_runner_finds_the_benchmarks(capsys):
    run = importlib.import_module("run")
    assert run.discover() == MODULES
    assert run.main(["--list"]) == 0
    assert capsys.readouterr().out.split() == MODULES
