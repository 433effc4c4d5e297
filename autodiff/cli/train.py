"""``autodiff train``: train an MLP classifier and write the model, its history, a loss-curve plot
and the graph of one training step. With no arguments: the bundled digits, in a few seconds."""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from autodiff.cli._common import CliError, int_list, number, read_array

__all__ = ["register", "run"]

BUILTIN = ("digits", "moons", "spirals", "circles")
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "AdaGrad"}
DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2}
EPILOG = """examples:
  autodiff train                                       # digits, MLP 64-256-128-10, Adam
  autodiff train --data moons --hidden 16,16 --activation tanh --epochs 100 --lr auto --optimizer sgd
  autodiff train --data my.csv --epochs 50 --out runs/mine   # last column: the class label
  autodiff train --data my.npz                         # arrays "X" (features) and "y" (labels)
  autodiff train --data moons --hidden 8 --epochs 5 --backend scalar   # the scalar graph: slow, tiny only
Writes model.npz, history.json, history.csv, history.png and step-graph.svg (step-graph.dot
without Graphviz) into the --out folder (default runs/<data>-<date>-<time>).
"""


def register(sub):
    p = sub.add_parser(
        "train",
        help="train an MLP classifier (default: the bundled digits) and print its test accuracy",
        description="Train an MLP with cross-entropy on a built-in data set or your own file, "
        "keep the weights of the best validation epoch, and report accuracy on a held-out test split.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", default="digits", metavar="NAME|FILE",
                   help="digits, moons, spirals, circles, or a .csv (last column = label) / .npz (X, y) file")
    p.add_argument("--hidden", type=int_list, default=[256, 128], metavar="SIZES",
                   help="hidden layer sizes (default 256,128)")
    p.add_argument("--activation", choices=("relu", "tanh", "sigmoid", "leaky_relu"), default="relu")
    p.add_argument("--dropout", type=number, default=0.2, help="dropout after each hidden layer (default 0.2)")
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="adam", help="default adam")
    p.add_argument("--lr", default=None, metavar="LR|auto",
                   help="step size, or 'auto' for the Bottou search on a sample "
                   "(default: sgd 0.1, adagrad 0.01, others 0.001)")
    p.add_argument("--batch-size", type=int, default=64, help="default 64")
    p.add_argument("--epochs", type=int, default=40, help="default 40")
    p.add_argument("--standardize", choices=("auto", "yes", "no"), default="auto",
                   help="standardize features with the training split's mean and std; 'auto' (default) "
                        "does unless every feature already lies in [0, 1], as pixel intensities do")
    p.add_argument("--weight-decay", type=number, default=0.0, help="default 0")
    p.add_argument("--patience", type=int, default=None, help="stop after this many epochs without a better validation loss")
    p.add_argument("--backend", choices=("numpy", "scalar"), default="numpy", help="default numpy")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the weights and the batches (default 0)")
    p.add_argument("--out", metavar="FOLDER", help="output folder (default runs/<data>-<date>-<time>)")
    p.set_defaults(run=run)
    return p


def _file_data(path):
    path = Path(path)
    if path.suffix.lower() == ".npz":
        if not path.is_file():
            raise CliError(f"cannot read data file {str(path)!r}: no such file")
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except (ValueError, OSError, EOFError) as e:
            raise CliError(f"cannot read data file {str(path)!r}: {str(e).splitlines()[0] if str(e) else e}") from None
        features = [k for k in arrays if k != "y"]
        key = next((k for k in ("X", "x") if k in arrays), features[0] if len(features) == 1 else None)
        if "y" not in arrays or key is None:
            raise CliError(f"{str(path)!r} needs arrays 'X' (features) and 'y' (labels), has {sorted(arrays)}")
        X, y = arrays[key], arrays["y"]
    elif path.suffix.lower() in (".csv", ".txt"):
        table = read_array(path, "data file")
        if table.ndim != 2 or table.shape[1] < 2:
            raise CliError(f"{str(path)!r}: need rows of features followed by a label column")
        X, y = table[:, :-1], table[:, -1]
    else:
        raise CliError(f"--data: unknown data set {str(path)!r}; use {', '.join(BUILTIN)} or a .csv/.npz file")
    X, y = np.asarray(X), np.asarray(y).ravel()
    if X.dtype.kind not in "biuf" or y.dtype.kind not in "biuf":
        bad = "features" if X.dtype.kind not in "biuf" else "labels"
        raise CliError(f"{str(path)!r}: the {bad} must be real numbers, not {(X if bad == 'features' else y).dtype}")
    if X.ndim == 0 or len(X) == 0:
        raise CliError(f"{str(path)!r}: no rows of features (shape {X.shape})")
    X = X.astype(np.float64).reshape(len(X), -1)
    if len(X) != len(y):
        raise CliError(f"{str(path)!r}: {len(X)} rows of features but {len(y)} labels")
    if y.dtype.kind == "f":
        whole = np.isfinite(y) & (y == np.round(y))
        if not whole.all():
            raise CliError(f"{str(path)!r}: labels must be class numbers (integers), found {y[~whole][0]}")
    if not np.all(np.isfinite(X)):
        raise CliError(f"{str(path)!r}: the features contain NaN or inf")
    classes, y = np.unique(y, return_inverse=True)  # any labels -> 0..k-1
    if len(classes) < 2:
        raise CliError(f"{str(path)!r}: need at least two classes, found {len(classes)}")
    return X, y.astype(np.int64)


def _load(name, seed):
    from autodiff import datasets

    if name == "digits":
        return datasets.digits()
    if name in BUILTIN:
        return getattr(datasets, name)(rng=seed)
    return _file_data(name)


def _lr(args, model, nn, Xtr, ytr, optimizer):
    if args.lr is None:
        return DEFAULT_LR[args.optimizer]
    if args.lr == "auto":
        lr = nn.optim.find_step_size(model, nn.cross_entropy, Xtr, ytr, optimizer=optimizer,
                                     batch_size=args.batch_size, rng=args.seed, weight_decay=args.weight_decay)
        print(f"--lr auto: the Bottou search picked {lr:.3g}")
        return lr
    try:
        lr = float(args.lr)
    except ValueError:
        raise CliError(f"--lr: expected a number or 'auto', got {args.lr!r}") from None
    if not lr > 0 or not np.isfinite(lr):
        raise CliError(f"--lr: must be a positive number, got {args.lr}")
    return lr


def _check(args):
    for name, value, low in (("--epochs", args.epochs, 1), ("--batch-size", args.batch_size, 1)):
        if value < low:
            raise CliError(f"{name} must be at least {low}, got {value}")
    if args.patience is not None and args.patience < 1:
        raise CliError(f"--patience must be at least 1, got {args.patience}")
    if not 0 <= args.dropout < 1:
        raise CliError(f"--dropout must be in [0, 1), got {args.dropout}")
    if args.weight_decay < 0:
        raise CliError(f"--weight-decay must be >= 0, got {args.weight_decay}")


def _write_history(out, history):
    from autodiff._files import atomic_write

    keys = ("train_loss", "val_loss", "train_acc", "val_acc")
    clean = {k: [None if v != v else float(v) for v in history[k]] for k in keys}
    clean["best_epoch"] = history.get("best_epoch")
    atomic_write(out / "history.json", (json.dumps(clean, indent=1) + "\n").encode())
    rows = ["epoch," + ",".join(keys)]
    for i in range(len(history["train_loss"])):
        rows.append(f"{i + 1}," + ",".join(repr(float(history[k][i])) for k in keys))
    atomic_write(out / "history.csv", ("\n".join(rows) + "\n").encode())
    return [out / "history.json", out / "history.csv"]


def _step_graph(out, model, nn, X, y):
    """The graph of one training step's loss, on a batch of 4, drawn on the NumPy back end
    (one node per Tensor; on Scalars even a small batch would be thousands of nodes)."""
    import autodiff as ad
    from autodiff import viz

    model.to("numpy")
    loss = nn.cross_entropy(model(ad.Tensor(X[:4])), y[:4])
    loss.label = "loss"
    loss.backward(retain_graph=True)  # (kept for the drawing)
    path = out / ("step-graph.svg" if shutil.which("dot") else "step-graph.dot")
    return viz.render(loss, path, cluster=True, params=model.named_parameters(), max_nodes=None)


def run(args) -> int:
    import autodiff as ad
    from autodiff import datasets, nn, viz

    _check(args)
    X, y = _load(args.data, args.seed)
    X = X.reshape(len(X), -1)
    (Xtr, ytr), (Xva, yva), (Xte, yte) = datasets.train_val_test_split(X, y, val=0.15, test=0.15, seed=args.seed)
    if min(len(Xtr), len(Xva), len(Xte)) == 0:
        raise CliError(f"--data: {len(X)} rows are too few to split into train, validation and test")
    # Rare pixels have a tiny std, so standardizing images in [0, 1] blows them up: 'auto' skips it.
    if args.standardize == "yes" or (args.standardize == "auto" and not (X.min() >= 0 and X.max() <= 1)):
        Xtr, stats = nn.standardize(Xtr)
        Xva, Xte = nn.standardize(Xva, stats), nn.standardize(Xte, stats)
    k = int(y.max()) + 1
    sizes = [X.shape[1], *args.hidden, k]
    model = nn.MLP(sizes, activation=args.activation, dropout=args.dropout, rng=args.seed, backend=args.backend)
    optimizer_cls = getattr(nn.optim, OPTIMIZERS[args.optimizer])
    lr = _lr(args, model, nn, Xtr, ytr, optimizer_cls)
    optimizer = optimizer_cls(model.parameters(), lr=lr, weight_decay=args.weight_decay)
    name = Path(args.data).stem if args.data not in BUILTIN else args.data
    out = Path(args.out) if args.out else Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    print(f"training MLP {'-'.join(map(str, sizes))} ({args.activation}) on {name}: {len(Xtr)} train, "
          f"{len(Xva)} validation, {len(Xte)} test rows; {args.optimizer} lr={lr:.3g}, {args.epochs} epochs")
    started = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence: one line below
        history = nn.fit(model, nn.cross_entropy, optimizer, (Xtr, ytr), (Xva, yva), args.epochs,
                         batch_size=args.batch_size, rng=args.seed, early_stopping=args.patience)
    seconds = time.perf_counter() - started
    if history.get("best_epoch") is None:  # nn.fit found no finite validation loss to keep
        raise CliError(f"training diverged: no epoch had a finite validation loss ({args.optimizer} "
                       f"lr={lr:.3g}); try a smaller --lr")
    model.eval()
    with ad.no_grad():
        logits = model(ad.Tensor(Xte, backend=args.backend)).numpy()
    test_acc = float(np.mean(logits.argmax(axis=1) == yte))
    written = [out / "model.npz"]
    model.save(out / "model.npz")
    written += _write_history(out, history)
    written.append(viz.plot_history(history, out / "history.png", title=f"MLP on {name}"))
    written.append(_step_graph(out, model, nn, Xtr, ytr))
    best = history["best_epoch"]
    print(f"trained {len(history['train_loss'])} epochs in {seconds:.1f} s; best epoch {best + 1}: "
          f"validation loss {history['val_loss'][best]:.4f}, accuracy {history['val_acc'][best]:.4f}")
    for path in written:
        print(f"wrote {path}")
    print(f"test accuracy: {test_acc:.4f}")
    return 0
