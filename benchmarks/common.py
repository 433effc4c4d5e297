"""The benchmark harness: interleaved timing with medians, environment report, CLI and JSON output.

The convention every ``benchmarks/bench_*.py`` module follows (``run.py`` and the smoke test
rely on it):

- it defines ``main(argv=None) -> dict`` and ends with ``if __name__ == "__main__": main(sys.argv[1:])``;
- ``main`` starts with ``args, report = common.start(argv, "name", __doc__)``, then adds
  comparisons (``report.compare(...)``) and free tables (``report.table(...)``), and ends with
  ``return report.finish()`` (which prints the tables, writes ``--json`` and returns the results);
- ``args.smoke`` means tiny sizes, every case run once, in well under a second: the smoke test
  runs it so that benchmark code cannot rot. ``args.quick`` means real sizes, few rounds;
- an optional comparator (PyTorch, micrograd, ...) that is not importable is skipped with a
  note (``report.note``), never an error: the benchmarks run with the project's own venv.

Timing: each round runs every case once, in a rotating order (A B C, B C A, C A B, ...), so slow
drift and noisy neighbours hit all cases alike. A case is repeated ``number`` times per round
(calibrated so a round of it lasts at least ``--min-time``), after warm-up rounds. We report the
median time per call, its interquartile range, and the ratio to the baseline as the median of the
per-round ratios (paired, so a round slowed by a neighbour mostly cancels out), and the fastest
round (``min``: the least disturbed by other processes), and the minor page faults per call
(memory the allocator gave back to the system and had to fault in again: a cost that depends on
the peak memory of a step, see README.md). The garbage collector stays on, as in
real use, and a full collection runs (untimed) before each case's block, so no case pays for the
cyclic garbage of the one before it (micrograd's closures make cycles: its last step's garbage
is then collected outside its timing, which favours micrograd slightly).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable

try:
    import resource
except ImportError:  # not on Windows
    resource = None

try:  # run from a checkout without installing: the repository root holds the package
    import autodiff  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

__all__ = ["Report", "start", "env_info", "format_time", "blas_threads", "threads_note", "paired_ratios",
           "optional_import", "follows_convention"]

_env_printed = False


def follows_convention(path) -> bool:
    """True when the module at ``path`` defines ``main(argv...)`` and calls ``common.start`` (read
    statically, without importing it): then run.py can pass options and the smoke test --smoke."""
    import ast

    with open(path) as f:
        tree = ast.parse(f.read(), filename=str(path))
    has_main = any(isinstance(n, ast.FunctionDef) and n.name == "main" and n.args.args for n in tree.body)
    calls_start = any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "start"
        and isinstance(n.func.value, ast.Name) and n.func.value.id == "common"
        for n in ast.walk(tree)
    )
    return has_main and calls_start


# --- environment --------------------------------------------------------------------------------


def optional_import(name):
    """The module ``name``, or None when it is not installed (or fails to import). Under
    ``--threads N`` the limit is applied again afterwards: a comparator may load its own BLAS or
    OpenMP library (SciPy and PyTorch do), which the limit set at start-up did not reach."""
    mod = _try_import(name)
    if mod is not None and _limits:
        _limit_threads(_limits[-1][0], again=True)
    return mod


def _try_import(name):
    try:
        return __import__(name, fromlist=["_"])
    except Exception:  # a broken optional comparator is as good as a missing one
        return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas_info():
    """What threadpoolctl says about the loaded BLAS/OpenMP libraries (or NumPy's build config)."""
    import numpy as np

    tpc = optional_import("threadpoolctl")
    if tpc is not None:
        libs = []
        for info in tpc.threadpool_info():
            libs.append({k: info.get(k) for k in ("user_api", "internal_api", "prefix", "version",
                                                   "num_threads", "architecture", "threading_layer",
                                                   "filepath")})
        return {"source": "threadpoolctl", "libraries": libs}
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        return {"source": "numpy.show_config (install threadpoolctl for the runtime view)",
                "libraries": [{"user_api": "blas", "internal_api": blas.get("name"),
                               "version": blas.get("version"), "num_threads": None,
                               "architecture": None}]}
    except Exception:  # older NumPy without mode="dicts"
        return {"source": "unknown", "libraries": []}


def blas_threads() -> int:
    """The number of threads NumPy's BLAS uses (threadpoolctl), else a guess from the environment."""
    libs = [lib for lib in _blas_info()["libraries"] if lib.get("user_api") == "blas" and lib.get("num_threads")]
    # NumPy's own first: SciPy and PyTorch may load another BLAS, listed in no fixed order
    libs.sort(key=lambda lib: "numpy" not in (lib.get("filepath") or ""))
    for lib in libs:
        return int(lib["num_threads"])
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return os.cpu_count() or 1


def threads_note(args) -> str:
    """How this run set NumPy's BLAS threads, and OPENBLAS_CORETYPE: a note for the modules whose
    numbers depend on them (the header says it too, but run.py prints the header in its own process)."""
    if args.threads:
        how = f"--threads {args.threads}"
    elif os.environ.get("OPENBLAS_NUM_THREADS"):
        how = f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']} in the environment"
    else:
        how = "as set: no --threads, OPENBLAS_NUM_THREADS unset"
    if optional_import("threadpoolctl") is None:
        how += "; threadpoolctl is not installed, so the count is a guess" + (" and --threads had no effect"
                                                                              if args.threads else "")
    core = os.environ.get("OPENBLAS_CORETYPE")
    core = f"OPENBLAS_CORETYPE={core} (as set on this machine)" if core else "OPENBLAS_CORETYPE unset"
    return f"NumPy's BLAS on {blas_threads()} thread(s) ({how}); {core}"


def _dist_version(name):
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def env_info() -> dict:
    """Python, NumPy, BLAS, the OpenBLAS variables, torch/micrograd versions, CPU and load."""
    import numpy as np

    info = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "blas": _blas_info(),
        "env": {k: v for k, v in sorted(os.environ.items())
                if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO_")) and not k.startswith("OPENBLAS_VERBOSE")},
    }
    try:
        info["loadavg"] = os.getloadavg()
    except OSError:
        info["loadavg"] = None
    info["torch"], info["micrograd"] = _dist_version("torch"), _dist_version("micrograd")
    torch = sys.modules.get("torch")  # threads and MKL only when a benchmark imported it (1 s)
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
        info["torch_mkl"] = bool(torch.backends.mkl.is_available())
    try:
        import autodiff

        info["autodiff"] = f"{autodiff.__version__} ({os.path.dirname(autodiff.__file__)})"
    except ImportError:
        info["autodiff"] = None
    return info


def print_env(info: dict, out=None):
    def p(*a):
        print(*a, file=out or sys.stdout)

    p(f"Python {info['python']} ({info['implementation']}), NumPy {info['numpy']}, "
      f"torch {info['torch'] or 'not installed'}, micrograd {info['micrograd'] or 'not installed'}")
    p(f"autodiff {info['autodiff']}")
    p(f"CPU: {info['cpu']} x{info['cpu_count']}; load average {info['loadavg']}")
    blas = info["blas"]
    for lib in blas["libraries"]:
        p(f"  {lib.get('user_api')}: {lib.get('internal_api')} {lib.get('version') or ''} "
          f"threads={lib.get('num_threads')} arch={lib.get('architecture')}  [{blas['source']}]")
    if info["env"]:
        p("  environment: " + " ".join(f"{k}={v}" for k, v in info["env"].items()))
    core = info["env"].get("OPENBLAS_CORETYPE")
    if core:
        p(f"  note: OPENBLAS_CORETYPE={core} forces OpenBLAS's {core} kernels whatever the CPU offers; "
          "NumPy matmul times below are measured as set (PyTorch uses its own BLAS).")
    if info.get("torch_threads"):
        p(f"  torch: {info['torch_threads']} intra-op threads, MKL {'on' if info['torch_mkl'] else 'off'}")


# --- timing -------------------------------------------------------------------------------------


def format_time(seconds: float) -> str:
    """A time with a unit that keeps three significant digits: 812 ns, 1.23 ms, 2.50 s."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _format_ratio(r: float) -> str:
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.2g}x"


def _quantiles(xs):
    if len(xs) == 1:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], statistics.median(xs), q[2]


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _calibrate(fn, min_time, max_number=10_000, clock=time.perf_counter):
    """How many calls make one timed block last at least ``min_time`` (like timeit's autorange)."""
    number = 1
    while True:
        t0 = clock()
        for _ in range(number):
            fn()
        dt = clock() - t0
        if dt >= min_time or number >= max_number:
            return number, dt / number
        number = min(max_number, max(number * 2, int(number * 1.2 * min_time / max(dt, 1e-9))))


def _minor_faults():
    """Minor page faults of this process so far (0 where the resource module is missing)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource is not None else 0


def _time_interleaved(cases, rounds, warmup, min_time, smoke, clock=time.perf_counter, collect=True):
    names = list(cases)
    if smoke:
        numbers = dict.fromkeys(names, 1)
        rounds, warmup = 1, 0
    else:
        # the largest of three tries: one call stalled by another process must not set number=1
        numbers = {n: max(_calibrate(cases[n], min_time, clock=clock)[0] for _ in range(3)) for n in names}
    times = {n: [] for n in names}
    faults = dict.fromkeys(names, 0)
    for r in range(warmup + rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for n in order:
            fn, k = cases[n], numbers[n]
            if collect and not smoke:  # (a full collection costs ~0.1 s once torch is imported)
                gc.collect()
            f0 = _minor_faults()
            t0 = clock()
            for _ in range(k):
                fn()
            dt = (clock() - t0) / k
            if r >= warmup:
                times[n].append(dt)
                faults[n] += _minor_faults() - f0
    faults = {n: faults[n] / (rounds * numbers[n]) for n in names}
    return times, numbers, faults


class Report:
    """The results of one benchmark module: comparisons, free tables and notes, printed and saved."""

    def __init__(self, name: str, args: argparse.Namespace, description: str = ""):
        self.name, self.args, self.description = name, args, description
        self.sections: list[dict] = []

    # the three kinds of section
    def note(self, text: str):
        """A line of text (e.g. why a comparator was skipped), printed at once and kept."""
        print(f"  note: {text}")
        self.sections.append({"kind": "note", "text": text})

    def table(self, title: str, header: list[str], rows: list[list], data: dict | None = None):
        """A free table (e.g. nodes per step, bytes per node); ``data`` is what goes to JSON."""
        sec = {"kind": "table", "title": title, "header": header, "rows": [[str(c) for c in r] for r in rows]}
        if data is not None:
            sec["data"] = data
        self.sections.append(sec)
        _print_table(title, header, sec["rows"])
        return sec

    def compare(self, title: str, cases: dict[str, Callable[[], object]], baseline: str, *,
                rounds: int | None = None, warmup: int = 2, min_time: float | None = None,
                extra: dict[str, dict] | None = None, target: str = "", collect: bool = True) -> dict:
        """Time ``cases`` (name -> zero-argument callable) interleaved and print a table of median
        time, IQR and the ratio to ``baseline``. ``rounds``/``min_time`` default from the command
        line (``--rounds``, ``--min-time``; fewer with ``--quick``). ``extra`` adds per-case
        values to the JSON; ``target`` is printed under the table. ``collect=False`` leaves the
        garbage collector alone between blocks (a case then pays for the cyclic garbage it
        makes, as it would in a loop)."""
        args = self.args
        if baseline not in cases:
            raise ValueError(f"compare: baseline {baseline!r} is not one of the cases {list(cases)}")
        rounds = args.rounds if args.rounds else (rounds or (5 if args.quick else 21))
        if args.quick and not args.rounds:
            rounds = min(rounds, 5)
        min_time = args.min_time if min_time is None else min_time
        if args.quick:
            warmup = min(warmup, 1)
        if args.profile is not None:
            self._profile(title, cases, args.profile)
        times, numbers, faults = _time_interleaved(cases, rounds, warmup, min_time, args.smoke, CLOCKS[args.clock],
                                                   collect=collect)
        base = times[baseline]
        rows, results = [], []
        for n, ts in times.items():
            q1, med, q3 = _quantiles(ts)
            ratio = statistics.median(t / b for t, b in zip(ts, base))
            rec = {"case": n, "median_s": med, "q1_s": q1, "q3_s": q3, "min_s": min(ts), "ratio": ratio,
                   "rounds": len(ts), "number": numbers[n], "clock": args.clock,
                   "minor_faults_per_call": faults[n], "times_s": ts}
            if extra and n in extra:
                rec.update(extra[n])
            results.append(rec)
            rows.append([n, format_time(med), f"{format_time(q1)} - {format_time(q3)}", format_time(min(ts)),
                         _format_ratio(ratio), f"{faults[n]:.0f}", f"{len(ts)}x{numbers[n]}"])
        header = ["case", f"median ({args.clock})", "IQR", "min", f"vs {baseline}", "faults/call", "rounds x calls"]
        sec = {"kind": "comparison", "title": title, "baseline": baseline, "results": results, "target": target}
        self.sections.append(sec)
        _print_table(title, header, rows)
        if target:
            print(f"  target: {target}")
        return sec

    def _profile(self, title, cases, pattern, calls=None):
        for n, fn in cases.items():
            if pattern.lower() not in n.lower():
                continue
            number = _calibrate(fn, 0.5)[0] if calls is None else calls
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(number):
                fn()
            prof.disable()
            buf = io.StringIO()
            st = pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime")
            st.print_stats(self.args.profile_top)
            print(f"\n--- cProfile of {title} / {n}: {number} calls, sorted by own time ---")
            print(buf.getvalue().rstrip())

    def finish(self) -> dict:
        """Write ``--json`` (when given) and return the results as a dict."""
        result = {"benchmark": self.name, "description": self.description.strip().splitlines()[0]
                  if self.description else "", "mode": _mode(self.args), "sections": self.sections}
        if self.args.json:
            save_json(self.args.json, {"env": env_info(), "benchmarks": [result]})
            if not self.args.child:
                print(f"\nresults written to {self.args.json}")
        return result


def paired_ratios(section: dict, case: str, over: str) -> list[float]:
    """Per-round ratios time(case) / time(over) of a comparison returned by ``Report.compare``: the
    two ran in the same rounds, so each ratio pairs calls made under the same load."""
    times = {r["case"]: r["times_s"] for r in section["results"]}
    return [t / b for t, b in zip(times[case], times[over])]


def _mode(args):
    return "smoke" if args.smoke else "quick" if args.quick else "full"


def _print_table(title, header, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(header)]
    print(f"\n{title}")
    line = "  ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(header, widths)))
    print("  " + line)
    print("  " + "-" * len(line))
    for r in rows:
        print("  " + "  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(r, widths))))


def save_json(path, payload):
    with open(path, "w") as f:
        json.dump(payload, f, indent=1, default=float)


# --- command line -------------------------------------------------------------------------------


def parser(description: str = "") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="real sizes, few rounds (a first look, ~1/4 of the time)")
    g.add_argument("--smoke", action="store_true", help="tiny sizes, each case once (what the smoke test runs)")
    p.add_argument("--json", metavar="PATH", help="also save the results (and the environment) as JSON")
    p.add_argument("--rounds", type=int, default=0, help="interleaved rounds per comparison (default: per benchmark)")
    p.add_argument("--min-time", type=float, default=0.05, metavar="S",
                   help="repeat a case within a round until it takes at least S seconds (default 0.05)")
    p.add_argument("--profile", metavar="CASE", nargs="?", const="autodiff", default=None,
                   help="before timing, run the cases whose name contains CASE (default 'autodiff') "
                        "under cProfile and print the top functions")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="limit NumPy's BLAS (via threadpoolctl) and PyTorch to N threads (default: as set)")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                   help="wall: elapsed time (default); cpu: the process's CPU time, all threads (robust to "
                        "other processes on a busy machine when BLAS runs one thread: use with --threads 1)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # run by run.py: it prints the env
    p.add_argument("--profile-top", type=int, default=25, metavar="N", help="functions shown by --profile")
    return p


_limits = []  # keeps the threadpoolctl limit in force for the life of the process


def _limit_threads(n, again=False):
    tpc = _try_import("threadpoolctl")
    if tpc is None:
        print(f"  note: --threads {n} needs threadpoolctl (or set OPENBLAS_NUM_THREADS before starting Python)")
    elif again or not _limits or _limits[-1][0] != n:  # again: reach the libraries loaded since
        _limits.append((n, tpc.threadpool_limits(limits=n)))
    torch = sys.modules.get("torch")  # never import it here: 10^5 more objects for every gc pass
    if torch is not None:
        torch.set_num_threads(n)


def mark_env_printed():
    global _env_printed
    _env_printed = True


def start(argv, name: str, description: str = "") -> tuple[argparse.Namespace, Report]:
    """Parse the command line, print the environment (once per process) and return a Report."""
    global _env_printed
    args = parser(description).parse_args(argv)
    if args.threads:
        _limit_threads(args.threads)
    print(f"\n=== {name} [{_mode(args)}] ===")
    if not _env_printed and not args.child:
        print_env(env_info())
        _env_printed = True
    return args, Report(name, args, description)
