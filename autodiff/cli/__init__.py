"""The ``autodiff`` command line (also ``python -m autodiff``): train, graph, gradcheck, filter.

Each subcommand lives in its own module with ``register(subparsers)`` and ``run(args)``. A user
mistake (bad argument, unreadable file) prints one line on stderr and exits with status 2, with
no traceback; ``gradcheck`` exits with 1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import sys

from autodiff.cli import filter as _filter, gradcheck as _gradcheck, graph as _graph, train as _train
from autodiff.cli._common import CliError

__all__ = ["main", "build_parser", "CliError"]

EPILOG = """examples:
  autodiff train                                   # MLP on the bundled digits, prints test accuracy
  autodiff train --data moons --hidden 16,16 --epochs 50 --lr auto
  autodiff graph "tanh(a*b + c)" --var a=2 --var b=-3 --out graph.svg --explain
  autodiff graph --mlp 2,3,1 --out mlp.png
  autodiff gradcheck                               # every built-in op, a table of worst errors
  autodiff gradcheck my_ops.py:cube --shape 3,4    # your own op
  autodiff filter signal.csv --filter gaussian --arg sigma=2 --arg m=4 --mode mirror

Run 'autodiff COMMAND --help' for the options of a command.
"""


def build_parser() -> argparse.ArgumentParser:
    from autodiff import __version__

    parser = argparse.ArgumentParser(
        prog="autodiff",
        description="Reverse-mode automatic differentiation: train models, draw backprop graphs, check gradients.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"autodiff {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (_train, _graph, _gradcheck, _filter):
        module.register(sub)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse prints usage and one error line, exits 2
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except CliError as e:
        print(f"autodiff {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `autodiff ... | head`: the reader left; stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # unreadable or unwritable files
        where = f" {e.filename!r}" if getattr(e, "filename", None) else ""
        print(f"autodiff {args.command}: error: {_one_line(e.strerror or e)}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"autodiff {args.command}: interrupted", file=sys.stderr)
        return 130
