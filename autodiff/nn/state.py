"""Parameter storage: writing values in place, moving between back ends and dtypes, and the
``.npz`` files of ``Module.save`` / ``nn.load_state`` (written atomically, never unpickled)."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from autodiff.tensor import BACKENDS, Tensor, _scalars

__all__ = ["load_state", "save_state"]


def _assign(p: Tensor, values: np.ndarray) -> None:
    """Write ``values`` into ``p`` in place on either back end (the object keeps its identity).

    On the scalar back end every element is a leaf Scalar: its ``.data`` is overwritten, so
    anything holding the Scalars (an optimizer, a graph viewer) sees the new value.
    """
    if p.data.dtype == object:
        for s, v in zip(p.data.flat, np.asarray(values, dtype=np.float64).ravel().tolist()):
            s.data = v
    else:
        p.data[...] = values


def _label(p: Tensor, name: str) -> None:
    """Name a parameter (and, on the scalar back end, its Scalars) for graph pictures."""
    p.label = name
    if p.data.dtype == object:
        if p.ndim == 0:
            p.data[()].label = name
        else:
            for idx in np.ndindex(p.shape):
                p.data[idx].label = f"{name}[{','.join(map(str, idx))}]"


def _convert(p: Tensor, backend: str, dtype) -> None:
    """Move a leaf Tensor to ``backend``/``dtype`` in place (its gradient is dropped)."""
    values = p.numpy()
    if dtype is not None:
        values = values.astype(dtype)
    if backend == "scalar":
        data = _scalars(values)
    else:
        data = np.array(values, dtype=values.dtype)  # never alias the old storage
    # The Tensor object is kept (optimizers and labels refer to it); only its storage changes.
    p.data, p._backend, p._grad = data, backend, None
    if p.label:
        _label(p, p.label)


def _check_dtype(backend, dtype, where):
    if dtype is None:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"{where}: {dtype!r} is neither a back end {BACKENDS} nor a dtype") from None
    if dt.kind != "f":
        raise TypeError(f"{where}: parameters must be floating point, not {dt}")
    if backend == "scalar" and dt != np.float64:
        raise ValueError(f"{where}: the scalar back end computes in float64, not {dt}")
    return dt


def save_state(state: dict, path) -> Path:
    """Write a dict of name -> ndarray to ``path`` as ``.npz``: first to a temporary file in the
    same folder, then ``os.replace`` (a reader never sees a half-written file)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **state)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_state(path) -> dict:
    """Read a state saved by ``Module.save`` (no pickles are ever loaded) as a dict of name ->
    ndarray for ``load_state_dict``. A file that is not such an archive raises ``ValueError``."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as e:  # NumPy's answer for anything that is not .npy/.npz (it guesses pickle)
        raise ValueError(f"load_state: {path} is not an .npz archive written by Module.save ({e})") from None
    except FileNotFoundError:
        raise
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"load_state: cannot read {path} as an .npz archive ({e})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"load_state: {path} holds a single array (.npy), not an .npz archive of named arrays")
    state = {}
    with archive:
        for k in archive.files:
            try:
                state[k] = archive[k]
            except (OSError, zipfile.BadZipFile, EOFError) as e:
                raise ValueError(f"load_state: {path} entry {k!r} is damaged ({e})") from None
            except ValueError:
                raise ValueError(
                    f"load_state: {path} entry {k!r} holds Python objects (pickled data), which are never "
                    f"loaded; save states with Module.save"
                ) from None
            if state[k].dtype.kind not in "biuf":
                raise ValueError(f"load_state: {path} entry {k!r} has dtype {state[k].dtype}, not numbers")
    return state
