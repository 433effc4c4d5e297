"""Parameter storage: writing values in place, moving between back ends and dtypes, and the
``.npz`` files of ``Module.save`` / ``nn.load_state`` (written atomically, never unpickled)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from autodiff._files import atomic_write
from autodiff.tensor import BACKENDS, Tensor

__all__ = ["load_state", "save_state"]


def _assign(p: Tensor, values: np.ndarray) -> None:
    """Write ``values`` into the parameter ``p`` in place, on either back end."""
    p.copy_(values)


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
    """Move a parameter to ``backend``/``dtype`` in place (its gradient is dropped), keeping its labels."""
    p.to_(backend, dtype)
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
    """Write a dict of name -> ndarray to ``path`` as ``.npz``, atomically (a reader never sees a
    half-written file)."""
    buf = io.BytesIO()
    # The archive np.savez writes (one NAME.npy per entry, stored), made here so that no state
    # name can collide with savez's own arguments ("file", "allow_pickle"), and never a pickle.
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, value in state.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)
    return atomic_write(path, buf.getvalue())


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
