"""``autodiff gradcheck``: finite-difference checks of every built-in op, or of your own ops."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path

import numpy as np

from autodiff.cli._common import CliError, int_list, number

__all__ = ["register", "run"]

EPILOG = """examples:
  autodiff gradcheck                                 # every built-in op on the numpy back end
  autodiff gradcheck --backend both                  # ... and on the scalar back end
  autodiff gradcheck my_ops.py:cube --shape 3,4      # a function of Tensors in a file
  autodiff gradcheck mypkg.ops:Cube --low 0.1 --high 2   # an ad.Function subclass in a module
  autodiff gradcheck my_ops.py:bilinear --shape 2,3 --shape 3,4   # one --shape per input
Exit status: 0 when every check passes, 1 when one fails, 2 for bad arguments.
"""


def register(sub):
    p = sub.add_parser(
        "gradcheck",
        help="check gradients against finite differences (built-in ops or your own)",
        description="Compare analytic gradients with central finite differences in float64 "
        "(ad.gradcheck_report) and print a table of the worst errors.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("targets", nargs="*", metavar="MODULE:FUNCTION",
                   help="ops to check: path/to/file.py:name or package.module:name (a function of "
                   "Tensors or an ad.Function subclass); none: every built-in op")
    p.add_argument("--shape", action="append", type=int_list, default=[], metavar="D1,D2,...",
                   help="input shape for your ops (default 2,3); once for all inputs or once per input")
    p.add_argument("--low", type=number, default=-1.0, help="inputs are uniform in [low, high] (default -1)")
    p.add_argument("--high", type=number, default=1.0, help="(default 1)")
    p.add_argument("--backend", choices=("numpy", "scalar", "both"), default="numpy", help="default numpy")
    p.add_argument("--eps", type=number, default=1e-6, help="finite-difference step (default 1e-6)")
    p.add_argument("--atol", type=number, default=1e-5, help="default 1e-5")
    p.add_argument("--rtol", type=number, default=1e-3, help="default 1e-3")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.set_defaults(run=run)
    return p


def _import(spec: str):
    """The object named by 'path/to/file.py:name' or 'package.module:name'."""
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise CliError(f"{spec!r} should look like file.py:function or module:function")
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise CliError(f"cannot read {where!r}: no such file")
            sys.path.insert(0, str(path.resolve().parent))  # its sibling imports work
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(where)
    except CliError:
        raise
    except Exception as e:  # the user's module failed to import: report it on one line
        raise CliError(f"cannot import {where!r}: {type(e).__name__}: {e}") from None
    obj = getattr(module, name, None)
    if obj is None:
        raise CliError(f"{where!r} has no {name!r}")
    return obj


def _target(spec: str):
    """(display name, function of Tensors, number of Tensor inputs or None if unknown)."""
    from autodiff import Function

    obj = _import(spec)
    if isinstance(obj, type) and issubclass(obj, Function):
        fn, sig_of, skip = obj.apply, obj.forward, 1  # forward(ctx, *inputs)
    elif callable(obj):
        fn, sig_of, skip = obj, obj, 0
    else:
        raise CliError(f"{spec!r} is a {type(obj).__name__}, not a function or an ad.Function")
    try:
        params = list(inspect.signature(sig_of).parameters.values())[skip:]
    except (TypeError, ValueError):
        return spec, fn, None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return spec, fn, None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return spec, fn, sum(1 for p in params if p.kind in kinds and p.default is p.empty)


def _shapes_for(n, shapes, spec):
    if n is None:
        n = max(len(shapes), 1)
    if not shapes:
        return [(2, 3)] * n
    if len(shapes) == 1:
        return [tuple(shapes[0])] * n
    if len(shapes) != n:
        raise CliError(f"{spec} takes {n} input(s) but {len(shapes)} --shape options were given")
    return [tuple(s) for s in shapes]


def _check(fn, inputs, args):
    import autodiff as ad

    try:
        report = ad.gradcheck_report(fn, inputs, eps=args.eps, atol=args.atol, rtol=args.rtol)
    except Exception as e:  # the op itself raised: a failing row, with the reason
        return None, f"ERROR {type(e).__name__}: {' '.join(str(e).split())[:120]}"
    if not report.passed:
        return report, "FAIL"
    return report, f"ok ({len(report.kinks)} kinks accepted)" if report.kinks else "ok"


def run(args) -> int:
    from tqdm import tqdm

    from autodiff.cli._optable import available, inputs_for

    if args.low >= args.high:
        raise CliError(f"--low ({args.low:g}) must be below --high ({args.high:g})")
    backends = ("numpy", "scalar") if args.backend == "both" else (args.backend,)
    rows = []  # (name, inputs, function, shapes, domain)
    if args.targets:
        for spec in args.targets:
            name, fn, n = _target(spec)
            rows.append((name, fn, _shapes_for(n, args.shape, spec), "any"))
    else:
        if args.shape:
            raise CliError("--shape applies to your own ops; the built-in table has its own shapes")
        rows = [(name, fn, shapes, domain) for name, fn, shapes, domain, _ in available()]
    results = []
    jobs = [(row, b) for row in rows for b in backends]
    for (name, fn, shapes, domain), backend in tqdm(jobs, desc="gradcheck", unit="op", leave=False, disable=None):
        rng = np.random.default_rng(args.seed)
        inputs = inputs_for(shapes, domain, rng, backend, args.low, args.high)
        report, status = _check(fn, inputs, args)
        results.append((name, backend, shapes, report, status))
    _print_table(results, len(backends) > 1)
    failed = [r for r in results if not r[4].startswith("ok")]
    for name, backend, _, report, _status in failed:
        if report is not None:
            print(f"\n{name} [{backend}]: {report.message()}")
    print(f"\n{len(results) - len(failed)} of {len(results)} checks passed")
    return 1 if failed else 0


def _print_table(results, show_backend):
    head = ["op"] + (["back end"] if show_backend else []) + ["inputs", "entries", "worst abs error", "status"]
    lines = []
    for name, backend, shapes, report, status in results:
        worst = "-" if report is None or report.worst is None else f"{report.worst.error:.2e}"
        checked = "-" if report is None else str(report.checked)
        shown = " ".join("x".join(map(str, s)) or "()" for s in shapes)
        lines.append([name] + ([backend] if show_backend else []) + [shown, checked, worst, status])
    widths = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head))]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in lines:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
