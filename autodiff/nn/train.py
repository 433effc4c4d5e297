"""The training loop: ``fit`` (epochs of mini-batch steps, validation, history, best weights) and
``EarlyStopping``.

>>> history = nn.fit(model, nn.cross_entropy, nn.optim.Adam(model.parameters()),
...                  train=(Xtr, ytr), val=(Xval, yval), epochs=30, early_stopping=5)
>>> history["val_acc"][history["best_epoch"]]
"""

from __future__ import annotations

import math
import sys

import numpy as np

from autodiff._mode import no_grad
from autodiff.nn.data import batches
from autodiff.nn.init import _rng
from autodiff.tensor import Tensor

__all__ = ["EarlyStopping", "fit", "accuracy"]


class EarlyStopping:
    """Stop training when the validation loss has not improved (by more than ``min_delta``)
    for ``patience`` epochs in a row; remembers the best epoch and its weights.

    >>> stopper = nn.EarlyStopping(patience=5)
    >>> for epoch in range(100):
    ...     ...                                   # train, then compute val_loss
    ...     if stopper.step(val_loss, model):
    ...         break
    >>> stopper.restore(model)                    # the weights of stopper.best_epoch
    """

    def __init__(self, patience=5, min_delta=0.0):
        if int(patience) < 1:
            raise ValueError(f"EarlyStopping: patience must be a positive int, got {patience}")
        self.patience, self.min_delta = int(patience), float(min_delta)
        self.best, self.best_epoch, self.best_state = math.inf, None, None
        self.epoch, self.bad_epochs, self.should_stop = -1, 0, False

    def step(self, loss, model=None) -> bool:
        """Record one epoch's validation loss (and the model's weights when it is the best so
        far); return True when training should stop."""
        self.epoch += 1
        loss = float(loss)
        if loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = loss, self.epoch, 0
            if model is not None:
                self.best_state = model.state_dict()
        else:
            self.bad_epochs += 1
        self.should_stop = self.bad_epochs >= self.patience
        return self.should_stop

    def restore(self, model) -> None:
        """Load the best epoch's weights into ``model``."""
        if self.best_state is None:
            raise RuntimeError("EarlyStopping.restore: no weights recorded (pass the model to step())")
        model.load_state_dict(self.best_state)


def accuracy(output, y):
    """Fraction of correct predictions, or None when ``y`` does not look like class labels.

    ``output`` (N, C) with C > 1: argmax against integer labels (or against the argmax of
    one-hot/probability rows). ``output`` (N,) or (N, 1): a binary score, positive meaning
    class 1 (labels in {0, 1}) or +1 (labels in {-1, +1}).
    """
    out = output.numpy() if isinstance(output, Tensor) else np.asarray(output)
    t = y.numpy() if isinstance(y, Tensor) else np.asarray(y)
    if out.ndim == 2 and out.shape[1] > 1:
        if t.shape == out.shape and t.dtype.kind == "f":
            if np.any(t < 0) or not np.allclose(t.sum(axis=1), 1.0):
                return None  # e.g. an autoencoder's targets
            t = t.argmax(axis=1)
        if t.shape != out.shape[:1] or not np.all(t == np.round(t)):
            return None
        return float(np.mean(out.argmax(axis=1) == t))
    if out.size != t.size or not np.all(t == np.round(t)):
        return None
    s, t = out.ravel(), t.ravel()
    values = set(np.unique(t).tolist())
    if values <= {0, 1}:
        return float(np.mean((s > 0) == (t == 1)))
    if values <= {-1, 1}:
        return float(np.mean(np.where(s > 0, 1, -1) == t))
    return None


def _input(Xb, backend, dtype):
    return Xb if isinstance(Xb, Tensor) else Tensor(np.asarray(Xb, dtype=dtype), backend=backend)


def _pair(data, name):
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"fit: {name} must be an (X, y) pair")
    X, y = data
    if len(X) != len(y):
        raise ValueError(f"fit: {name} X has {len(X)} rows but y has {len(y)}")
    return X, y


def _evaluate(model, loss_fn, X, y, batch_size, backend, dtype, metric):
    total, correct, n = 0.0, 0.0, 0
    with no_grad():
        for Xb, yb in batches(X, y, batch_size, shuffle=False):
            out = model(_input(Xb, backend, dtype))
            k = len(Xb)
            total += float(loss_fn(out, yb).item()) * k
            acc = metric(out, yb) if metric else None
            correct = math.nan if acc is None else correct + acc * k
            n += k
    return total / n, correct / n


def fit(model, loss_fn, optimizer, train, val=None, epochs=10, *, batch_size=32, shuffle=True, rng=None,
        scheduler=None, early_stopping=None, penalty=None, metric=accuracy, restore_best=True, progress=True):
    """Train ``model`` and return its history.

    - ``train``, ``val``: (X, y) pairs (ndarrays or Tensors, samples on axis 0); ``val`` may be
      None (then the best epoch is judged by training loss).
    - ``loss_fn(output, y)``: a mean-reduced loss such as ``nn.cross_entropy``; ``penalty``
      (optional) is ``penalty(model) -> Tensor`` added to each training step's loss (e.g.
      ``lambda m: nn.l2_penalty(m.parameters(), 1e-4)``); the recorded losses exclude it.
    - ``optimizer``: an ``nn.optim`` optimizer over the model's parameters; ``scheduler``
      (optional) is stepped once per epoch.
    - ``epochs`` passes over ``train`` in mini-batches of ``batch_size`` (shuffled with ``rng``,
      a Generator or int seed); inputs are converted to the model's back end and dtype.
    - ``early_stopping``: None, a patience (int) or an ``EarlyStopping``, on validation loss.
    - ``metric(output, y)`` gives the accuracy columns (None records nan); the default
      ``nn.accuracy`` handles class indices, one-hot rows and binary scores.
    - ``restore_best``: load the weights of the epoch with the lowest validation loss at the
      end. The model is left in the train/eval mode it had before.
    - ``progress``: a tqdm bar over epochs, shown only when stderr is a terminal.

    Returns ``{"train_loss", "val_loss", "train_acc", "val_acc"}`` (one float per epoch; the
    training columns are averages over the epoch's batches, nan where not available) plus
    ``"best_epoch"`` (0-based index into those lists).
    """
    Xtr, ytr = _pair(train, "train")
    Xval, yval = _pair(val, "val") if val is not None else (None, None)
    if early_stopping is True:
        early_stopping = EarlyStopping()
    elif early_stopping is False:
        early_stopping = None
    elif early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        early_stopping = EarlyStopping(patience=int(early_stopping))
    if early_stopping is not None and val is None:
        raise ValueError("fit: early stopping watches the validation loss; pass val=(X, y)")
    p = next(model.parameters(), None)
    backend, dtype = ("numpy", np.float64) if p is None else (p.backend, p.dtype)
    gen = _rng(rng)
    history = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": [], "best_epoch": None}
    best, best_state = math.inf, None
    was_training = model.training

    from tqdm.auto import tqdm  # imported here: `import autodiff` stays fast

    bar = tqdm(range(int(epochs)), desc="fit", unit="epoch", disable=not progress or not sys.stderr.isatty())
    try:
        for epoch in bar:
            model.train()
            total, correct, n = 0.0, 0.0, 0
            for Xb, yb in batches(Xtr, ytr, batch_size, shuffle=shuffle, rng=gen):
                out = model(_input(Xb, backend, dtype))
                loss = loss_fn(out, yb)
                objective = loss if penalty is None else loss + penalty(model)
                optimizer.zero_grad()
                objective.backward()
                optimizer.step()
                k = len(Xb)
                total += float(loss.item()) * k
                acc = metric(out, yb) if metric else None
                correct = math.nan if acc is None else correct + acc * k
                n += k
            history["train_loss"].append(total / n)
            history["train_acc"].append(correct / n)
            if val is not None:
                model.eval()
                vl, va = _evaluate(model, loss_fn, Xval, yval, max(batch_size, 256), backend, dtype, metric)
            else:
                vl, va = math.nan, math.nan
            history["val_loss"].append(vl)
            history["val_acc"].append(va)
            if scheduler is not None:
                scheduler.step()
            watched = vl if val is not None else history["train_loss"][-1]
            if watched < best:
                best, history["best_epoch"] = watched, epoch
                if restore_best:
                    best_state = model.state_dict()
            bar.set_postfix(loss=f"{history['train_loss'][-1]:.4f}", val_loss=f"{vl:.4f}", val_acc=f"{va:.3f}")
            if early_stopping is not None and early_stopping.step(vl):
                break
    finally:
        bar.close()
    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
    model.train(was_training)
    return history
