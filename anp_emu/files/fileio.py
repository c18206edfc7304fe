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

from ..errors import ConfigKeyError, FileFormatError


def user_umask() -> int:
    """The process umask (read without changing it for good)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _as_user_error(e: OSError, tmp: Path, final: Path) -> FileFormatError:
    """An OS error on a temporary file, told in terms of the user's path."""
    text = e.strerror or str(e)
    text = str(text).replace(str(tmp), str(final))
    return FileFormatError(final, f"cannot write: {text}")


# (folder, name prefix) of every temporary file or folder this process is creating or writing,
# registered before it exists and dropped once it is renamed or removed: what
# remove_unfinished_temps() deletes when a signal stops this process at any point of a write
_UNFINISHED: dict[tuple[str, str], int] = {}


def remove_unfinished_temps() -> None:
    """Delete every temporary file or folder of this process's unfinished atomic writes (used by
    a worker that a signal stops: the signal may land even before a writer's own cleanup is
    armed). Their names carry this process's id, so no other writer's file is touched."""
    import shutil

    for (parent, prefix) in list(_UNFINISHED):
        for p in Path(parent).glob(f"{prefix}*.part"):
            with contextlib.suppress(OSError):
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        _UNFINISHED.pop((parent, prefix), None)


def _register(key) -> None:
    _UNFINISHED[key] = _UNFINISHED.get(key, 0) + 1


def _unregister(key) -> None:
    n = _UNFINISHED.get(key, 0) - 1
    if n > 0:
        _UNFINISHED[key] = n
    else:
        _UNFINISHED.pop(key, None)


def temp_path_beside(final: Path, *, folder: bool = False) -> Path:
    """A new, empty temporary file (or folder) beside ``final``, with the permissions the user's
    umask gives a new file (0666 & ~umask) or folder (0777 & ~umask), not mkstemp's 0600/0700.
    Errors name ``final``."""
    parent = final.parent if str(final.parent) else Path(".")
    if not parent.is_dir():
        raise FileFormatError(final, f"output folder {parent} does not exist")
    prefix = f".{final.name}.{os.getpid()}."
    try:
        if folder:
            tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".part", dir=parent))
        else:
            fd, name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=parent)
            os.close(fd)
            tmp = Path(name)
        os.chmod(tmp, (0o777 if folder else 0o666) & ~user_umask())
    except OSError as e:
        raise FileFormatError(final, f"cannot write in {parent}: {e.strerror or e}") from None
    return tmp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``, else delete it.

    OS errors while writing (read-only folder, disk full) become one :class:`FileFormatError`
    that names ``path``, never the temporary file."""
    final = Path(path)
    if final.is_dir():
        raise FileFormatError(final, "is a folder, expected a file name")
    key = (str(final.parent if str(final.parent) else Path(".")), f".{final.name}.{os.getpid()}.")
    _register(key)
    try:
        tmp_path = temp_path_beside(final)
        try:
            yield tmp_path
            os.replace(tmp_path, final)
        except OSError as e:
            with contextlib.suppress(OSError):
                tmp_path.unlink()
            raise _as_user_error(e, tmp_path, final) from None
        except BaseException:
            with contextlib.suppress(OSError):
                tmp_path.unlink()
            raise
    finally:
        _unregister(key)


def check_writable(folder, need_bytes: int = 0) -> Path:
    """Check, before long work starts, that ``folder`` (existing) takes a new file and has
    ``need_bytes`` free. The probe is a temporary file this call creates and removes."""
    d = Path(folder)
    if not d.is_dir():
        raise FileFormatError(d, "output folder does not exist")
    try:
        probe = temp_path_beside(d / "write-probe")
    except FileFormatError as e:
        raise FileFormatError(d, e.problem) from None
    with contextlib.suppress(OSError):
        probe.unlink()
    if need_bytes > 0:
        import shutil

        free = shutil.disk_usage(d).free
        if free < need_bytes:
            raise FileFormatError(d, f"not enough free space: need about {need_bytes / 1e6:.1f} MB, "
                                     f"{free / 1e6:.1f} MB free")
    return d


def atomic_write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


CHECKSUM_ATTR = "sha256"


def _feed(h, name: str, value) -> None:
    h.update(name.encode() + b"\0")
    if isinstance(value, bytes):
        data = b"b" + value
    elif isinstance(value, str):
        data = b"s" + value.encode()
    else:
        a = np.asarray(value)
        if a.dtype.kind in "SUO":
            data = b"t" + "\0".join(x.decode() if isinstance(x, bytes) else str(x) for x in a.ravel()).encode()
        else:
            a = np.ascontiguousarray(a)
            data = a.dtype.str.encode() + str(a.shape).encode() + a.tobytes()
    h.update(len(data).to_bytes(8, "little") + data)


def h5_content_sha256(f: h5py.File) -> str:
    """SHA-256 of everything in an open HDF5 file: every dataset (name, dtype, shape, bytes) and
    every attribute of every group and dataset (name, value), in name order, except the root's
    ``sha256`` attribute itself."""
    import hashlib

    h = hashlib.sha256()
    names = [""]
    f.visit(names.append)
    for name in sorted(names):
        obj = f[name] if name else f
        if isinstance(obj, h5py.Dataset):
            _feed(h, "/" + name, obj[()])
        for a in sorted(obj.attrs):
            if name == "" and a == CHECKSUM_ATTR:
                continue
            _feed(h, f"/{name}@{a}", obj.attrs[a])
    return h.hexdigest()


def verify_h5_checksum(f: h5py.File, path, required: bool = True) -> None:
    """Compare the stored content checksum with the content; one clear error on a mismatch."""
    stored = f.attrs.get(CHECKSUM_ATTR)
    if stored is None:
        if required:
            raise FileFormatError(path, f"attribute {CHECKSUM_ATTR}: content checksum missing")
        return
    stored = stored.decode() if isinstance(stored, bytes) else str(stored)
    try:
        actual = h5_content_sha256(f)
    except (OSError, RuntimeError, ValueError) as e:
        raise FileFormatError(path, f"truncated or corrupt data ({e.__class__.__name__})") from None
    if actual != stored:
        raise FileFormatError(path, f"content checksum mismatch (sha256 stored {stored[:12]}..., content "
                                    f"{actual[:12]}...): the file was damaged or edited; not used")


@contextlib.contextmanager
def h5_writer(path, fmt: str, version: int, checksum: bool = False) -> Iterator[h5py.File]:
    """Open a new HDF5 file for writing atomically, stamped with ``format`` and ``version`` (and,
    with ``checksum``, the SHA-256 of its whole content, see :func:`h5_content_sha256`)."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = fmt
            f.attrs["version"] = np.int64(version)
            yield f
            if checksum:
                f.flush()
                f.attrs[CHECKSUM_ATTR] = h5_content_sha256(f)


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
        got = attr_value(f, "format", p, "str", required=False)
        if got != fmt:
            raise FileFormatError(p, f"attribute format: expected {fmt!r}, got {_short(got)}")
        ver = attr_value(f, "version", p, "int", required=False)
        if ver not in versions:
            raise FileFormatError(p, f"attribute version: supported {list(versions)}, got {ver}")
        try:
            yield f
        except (OSError, RuntimeError) as e:  # h5py raises these on truncated chunks
            raise FileFormatError(p, f"truncated or corrupt data: {e}") from None
    finally:
        f.close()


def read_npz(path) -> dict:
    """Every array of a ``.npz`` file ({key: array}), read without pickles: the one reader of
    npz files (map models, npz exports). A file that is not a readable npz archive (not a zip,
    truncated, a corrupt member, an object array) is one FileFormatError naming it."""
    import zipfile
    import zlib

    p = Path(path)
    if not p.exists():
        raise FileFormatError(p, "file not found")
    try:
        with np.load(p, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise FileFormatError(p, "not a .npz archive (a single .npy array)")
            return {k: z[k] for k in z.files}
    except FileFormatError:
        raise
    except ValueError as e:
        what = "object arrays are refused" if "allow_pickle" in str(e) else " ".join(str(e).split())[:80]
        raise FileFormatError(p, f"not a plain numeric .npz ({what})") from None
    except (OSError, EOFError, KeyError, RuntimeError, zipfile.BadZipFile, zlib.error) as e:
        raise FileFormatError(p, f"not a readable .npz file ({e.__class__.__name__}: "
                                 f"{' '.join(str(e).split())[:80]})") from None


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


_KINDS = {"int": "an integer", "float": "a finite number", "bool": "a boolean (true/false or 0/1)", "str": "text"}


def _short(v, limit: int = 60) -> str:
    """``repr`` of a (possibly huge) value, cut to ``limit`` characters."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, np.ndarray):
        text = f"an array of shape {v.shape} ({v.dtype}): " + np.array2string(v.ravel()[:6], threshold=6)
    else:
        text = f"{type(v).__name__} {v!r}" if not isinstance(v, (str, bytes)) else repr(v)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def attr_value(obj, name: str, path, kind: str, *, where: str | None = None, lo=None, hi=None,
               required: bool = True):
    """Attribute ``name`` of ``obj`` (an h5py file, group or dataset) as a plain Python value of
    ``kind``: ``int`` (an integer, not a boolean), ``float`` (a finite real number), ``bool`` (a
    boolean, or the integer 0 or 1) or ``str`` (text); a single value, never an array, and within
    ``lo``..``hi`` when given. A missing attribute is ``None`` unless ``required``. Every problem
    is one :class:`FileFormatError` naming the file, ``where@name`` (``attribute name`` without
    ``where``), the expectation and the value."""
    loc = f"{where}@{name}" if where is not None else f"attribute {name}"
    try:
        if name not in obj.attrs:
            if required:
                raise FileFormatError(path, f"{loc}: required attribute missing")
            return None
        v = obj.attrs[name]
    except FileFormatError:
        raise
    except (OSError, RuntimeError, TypeError, ValueError, KeyError) as e:
        raise FileFormatError(path, f"{loc}: unreadable attribute ({e.__class__.__name__})") from None
    want = _KINDS[kind]
    if isinstance(v, np.ndarray):
        if v.ndim != 0:
            raise FileFormatError(path, f"{loc}: expected a single value ({want}); got {_short(v)}")
        v = v[()]
    if kind == "str":
        if isinstance(v, bytes):
            try:
                v = v.decode()
            except UnicodeDecodeError:
                raise FileFormatError(path, f"{loc}: expected {want} (UTF-8); got {_short(v)}") from None
        if not isinstance(v, str):
            raise FileFormatError(path, f"{loc}: expected {want}; got {_short(v)}")
        return v
    is_bool = isinstance(v, (bool, np.bool_))
    is_int = isinstance(v, (int, np.integer)) and not is_bool
    if kind == "bool":
        if is_bool:
            return bool(v)
        if is_int and int(v) in (0, 1):
            return bool(int(v))
        raise FileFormatError(path, f"{loc}: expected {want}; got {_short(v)}")
    if kind == "int":
        if not is_int:
            raise FileFormatError(path, f"{loc}: expected {want}; got {_short(v)}")
        v = int(v)
    else:
        if not (is_int or isinstance(v, (float, np.floating))) or is_bool or not np.isfinite(float(v)):
            raise FileFormatError(path, f"{loc}: expected {want}; got {_short(v)}")
        v = float(v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        limit = f"{lo if lo is not None else ''}..{hi if hi is not None else ''}"
        raise FileFormatError(path, f"{loc}: out of range; limit {limit}; got {v}")
    return v
