"""``autodiff filter``: apply a filter from ``signal.filters`` to a 1-D signal file."""

from __future__ import annotations

import argparse
import inspect
import io
from pathlib import Path

import numpy as np

from autodiff.cli._common import CliError, key_value, number, read_array, write_array

__all__ = ["register", "run"]

MODES = ("zero", "replicate", "mirror", "symmetric", "circular", "valid")
EPILOG = """examples:
  autodiff filter signal.csv --filter gaussian --arg sigma=2 --arg m=6 --mode mirror
  autodiff filter signal.npy --filter centered_difference --mode replicate --out slope.npy
  autodiff filter signal.txt --weights 0.25,0.5,0.25 --mode circular --no-plot
Filters (1-D, from autodiff.signal.filters): identity, translation shift=K, average width=K,
gaussian sigma=S [m=M] [normalize=false], sharpen, laplacian, laplacian_of_gaussian sigma=S [m=M],
centered_difference, forward_difference, simpson. The signal file holds one column or one row
(.csv, .txt) or a 1-D array (.npy). Writes the result (default <input>-<filter>.csv beside the
input) and a plot of input and output (<output>.png).
"""


def register(sub):
    p = sub.add_parser(
        "filter",
        help="apply a filter from signal.filters to a 1-D signal file",
        description="Convolve a 1-D signal with a filter w_{-m..m}: z_i = sum_j w_j x_{i+j}, "
        "with a boundary mode for the values past the ends.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="SIGNAL", help="a .csv, .txt or .npy file holding a 1-D signal")
    p.add_argument("--filter", "-f", dest="name", metavar="NAME", help="a filter of signal.filters (see below)")
    p.add_argument("--arg", action="append", type=key_value, default=[], metavar="NAME=VALUE",
                   help="a parameter of the filter, e.g. sigma=2 (repeat for several)")
    p.add_argument("--weights", metavar="W1,W2,...", help="instead of --filter: your own odd-length weights")
    p.add_argument("--mode", choices=MODES, default="zero", help="boundary mode (default zero); valid drops 2m values")
    p.add_argument("--out", "-o", metavar="FILE", help="result file .csv .txt or .npy")
    p.add_argument("--plot", metavar="FILE", help="plot file .png .svg or .pdf (default: the output's name, .png)")
    p.add_argument("--no-plot", action="store_true", help="write no plot")
    p.set_defaults(run=run)
    return p


def _one_d_filters(filters):
    return [n for n in filters.__all__ if not n.endswith("2d") and n != "sobel"]


def _weights(args):
    from autodiff.signal import filters

    if (args.name is None) == (args.weights is None):
        raise CliError("give --filter NAME or --weights W1,W2,... (one of them)")
    if args.weights is not None:
        if args.arg:
            raise CliError("--arg goes with --filter, not with --weights")
        try:
            w = np.array([number(v) for v in args.weights.split(",")], dtype=np.float64)
        except argparse.ArgumentTypeError as e:
            raise CliError(f"--weights: {e}") from None
        return w, "weights"
    names = _one_d_filters(filters)
    if args.name not in names:
        raise CliError(f"--filter: unknown filter {args.name!r}; choose one of {', '.join(names)}")
    fn = getattr(filters, args.name)
    kwargs = {k: int(v) if isinstance(v, float) and v.is_integer() and k in ("m", "width", "shift") else v
              for k, v in args.arg}
    try:
        inspect.signature(fn).bind(**kwargs)
    except TypeError:
        params = ", ".join(inspect.signature(fn).parameters) or "no parameters"
        raise CliError(f"--filter {args.name} takes {params}; got {', '.join(k for k, _ in args.arg) or 'none'}") from None
    try:
        w = np.asarray(fn(**kwargs), dtype=np.float64)
    except (ValueError, TypeError) as e:
        raise CliError(f"--filter {args.name}: {e}") from None
    shown = ", ".join(f"{k}={v:g}" if not isinstance(v, bool) else f"{k}={v}" for k, v in kwargs.items())
    return w, f"{args.name}({shown})"


def _plot(path, x, z, mode, m, title):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from autodiff._files import atomic_write

    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise CliError(f"--plot: use a .png, .svg or .pdf file name, not {str(path)!r}")
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(np.arange(len(x)), x, lw=1, color="0.6", label="input")
    start = m if mode == "valid" else 0  # a valid output starts at the first full window
    ax.plot(np.arange(start, start + len(z)), z, lw=1.5, label=f"output ({mode})")
    ax.set_xlabel("i")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=110)
    return atomic_write(path, buf.getvalue())


def run(args) -> int:
    from autodiff import signal

    w, what = _weights(args)
    if w.ndim != 1 or len(w) % 2 == 0:
        raise CliError(f"the filter must have odd length (w_-m..w_m), got {len(w)} weights")
    x = read_array(args.input, "signal file")
    if x.ndim > 1 and sorted(x.shape)[:-1] != [1] * (x.ndim - 1):
        raise CliError(f"{args.input!r} holds an array of shape {x.shape}; expected a 1-D signal (one column or one row)")
    x = x.ravel()
    try:
        z = np.asarray(signal.convolve1d(x, w, mode=args.mode), dtype=np.float64)
    except ValueError as e:
        raise CliError(str(e)) from None
    src = Path(args.input)
    label = args.name or "filtered"
    out = Path(args.out) if args.out else src.with_name(f"{src.stem}-{label}.csv")
    written = [write_array(out, z)]
    if not args.no_plot:
        plot = Path(args.plot) if args.plot else out.with_suffix(".png")
        shown = f"w = [{', '.join(f'{v:.3g}' for v in w)}]" if len(w) <= 7 else f"{len(w)} weights"
        title = f"{what}, {shown}, mode {args.mode}"
        written.append(_plot(plot, x, z, args.mode, len(w) // 2, title))
    print(f"{what} = [{', '.join(f'{v:.4g}' for v in w)}], mode {args.mode}: {len(x)} samples -> {len(z)}")
    for path in written:
        print(f"wrote {path}")
    return 0
