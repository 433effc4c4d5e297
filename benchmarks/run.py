"""Run every benchmark module in benchmarks/ (``bench_*.py`` with a ``main(argv)``).

    python benchmarks/run.py [--only mlp,scalar] [--list] [--in-process] [--quick | --smoke] [--json PATH] [...]

Each module runs in a fresh interpreter (the same Python), so one module's imports (torch), heap
and garbage-collector state cannot change another's timings; ``--in-process`` runs them all in
this process instead (faster to start). Options other than ``--only``, ``--list``,
``--in-process`` and ``--json`` go to every module (see common.py for the convention and
``python benchmarks/bench_mlp.py --help`` for the shared options). ``--json`` saves every
module's results, with the environment, in one file. Exit status 1 if a module failed (a module
that does not follow the convention of benchmarks/README.md fails, as it does in the smoke test).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import common  # noqa: E402


def discover() -> list[str]:
    """Names of the benchmark modules, in alphabetical order."""
    return sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("bench_") and f.endswith(".py"))


def _run_in_process(name, rest):
    mod = importlib.import_module(name)
    if not callable(getattr(mod, "main", None)):
        print(f"\n=== {name}: skipped (no main(argv) function; see benchmarks/README.md) ===")
        return None
    return mod.main(list(rest))


def _run_subprocess(name, rest):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [sys.executable, os.path.join(HERE, f"{name}.py"), *rest, "--child", "--json", out]
        sys.stdout.flush()
        proc = subprocess.run(cmd, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} exited with status {proc.returncode}")
        with open(out) as f:
            return json.load(f)["benchmarks"][0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", metavar="NAMES", help="comma-separated module names, with or without 'bench_'")
    ap.add_argument("--list", action="store_true", help="list the benchmark modules and exit")
    ap.add_argument("--in-process", action="store_true", help="run the modules in this process, one after another")
    ap.add_argument("--json", metavar="PATH", help="save every module's results in one JSON file")
    args, rest = ap.parse_known_args(argv)
    common.parser().parse_args(rest)  # reject unknown options before running anything
    names = discover()
    if args.list:
        print("\n".join(names))
        return 0
    if args.only:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in args.only.split(",") if n}
        unknown = wanted - set(names)
        if unknown:
            ap.error(f"unknown benchmark(s) {sorted(unknown)}; found {names}")
        names = [n for n in names if n in wanted]
    common.print_env(common.env_info())
    common.mark_env_printed()
    results, failed = [], []
    t0 = time.perf_counter()
    for name in names:
        try:
            if not common.follows_convention(os.path.join(HERE, f"{name}.py")):
                raise RuntimeError(f"{name} does not follow the convention of benchmarks/README.md "
                                   "(main(argv) with common.start)")
            if args.in_process:
                res = _run_in_process(name, rest)
            else:
                res = _run_subprocess(name, rest)
            if res is not None:
                results.append(res)
        except Exception:  # one broken module must not hide the others' results
            traceback.print_exc()
            failed.append(name)
    print(f"\nran {len(results)} benchmark module(s) in {time.perf_counter() - t0:.0f} s"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    if args.json:
        common.save_json(args.json, {"env": common.env_info(), "benchmarks": results, "failed": failed})
        print(f"results written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
