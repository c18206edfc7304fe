"""Input spike trains in the chip's event form.

A sample is ``SpikeInput``: for T time steps, ``step_ptr`` (T+1,) int64 and ``lines`` (nnz,)
int32 such that the input lines that spike at step t (0-based) are
``lines[step_ptr[t]:step_ptr[t+1]]`` — a CSR matrix of (step, line) events. A line may appear at
most once per step (a spike is binary). This is what the event-driven kernels consume: work is
proportional to the events, never to T x n_in.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..errors import InputError


@dataclass(frozen=True)
class SpikeInput:
    step_ptr: np.ndarray  # (T+1,) int64, non-decreasing, step_ptr[0] = 0
    lines: np.ndarray     # (nnz,) int32, 0 <= line < n_in, unique within a step

    @property
    def T(self) -> int:
        return len(self.step_ptr) - 1

    @property
    def n_events(self) -> int:
        return int(self.step_ptr[-1])

    def to_dense(self, n_in: int) -> np.ndarray:
        """(T, n_in) uint8 0/1 spike raster."""
        x = np.zeros((self.T, n_in), dtype=np.uint8)
        steps = np.repeat(np.arange(self.T), np.diff(self.step_ptr))
        x[steps, self.lines] = 1
        return x

    @classmethod
    def from_dense(cls, x, field: str = "x") -> "SpikeInput":
        """From a (T, n_in) array of 0/1 (bool or integer) values."""
        x = np.asarray(x)
        if x.ndim != 2:
            raise InputError(field, "expected a (T, n_in) spike raster", value=f"shape {x.shape}")
        if x.dtype.kind == "f":
            if not np.all(np.isfinite(x)):
                raise InputError(field, "spikes must be finite 0/1", value="NaN/inf")
        elif x.dtype.kind not in "biu":
            raise InputError(field, "spikes must be bool or integer 0/1", value=str(x.dtype))
        if x.size and (x.min() < 0 or x.max() > 1 or (x.dtype.kind == "f" and np.any(x != np.round(x)))):
            bad = np.argwhere((x != 0) & (x != 1))[0]
            raise InputError(f"{field}[{bad[0]}, {bad[1]}]", "spikes are binary", limit="0 or 1",
                             value=x[tuple(bad)])
        return cls.from_spikes(np.ascontiguousarray(x))

    @classmethod
    def from_spikes(cls, s: np.ndarray) -> "SpikeInput":
        """From a (T, n) 0/1 raster without checks: ``from_dense`` after its validation, and the
        learning engine's path for the hidden spikes the chip itself produced."""
        return cls(*_raster_csr(s))

    @classmethod
    def from_events(cls, t, line, T: int, n_in: int, field: str = "events") -> "SpikeInput":
        """From (step, line) event arrays in any order; duplicates within a step are refused."""
        t = np.asarray(t)
        line = np.asarray(line)
        if t.shape != line.shape or t.ndim != 1:
            raise InputError(field, "t and line must be 1-D of equal length", value=f"{t.shape} vs {line.shape}")
        if t.size:
            if t.dtype.kind not in "iu" or line.dtype.kind not in "iu":
                raise InputError(field, "t and line must be integers", value=f"{t.dtype}/{line.dtype}")
            if t.min() < 0 or t.max() >= T:
                raise InputError(f"{field}.t", "step out of range", limit=f"0..{T - 1}",
                                 value=int(t.min() if t.min() < 0 else t.max()))
            if line.min() < 0 or line.max() >= n_in:
                raise InputError(f"{field}.line", "input line out of range", limit=f"0..{n_in - 1}",
                                 value=int(line.min() if line.min() < 0 else line.max()))
        key = t.astype(np.int64) * n_in + line.astype(np.int64)
        order = np.argsort(key, kind="stable")
        key = key[order]
        if key.size > 1 and np.any(key[1:] == key[:-1]):
            k = int(key[1:][key[1:] == key[:-1]][0])
            raise InputError(field, "duplicate event (a line spikes at most once per step)",
                             value=f"step {k // n_in}, line {k % n_in}")
        ptr = np.zeros(T + 1, dtype=np.int64)
        np.cumsum(np.bincount((key // n_in).astype(np.int64), minlength=T), out=ptr[1:])
        return cls(ptr, (key % n_in).astype(np.int32))

    def validate(self, n_in: int, field: str = "input") -> "SpikeInput":
        """Check the CSR invariants against a chip with ``n_in`` input lines (one numba pass: cheap
        enough to run on every sample the chip is given)."""
        p, ln = np.asarray(self.step_ptr), np.asarray(self.lines)
        if p.ndim != 1 or p.size < 2 or p.dtype.kind not in "iu":
            raise InputError(f"{field}.step_ptr", "must be 1-D integer offsets of at least 2 entries",
                             value=f"shape {p.shape}, {p.dtype}")
        if ln.ndim != 1 or ln.dtype.kind not in "iu":
            raise InputError(f"{field}.lines", "must be 1-D integer line indices", value=f"shape {ln.shape}, {ln.dtype}")
        if ln.dtype != _LINE_DTYPE:
            ln = np.asarray(ln, np.int64)     # the kernel's other instance: any integer line fits
        problem, value = _csr_problem(np.asarray(p, _PTR_DTYPE), ln, n_in)
        if problem == 1:
            raise InputError(f"{field}.step_ptr", "must start at 0, be non-decreasing and end at len(lines)")
        if problem == 2:
            raise InputError(f"{field}.lines", "input line out of range", limit=f"0..{n_in - 1}", value=value)
        return self


_PTR_DTYPE, _LINE_DTYPE = np.dtype(np.int64), np.dtype(np.int32)     # what the kernels take


def as_spike_input(x, n_in: int, field: str = "input") -> SpikeInput:
    """Accept a SpikeInput or a dense (T, n_in) raster and return a validated SpikeInput with the
    kernels' dtypes (``x`` itself when it has them already: no copy per sample)."""
    if isinstance(x, SpikeInput):
        x.validate(n_in, field)       # before the conversion: float offsets are refused, not truncated
        if _is_kernel_ready(x.step_ptr, _PTR_DTYPE) and _is_kernel_ready(x.lines, _LINE_DTYPE):
            return x
        return SpikeInput(np.ascontiguousarray(x.step_ptr, _PTR_DTYPE), np.ascontiguousarray(x.lines, _LINE_DTYPE))
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[1] != n_in:
        raise InputError(field, "number of input lines does not match the chip", limit=n_in, value=x.shape[1])
    return SpikeInput.from_dense(x, field)


def _is_kernel_ready(a, dtype) -> bool:
    return isinstance(a, np.ndarray) and a.dtype == dtype and a.flags.c_contiguous


@njit(cache=True)
def _raster_csr(s):
    """(T, n) 0/1 raster -> (step_ptr int64 (T+1,), lines int32), sorted by (step, line)."""
    T, n = s.shape
    ptr = np.zeros(T + 1, dtype=np.int64)
    lines = np.empty(T * n, dtype=np.int32)
    m = 0
    for t in range(T):
        for i in range(n):
            if s[t, i] != 0:
                lines[m] = i
                m += 1
        ptr[t + 1] = m
    return ptr, lines[:m].copy()


@njit(cache=True)
def _csr_problem(p, ln, n_in):
    """(0, 0) if (p, ln) is a valid CSR of events on n_in lines; (1, 0) for bad offsets; (2, v)
    for lines outside 0..n_in-1, v the smallest if negative, else the largest (as before)."""
    if p[0] != 0 or p[p.shape[0] - 1] != ln.shape[0]:
        return 1, 0
    for t in range(p.shape[0] - 1):
        if p[t + 1] < p[t]:
            return 1, 0
    lo = 0
    hi = n_in - 1
    for e in range(ln.shape[0]):
        lo = min(lo, ln[e])
        hi = max(hi, ln[e])
    if lo < 0:
        return 2, lo
    if hi >= n_in:
        return 2, hi
    return 0, 0
