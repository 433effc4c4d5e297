"""Training curves: loss and accuracy per epoch, train and validation, the best epoch marked."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from autodiff._files import atomic_write

__all__ = ["plot_history"]

_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def _series(history, key):
    values = history.get(key)
    if values is None or len(values) == 0:
        return None
    return np.array([np.nan if v is None else float(v) for v in values])


def plot_history(history, path, title=None) -> Path:
    """Draw ``nn.fit``'s history (a dict of per-epoch lists ``train_loss val_loss train_acc
    val_acc``, and ``best_epoch``) to ``path`` (.png, .svg or .pdf); returns the path.

    Loss on the left, accuracy on the right (when recorded); epochs are numbered from 1 and
    ``best_epoch`` is the 0-based index of the best epoch in those lists (the weights that
    ``nn.fit`` restored), drawn as a dashed line. Uses Matplotlib's Agg canvas without touching
    pyplot's global state; the file is written atomically.
    """
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"plot_history: use a file name ending in .png, .svg or .pdf, not {str(path)!r}")
    if not isinstance(history, dict):
        raise TypeError(f"plot_history: history must be a dict of lists (nn.fit's result), got {type(history).__name__}")
    losses = {k: _series(history, k) for k in ("train_loss", "val_loss")}
    accs = {k: _series(history, k) for k in ("train_acc", "val_acc")}
    if all(v is None for v in losses.values()):
        raise ValueError("plot_history: history has no 'train_loss' or 'val_loss' values")
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    panels = [("loss", losses)] + ([("accuracy", accs)] if any(v is not None for v in accs.values()) else [])
    fig = Figure(figsize=(5 * len(panels), 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    best = history.get("best_epoch")
    for k, (name, series) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        for key, values in series.items():
            if values is not None:
                epochs = np.arange(1, len(values) + 1)
                ax.plot(epochs, values, marker="o" if len(values) < 30 else None, ms=3,
                        label=key.split("_")[0].replace("val", "validation"))
        if best is not None:
            ax.axvline(int(best) + 1, color="0.4", ls="--", lw=1, label=f"best epoch ({int(best) + 1})")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    buf = io.BytesIO()
    with rc_context({"svg.fonttype": "none"}):  # SVG text stays text (searchable), not paths
        fig.savefig(buf, format=fmt, dpi=110)
    return atomic_write(path, buf.getvalue())
