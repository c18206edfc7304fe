"""Shared file plumbing: atomic writes and strict HDF5 reading.

Every output of anp-emu is written to a temporary file in the target folder and renamed into
place, so an interrupted run never leaves a half-written file under the final name. Every HDF5
file carries a ``format`` name and an integer ``version`` attribute that are checked on load.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from .errors import ConfigKeyError, FileFormatError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``, else delete it."""
    final = Path(path)
    parent = final.parent if str(final.parent) else Path(".")
    if not parent.is_dir():
        raise FileFormatError(final, f"output folder {parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def atomic_write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def h5_writer(path, fmt: str, version: int) -> Iterator[h5py.File]:
    """Open a new HDF5 file for writing atomically, stamped with ``format`` and ``version``."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = fmt
            f.attrs["version"] = np.int64(version)
            yield f


@contextlib.contextmanager
def h5_reader(path, fmt: str, versions: tuple[int, ...]) -> Iterator[h5py.File]:
    """Open ``path`` for reading and check its ``format``/``version``; errors name the file."""
    p = Path(path)
    if not p.exists():
        raise FileFormatError(p, "file not found")
    if p.is_dir():
        raise FileFormatError(p, "is a folder, expected an HDF5 file")
    try:
        f = h5py.File(p, "r")
    except OSError as e:
        raise FileFormatError(p, f"not a readable HDF5 file (truncated or corrupt): {e.__class__.__name__}") from None
    try:
        got = f.attrs.get("format")
        if isinstance(got, bytes):
            got = got.decode()
        if got != fmt:
            raise FileFormatError(p, f"attribute format: expected {fmt!r}, got {got!r}")
        ver = f.attrs.get("version")
        if ver is None or int(ver) not in versions:
            raise FileFormatError(p, f"attribute version: supported {list(versions)}, got {ver}")
        try:
            yield f
        except (OSError, RuntimeError) as e:  # h5py raises these on truncated chunks
            raise FileFormatError(p, f"truncated or corrupt data: {e}") from None
    finally:
        f.close()


def check_keys(group, allowed: set[str], required: set[str], where: str, path) -> None:
    """Reject unknown members/attributes and report missing ones."""
    present = set(group.keys()) if hasattr(group, "keys") else set(group)
    unknown = sorted(present - allowed)
    if unknown:
        raise ConfigKeyError(f"{path}:{where}/{unknown[0]}", "unknown key", limit=f"one of {sorted(allowed)}")
    missing = sorted(required - present)
    if missing:
        raise FileFormatError(path, f"{where}/{missing[0]}: required field missing")


def read_array(group, name: str, path, *, kind: str, ndim: int | None = None,
               shape: tuple | None = None, where: str = "") -> np.ndarray:
    """Read dataset ``name`` and check dtype kind ('i' integer, 'f' float, 'b' bool, 'S' text), ndim, shape."""
    loc = f"{where}/{name}" if where else name
    if name not in group:
        raise FileFormatError(path, f"{loc}: required field missing")
    ds = group[name]
    if not isinstance(ds, h5py.Dataset):
        raise FileFormatError(path, f"{loc}: expected a dataset, got a group")
    try:
        arr = ds[()]
    except (OSError, RuntimeError, ValueError) as e:
        raise FileFormatError(path, f"{loc}: truncated or corrupt data ({e.__class__.__name__})") from None
    arr = np.asarray(arr)
    dk = arr.dtype.kind
    ok = {"i": dk in "iu", "f": dk == "f" or dk in "iu", "b": dk in "bui", "S": dk in "SUO"}[kind]
    if not ok:
        want = {"i": "integer", "f": "float", "b": "bool", "S": "text"}[kind]
        raise FileFormatError(path, f"{loc}: dtype must be {want}, got {arr.dtype}")
    if kind == "f" and dk == "f" and not np.all(np.isfinite(arr)):
        raise FileFormatError(path, f"{loc}: must be finite, got NaN/inf")
    if ndim is not None and arr.ndim != ndim:
        raise FileFormatError(path, f"{loc}: expected {ndim} dimensions, got shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise FileFormatError(path, f"{loc}: expected shape {tuple(shape)}, got {arr.shape}")
    return arr


def attr_str(obj, name: str, path, where: str = "") -> str:
    if name not in obj.attrs:
        raise FileFormatError(path, f"{where}@{name}: required attribute missing")
    v = obj.attrs[name]
    if isinstance(v, bytes):
        v = v.decode()
    if not isinstance(v, str):
        raise FileFormatError(path, f"{where}@{name}: expected text, got {type(v).__name__}")
    return v
