"""What the subcommands share: the one-line error, argument parsers and array files."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

__all__ = ["CliError", "int_list", "key_value", "number", "read_array", "write_array"]


class CliError(Exception):
    """A user mistake (bad argument, unreadable file): printed as one line, exit status 2."""


def int_list(text: str) -> list:
    """'128,64' -> [128, 64] (for argparse ``type=``)."""
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 128,64, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers such as 128,64, got {text!r}")
    return values


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def key_value(text: str) -> tuple:
    """'a=2.0' -> ('a', 2.0) (for argparse ``type=``)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not _NAME.match(key):
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER such as a=2.0, got {text!r}")
    if value.strip().lower() in ("true", "false"):
        return key, value.strip().lower() == "true"
    return key, number(value.strip())


def read_array(path, what="file") -> np.ndarray:
    """A numeric array from .csv/.txt (commas or whitespace; a header line is skipped) or .npy."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise CliError(f"cannot read {what} {str(path)!r}: no such file")
    try:
        if suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif suffix in (".csv", ".txt"):
            arr = _read_text(path)
        else:
            raise CliError(f"cannot read {what} {str(path)!r}: use a .csv, .txt or .npy file")
    except CliError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, EOFError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CliError(f"cannot read {what} {str(path)!r}: {msg}") from None
    if arr.dtype.kind not in "biuf":
        raise CliError(f"cannot read {what} {str(path)!r}: it holds {arr.dtype} values, not numbers")
    return np.asarray(arr, dtype=np.float64)


def _read_text(path):
    text = path.read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ValueError("the file holds no numbers")
    delim = "," if "," in lines[-1] else None
    try:
        [float(v) for v in lines[0].split(delim)]
    except ValueError:
        lines = lines[1:]  # a header line
    rows = [[float(v) for v in ln.split(delim)] for ln in lines]
    if len({len(r) for r in rows}) > 1:
        raise ValueError("rows have different numbers of columns")
    return np.array(rows, dtype=np.float64)


def write_array(path, values: np.ndarray) -> Path:
    """Write a 1-D or 2-D array as .npy or as text (.csv with commas, .txt with spaces)."""
    from autodiff._files import atomic_write

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        import io

        buf = io.BytesIO()
        np.save(buf, values, allow_pickle=False)
        return atomic_write(path, buf.getvalue())
    if suffix not in (".csv", ".txt"):
        raise CliError(f"cannot write {str(path)!r}: use a .csv, .txt or .npy file")
    arr = values.reshape(-1, 1) if values.ndim == 1 else values
    sep = "," if suffix == ".csv" else " "
    text = "\n".join(sep.join(repr(float(v)) for v in row) for row in arr) + "\n"
    return atomic_write(path, text.encode("utf-8"))
