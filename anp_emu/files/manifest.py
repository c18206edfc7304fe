"""Ownership of output folders: a command replaces only what a manifest says it wrote.

Every command that writes a folder (a training run, a sweep, cv or ablation, an energy report, the
demo) keeps ``anp-manifest.json`` in it: the kind of output and the SHA-256 of every file it
wrote, updated after each write::

    {"format": "anp-emu-manifest", "version": 1, "kind": "train-run",
     "files": {"log.csv": "<sha256>", "checkpoint.h5": "<sha256>", ...}}

:meth:`OutputFolder.claim` runs before the command writes anything and decides, for each file it
is about to write, whether it may:

- absent: yes;
- listed in the folder's manifest of the same kind and unchanged since (same SHA-256): only when
  the command continues that output (``resume``) or is told to replace it (``replace``, the
  commands' ``--force``);
- anything else (a file the manifest does not list, one changed since, a folder or a symlink, a
  manifest of another kind of output): never. A user's file is never replaced, whatever the
  options.

Files of the folder that the command does not write are never looked at. Continuing an output
(``resume``) needs the manifest: a folder that merely looks like ours is not ours.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import FileFormatError

MANIFEST = "anp-manifest.json"
# the kinds of output, as the messages name them
KINDS = {"train-run": "run", "sweep": "sweep", "cv": "cross-validation", "ablation": "ablation",
         "energy": "energy report", "energy-summary": "energy summary", "demo": "demo"}
FORMAT = "anp-emu-manifest"
VERSION = 1


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(folder: Path) -> dict | None:
    """The folder's manifest ({"kind", "files"}), None if it has none; one error if unreadable."""
    p = Path(folder) / MANIFEST
    if not p.exists():
        return None
    if p.is_symlink() or not p.is_file():
        raise FileFormatError(p, "is not a manifest file of anp (a folder or a symlink)")
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise FileFormatError(p, f"not a readable manifest ({e.__class__.__name__}); the folder is not taken as ours")
    files = d.get("files") if isinstance(d, dict) else None
    if (not isinstance(d, dict) or d.get("format") != FORMAT or d.get("version") != VERSION
            or not isinstance(d.get("kind"), str) or not isinstance(files, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())):
        raise FileFormatError(p, f"not a manifest of anp (format {FORMAT!r}, version {VERSION}, kind, files); "
                                 "the folder is not taken as ours")
    return {"kind": d["kind"], "files": dict(files)}


class OutputFolder:
    """A folder a command writes, with the manifest of what it wrote (see the module docstring)."""

    def __init__(self, path: Path, kind: str, files: dict):
        self.path = Path(path)
        self.kind = kind
        self.files = files              # name -> SHA-256 of every file anp wrote here
        self.written: set[str] = set()  # ... of them, those this command wrote

    @classmethod
    def claim(cls, path, kind: str, names, *, replace: bool = False, resume: bool = False,
              replace_option: str = "--force", resume_option: str = "--resume") -> "OutputFolder":
        """Check, before anything is written, that the command may write ``names`` (paths relative
        to ``path``) into ``path``; raise one error naming the first file it may not. Creates
        nothing."""
        path = Path(path)
        m = read_manifest(path) if path.is_dir() else None
        if m is not None and m["kind"] != kind:
            raise FileFormatError(path, f"holds the output of another command (a {KINDS.get(m['kind'], m['kind'])}, "
                                        f"{MANIFEST}); "
                                        "nothing is written there: choose another folder")
        if resume and m is None:
            raise FileFormatError(path, f"has no {MANIFEST} of an earlier {KINDS.get(kind, kind)}: not an output of "
                                        "ours to continue "
                                        "(a folder written by an earlier version, or not by anp)")
        files = dict(m["files"]) if m else {}
        for name in names:
            p = path / name
            if not (p.exists() or p.is_symlink()):
                continue
            if p.is_symlink() or not p.is_file():
                raise FileFormatError(p, "is a folder or a symlink, not a file anp wrote; never replaced")
            if name not in files:
                raise FileFormatError(p, f"was not written by anp here (not in {MANIFEST}); never replaced, "
                                         "whatever the options: move it away or choose another folder")
            if file_sha256(p) != files[name]:
                raise FileFormatError(p, f"changed since anp wrote it (SHA-256 differs from {MANIFEST}); never "
                                         "replaced: move it away or choose another folder")
            if not (replace or resume):
                raise _earlier(p, kind, replace_option, resume_option)
        return cls(path, kind, files)

    def wrote(self, *names) -> None:
        """Record files just written (relative names); the manifest is rewritten atomically."""
        for name in names:
            p = self.path / name
            if p.is_file() and not p.is_symlink():
                self.files[str(name)] = file_sha256(p)
                self.written.add(str(name))
        self._save()

    def drop_unwritten(self) -> None:
        """Remove the files of an earlier output that this command replaced (``--force``) but did
        not write again, when they are still as anp wrote them; the manifest forgets them."""
        for name in sorted(set(self.files) - self.written):
            p = self.path / name
            if p.is_file() and not p.is_symlink() and file_sha256(p) == self.files[name]:
                p.unlink()
            if not p.exists():
                del self.files[name]
        self._save()

    def _save(self) -> None:
        from .fileio import atomic_write_text

        doc = {"format": FORMAT, "version": VERSION, "kind": self.kind, "files": dict(sorted(self.files.items()))}
        atomic_write_text(self.path / MANIFEST, json.dumps(doc, indent=1) + "\n")

    def write_text(self, name: str, text: str) -> None:
        from .fileio import atomic_write_text

        atomic_write_text(self.path / name, text)
        self.wrote(name)


def _earlier(p: Path, kind: str, replace_option: str, resume_option: str) -> FileFormatError:
    hint = f"{replace_option} replaces the files anp wrote there" + (f", {resume_option} continues it"
                                                                      if resume_option else "")
    return FileFormatError(p, f"holds an earlier {KINDS.get(kind, kind)}; not replaced ({hint}, or choose a new folder)")


__all__ = ["MANIFEST", "OutputFolder", "read_manifest", "file_sha256"]
