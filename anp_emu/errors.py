"""Every public error of anp-emu, in one place (Sinabs style).

All errors derive from :class:`AnpError`. Each message is one line that names the field, the
limit and the actual value, so the CLI can print it as is and exit non-zero.
"""
from __future__ import annotations


class AnpError(Exception):
    """Base class of every anp-emu error. The CLI prints ``error: <message>`` and exits 1."""


class InputError(AnpError, ValueError):
    """A value handed to the API is malformed: wrong shape, dtype, range, NaN, unknown name."""

    def __init__(self, field: str, problem: str, *, limit=None, value=None, hint: str | None = None):
        self.field, self.problem, self.limit, self.value, self.hint = field, problem, limit, value, hint
        parts = [f"{field}: {problem}"]
        if limit is not None:
            parts.append(f"limit {limit}")
        if value is not None:
            parts.append(f"got {value}")
        msg = "; ".join(parts)
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class ConfigKeyError(InputError, KeyError):
    """An unknown or missing key in a config, settings or energy file."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0] if self.args else ""


class DesignRuleError(AnpError, ValueError):
    """A hardware limit of the chip is violated. ``rule`` is the named design rule."""

    def __init__(self, rule: str, where: str, limit, value, hint: str = ""):
        self.rule, self.where, self.limit, self.value, self.hint = rule, where, limit, value, hint
        msg = f"design rule {rule} violated at {where}: limit {limit}, got {value}"
        if hint:
            msg += f" (fix: {hint})"
        super().__init__(msg)


class FileFormatError(AnpError):
    """A file is missing, truncated, of the wrong format/version, or holds a malformed field."""

    def __init__(self, path, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}")


class UnsafePickleError(FileFormatError):
    """A pickle asks for a type outside the allowed plain numpy/builtin set."""


class CheckpointError(FileFormatError):
    """A training checkpoint is corrupt, or does not match the run it should resume."""


def check_names(names, allowed, field: str, noun: str, empty: str) -> tuple:
    """``names`` as a tuple, refused with one InputError naming ``field`` when it is empty
    (``empty`` says what is missing), holds a name outside ``allowed`` or repeats one."""
    names = tuple(names)
    if not names:
        raise InputError(field, empty, limit=f"from {list(allowed)}", value="''")
    for n in names:
        if n not in allowed:
            raise InputError(field, f"unknown {noun}", limit=f"one of {list(allowed)}", value=repr(n))
    if len(set(names)) != len(names):
        raise InputError(field, f"a {noun} is given twice", value=",".join(names))
    return names
