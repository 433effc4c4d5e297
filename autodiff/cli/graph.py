"""``autodiff graph``: render the backprop graph of an expression, or of a small MLP on Scalars."""

from __future__ import annotations

import argparse
import shutil
import sys

import numpy as np

from autodiff.cli._common import CliError, int_list, key_value
from autodiff.cli._expr import DEFAULTS, FUNCTIONS, build, variables
from autodiff.viz._graph import GraphTooLarge

__all__ = ["register", "run"]

EPILOG = """examples:
  autodiff graph "tanh(a*b + c)" --var a=2 --var b=-3 --var c=10 --out tanh.svg
  autodiff graph "(x - 1)**2 + exp(-x)" --explain          # unknown x gets a small default
  autodiff graph --mlp 2,3,1 --out mlp.png                 # a tiny MLP on the scalar back end
The expression is parsed, never evaluated: numbers, variables, + - * / **, unary -, and the
functions {functions}.
"""


def register(sub):
    p = sub.add_parser(
        "graph",
        help="render the backprop graph of an expression or of a small MLP",
        description="Build the expression (or a small MLP) on Scalars, run backward, and render its graph: "
        "every value with its data and gradient, a small op node between values.",
        epilog=EPILOG.format(functions=" ".join(FUNCTIONS)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("expr", nargs="?", metavar="EXPR", help='an expression such as "tanh(a*b + c)"')
    p.add_argument("--var", action="append", type=key_value, default=[], metavar="NAME=VALUE",
                   help="value of a variable (repeat for several); unknown variables get small defaults")
    p.add_argument("--mlp", type=int_list, metavar="SIZES",
                   help="instead of EXPR: layer sizes of an MLP (tanh) on one random input, e.g. 2,3,1")
    p.add_argument("--out", "-o", metavar="FILE",
                   help="output: .svg .png .pdf (need Graphviz's dot) or .dot (default graph.svg, graph.dot without dot)")
    p.add_argument("--explain", action="store_true", help="also print the backward pass step by step")
    p.add_argument("--no-backward", action="store_true", help="draw before backward (all gradients 0)")
    p.add_argument("--rankdir", choices=("LR", "TB", "RL", "BT"), default="LR", help="layout direction (default LR)")
    p.add_argument("--max-nodes", type=int, default=300, metavar="N", help="refuse graphs with more values (default 300)")
    p.add_argument("--seed", type=int, default=0, help="seed of the MLP's weights and input (default 0)")
    p.set_defaults(run=run)
    return p


def _expression(args):
    names = variables(args.expr)
    given = {}
    for name, value in args.var:
        if isinstance(value, bool):
            raise CliError(f"--var {name} needs a number, not {value}")
        given[name] = value
    for name in given:
        if name not in names:
            print(f"note: --var {name} is not used in the expression", file=sys.stderr)
    defaults = {n: DEFAULTS[i % len(DEFAULTS)] for i, n in enumerate(n for n in names if n not in given)}
    if defaults:
        shown = ", ".join(f"{n}={v:g}" for n, v in defaults.items())
        print(f"defaults for unset variables: {shown} (set them with --var NAME=VALUE)")
    out, leaves = build(args.expr, {**given, **defaults})
    out.label = out.label or "out"
    if not args.no_backward:
        out.backward(retain_graph=True)
    print(f"{args.expr.strip()} = {out.data:.6g}")
    if not args.no_backward:
        for name, leaf in leaves.items():
            if name in names:
                print(f"  d/d{name} = {leaf.grad:.6g}")
    return out, {}


def _mlp(args):
    try:
        from autodiff import nn
    except ImportError:
        raise CliError("--mlp needs autodiff.nn, which is not installed in this build") from None
    import autodiff as ad

    if len(args.mlp) < 2:
        raise CliError(f"--mlp needs at least an input and an output size, got {args.mlp}")
    ad.manual_seed(args.seed)
    model = nn.MLP(args.mlp, activation="tanh").to("scalar")
    x = ad.Tensor(np.random.default_rng(args.seed).uniform(-1, 1, (1, args.mlp[0])), backend="scalar")
    x.label = "x"
    out = model(x).sum()
    out.label = "y"
    if not args.no_backward:
        out.backward(retain_graph=True)
    print(f"MLP {','.join(map(str, args.mlp))} on the scalar back end: y = {out.item():.6g}")
    return out, {"params": list(model.named_parameters()), "cluster": True}


def run(args) -> int:
    from autodiff import viz

    if (args.expr is None) == (args.mlp is None):
        raise CliError("give an expression or --mlp SIZES (one of them)")
    out, options = _expression(args) if args.expr is not None else _mlp(args)
    path = args.out or ("graph.svg" if shutil.which("dot") else "graph.dot")
    if args.out is None and not shutil.which("dot"):
        print("note: Graphviz's dot is not installed, writing DOT source (apt-get/brew/conda install graphviz)")
    if args.max_nodes < 1:
        raise CliError(f"--max-nodes must be a positive number, got {args.max_nodes}")
    try:
        written = viz.render(out, path, rankdir=args.rankdir, max_nodes=args.max_nodes, **options)
    except GraphTooLarge:
        raise CliError(f"the graph has more than {args.max_nodes} values; pass --max-nodes N to draw it anyway") from None
    except (ValueError, RuntimeError, OSError) as e:  # unknown suffix, no dot, an unwritable path
        raise CliError(str(e).removeprefix("draw: ").removeprefix("render: ")) from None
    if args.explain:
        print()
        print(viz.explain(out, params=options.get("params")))
    print(f"wrote {written}")
    return 0
