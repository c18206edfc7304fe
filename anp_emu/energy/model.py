"""Energy table of the emulated ANP-I: counters x per-operation energies at an operating point.

One **energy table** (:class:`EnergyTable`) holds every operating point of the chip, the cost of
each counted operation relative to one synaptic operation (SOP), two named accounting options and
optionally a cycle table. :meth:`EnergyTable.model` picks one operating point and gives an
:class:`EnergyModel`, whose :meth:`~EnergyModel.per_op_pj` is the table of absolute energies
(pJ per counted operation, one entry per counter of :data:`anp_emu.chip.counters.NAMES`) and whose
:meth:`~EnergyModel.energy_pj` multiplies a :class:`~anp_emu.chip.counters.Counters` by it.

Energy of a run = sum over layers and counters of count x pJ-per-op   (dynamic)
                + static_power_mw x latency                           (static, latency from cycles)

Published facts (Wei et al. 2024 Table IV; Zhang et al. JSSC 2024): ``voltage_v``, ``clock_mhz``,
``pj_per_sop``, ``power_mw`` of the two points 0.56 V/40 MHz (1.49 pJ/SOP, 2.91 mW) and
0.9 V/210 MHz (4.16 pJ/SOP, 56.8 mW). Everything else is a named assumption, documented in
docs/energy.md and overridable from a JSON/TOML file or ``--cost NAME=VALUE``:

``static_power_mw``      leakage/static power of the operating point.
``relative_costs[op]``   energy of one ``op`` in units of one SOP, for every counter except the
                         two SOP counters (the SOP *is* the unit).
``zero_skipping``        true: the chip skips zero weights, so ``sop_effective`` (non-zero weights
                         reached) is charged one SOP each and ``sop_dense`` nothing; false: the chip
                         pays for every synapse of the fan-out, so ``sop_dense`` is charged and
                         ``sop_effective`` nothing. Never both (one counter is a subset of the other).
``sop_includes_static``  false (shipped): one SOP costs the published ``pj_per_sop`` and static x
                         latency comes on top; if the published figure is power / SOP rate at full
                         load this counts the static share twice, an overestimate bounded by
                         static_power_mw / power_mw (3.4 % at 0.56 V, 0.7 % at 0.9 V).
                         true: the published pJ/SOP already contains the static share; one SOP then
                         costs ``pj_per_sop x (1 - static_power_mw / power_mw)`` so that a fully loaded
                         chip reproduces the published pJ/SOP once static x latency is added.

File format (JSON, or TOML on Python >= 3.11), every field required except ``description`` and
``cycles``::

    {"format": "anp-energy-table", "version": 1,
     "operating_points": {"0.56V": {"voltage_v": .., "clock_mhz": .., "pj_per_sop": ..,
                                    "power_mw": .., "static_power_mw": ..}, ...},
     "relative_costs": {"input_events": .., ...},          # every non-SOP counter
     "options": {"zero_skipping": true, "sop_includes_static": true},
     "cycles": {"synaptic_lanes": 64, ...}}                 # optional: anp_emu.chip.cycles.CycleTable
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..chip.counters import NAMES, PHASE_OF, Counters
from ..chip.cycles import DEFAULT_CYCLES, CycleTable
from ..errors import ConfigKeyError, FileFormatError, InputError

FORMAT = "anp-energy-table"
VERSION = 1
SOP_COUNTERS = ("sop_effective", "sop_dense")
COST_NAMES = tuple(n for n in NAMES if n not in SOP_COUNTERS)   # keys of relative_costs
POINT_FIELDS = ("voltage_v", "clock_mhz", "pj_per_sop", "power_mw", "static_power_mw")
OPTION_NAMES = ("zero_skipping", "sop_includes_static")
from ..defaults import OPERATING_POINT as DEFAULT_POINT  # noqa: E402  (the paper's headline point, defined once)
TOP_KEYS = ("format", "version", "description", "operating_points", "relative_costs", "options", "cycles", "sources")
REQUIRED_TOP = ("format", "version", "operating_points", "relative_costs", "options")


# Plausible ranges of every number of a table (a value outside is refused, naming the field and the
# range): within a few orders of magnitude of the published ANP-I figures (1.49 / 4.16 pJ/SOP,
# 2.91 / 56.8 mW, 0.56 / 0.9 V, 40 / 210 MHz); a relative cost is 0..1000 SOPs. Anything beyond
# is a typo or a unit mistake, and 1e308 would make every energy inf or NaN.
RELATIVE_COST_RANGE = (0.0, 1000.0)
POINT_RANGES = {"voltage_v": (0.05, 5.0), "clock_mhz": (1e-3, 1e4), "pj_per_sop": (1e-3, 1e3),
                "power_mw": (1e-3, 1e5), "static_power_mw": (0.0, 1e5)}


def _number(value, where: str, *, positive: bool = False, text_ok: bool = False, limits=None) -> float:
    """A finite float >= 0 (> 0 if ``positive``), within ``limits`` (lo, hi) when given; errors
    name the field. With ``text_ok`` (a ``--cost`` value) a string is parsed as a number first; in
    files numbers must be numbers."""
    if text_ok and isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InputError(where, "must be a number", value=repr(value)) from None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(where, "must be a number", value=repr(value))
    v = float(value)
    if not math.isfinite(v):
        raise InputError(where, "must be finite", value=v)
    if positive and v <= 0:
        raise InputError(where, "must be > 0", value=v)
    if v < 0:
        raise InputError(where, "must not be negative", limit=">= 0", value=v)
    if limits is not None and not limits[0] <= v <= limits[1]:
        raise InputError(where, "out of the plausible range", limit=f"{limits[0]:g}..{limits[1]:g}", value=f"{v:g}")
    return v


def _bool(value, where: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    raise InputError(where, "must be true or false", value=repr(value))


@dataclass(frozen=True)
class OperatingPoint:
    """One supply voltage / clock of the chip. ``clock_mhz`` converts cycles to seconds."""

    name: str
    voltage_v: float
    clock_mhz: float
    pj_per_sop: float
    power_mw: float
    static_power_mw: float

    def __post_init__(self):
        w = f"operating_points.{self.name}"
        for f in POINT_FIELDS:
            object.__setattr__(self, f, _number(getattr(self, f), f"{w}.{f}",
                                                positive=f != "static_power_mw", limits=POINT_RANGES[f]))
        if self.static_power_mw > self.power_mw:
            raise InputError(f"{w}.static_power_mw", "static power exceeds the total power",
                             limit=f"<= power_mw = {self.power_mw}", value=self.static_power_mw)

    @property
    def sop_rate_gsops(self) -> float:
        """SOP rate at full load implied by the published numbers: power / (pJ per SOP)."""
        return self.power_mw / self.pj_per_sop  # mW / pJ = 1e9 / s

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("name")
        return d


@dataclass(frozen=True)
class EnergyModel:
    """Energies at one operating point. ``per_op_pj()`` is the table that multiplies the counters."""

    point: OperatingPoint
    relative_costs: dict
    zero_skipping: bool = True
    sop_includes_static: bool = False
    cycle_table: CycleTable = DEFAULT_CYCLES

    @property
    def sop_pj(self) -> float:
        """Dynamic energy of one SOP (pJ): the unit of ``relative_costs``."""
        p = self.point
        if self.sop_includes_static:
            return p.pj_per_sop * (1.0 - p.static_power_mw / p.power_mw)
        return p.pj_per_sop

    def per_op_pj(self) -> dict[str, float]:
        """pJ per counted operation, one entry per counter of ``NAMES`` (0 for free counters)."""
        unit = self.sop_pj
        out = {}
        for n in NAMES:
            if n == "sop_effective":
                out[n] = unit if self.zero_skipping else 0.0
            elif n == "sop_dense":
                out[n] = 0.0 if self.zero_skipping else unit
            else:
                out[n] = unit * float(self.relative_costs[n])
        return out

    def per_op_vector(self) -> np.ndarray:
        """``per_op_pj`` as a vector aligned with ``NAMES`` (for ``counts @ vector``)."""
        t = self.per_op_pj()
        return np.array([t[n] for n in NAMES], dtype=np.float64)

    def energy_pj(self, counters: Counters) -> np.ndarray:
        """Dynamic energy (pJ) per layer and counter: ``counters.counts * per_op_vector`` (2, N).
        Totals over the counted samples (divide by ``counters.n_samples`` for per sample)."""
        return counters.counts.astype(np.float64) * self.per_op_vector()[None, :]

    def static_pj(self, cycles: float) -> float:
        """Static energy (pJ) over ``cycles`` clock cycles: P_static x cycles / f."""
        return self.point.static_power_mw * 1e-3 * self.seconds(cycles) * 1e12

    def seconds(self, cycles: float) -> float:
        return float(cycles) / (self.point.clock_mhz * 1e6)

    def layer_phase_cycles(self, counters: Counters, spec, T: int) -> np.ndarray:
        """Cycles (2 layers, 3 phases: forward, backward, update), totals over the samples."""
        out = np.zeros((2, 3))
        for layer, n_post in enumerate((spec.n_hid, spec.n_out)):
            c = self.cycle_table.layer_cycles(counters, layer, n_post, T)
            out[layer] = [c["forward"], c["backward"], c["update"]]
        return out

    def table_frame(self) -> pd.DataFrame:
        """The per-operation table: counter, phase, relative cost (in SOPs), pJ per op, charged."""
        t = self.per_op_pj()
        unit = self.sop_pj
        rows = []
        for n in NAMES:
            rel = t[n] / unit if unit else 0.0
            rows.append((n, PHASE_OF[n], rel, t[n], t[n] > 0))
        return pd.DataFrame(rows, columns=["counter", "phase", "relative_cost", "pj_per_op", "charged"])

    def describe(self) -> dict:
        p = self.point
        return {"operating_point": p.name, **p.to_dict(), "sop_pj_dynamic": self.sop_pj,
                "zero_skipping": self.zero_skipping, "sop_includes_static": self.sop_includes_static,
                "cycles": self.cycle_table.to_dict()}


@dataclass(frozen=True)
class EnergyTable:
    """All operating points + relative costs + options (+ cycle table): the content of a file."""

    points: dict
    relative_costs: dict
    zero_skipping: bool = True
    sop_includes_static: bool = False
    cycle_table: CycleTable = DEFAULT_CYCLES
    description: str = ""
    source: str = "built-in"
    cli_overrides: tuple = field(default_factory=tuple)
    sources: dict = field(default_factory=dict)   # entry -> where its number comes from (reasoning, references)

    def __post_init__(self):
        for k in self.relative_costs:
            if k not in COST_NAMES:
                _unknown_cost(k, "relative_costs")
        for k in COST_NAMES:
            if k not in self.relative_costs:
                raise ConfigKeyError(f"relative_costs.{k}", "required field missing")
        object.__setattr__(self, "relative_costs", {k: _number(self.relative_costs[k], f"relative_costs.{k}",
                                                               limits=RELATIVE_COST_RANGE)
                                                    for k in COST_NAMES})
        if not self.points:
            raise InputError("operating_points", "need at least one operating point", value=0)

    @property
    def point_names(self) -> tuple[str, ...]:
        return tuple(self.points)

    def model(self, point: str = DEFAULT_POINT) -> EnergyModel:
        if point not in self.points:
            raise InputError("operating_point", "unknown operating point", limit=f"one of {list(self.points)}",
                             value=repr(point))
        return EnergyModel(self.points[point], dict(self.relative_costs), self.zero_skipping,
                           self.sop_includes_static, self.cycle_table)

    def to_dict(self) -> dict:
        d = {"format": FORMAT, "version": VERSION}
        if self.description:
            d["description"] = self.description
        d["operating_points"] = {k: p.to_dict() for k, p in self.points.items()}
        d["relative_costs"] = dict(self.relative_costs)
        d["options"] = {"zero_skipping": self.zero_skipping, "sop_includes_static": self.sop_includes_static}
        d["cycles"] = self.cycle_table.to_dict()
        if self.sources:
            d["sources"] = dict(self.sources)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def with_cost(self, name: str, value, point: str | None = None) -> "EnergyTable":
        """Override one entry (``--cost NAME=VALUE``).

        NAME is a counter of ``relative_costs`` (value in SOPs), an option (``zero_skipping``,
        ``sop_includes_static``), an operating-point field (``pj_per_sop``, ``static_power_mw``,
        ``power_mw``, ``clock_mhz``, ``voltage_v``) applied to ``point`` (or written
        ``POINT.FIELD``, e.g. ``0.9V.static_power_mw``), or ``cycles.FIELD``.
        """
        where = f"--cost {name}"
        if name in COST_NAMES:
            costs = dict(self.relative_costs)
            costs[name] = _number(value, f"{where} (relative_costs.{name})", text_ok=True,
                                  limits=RELATIVE_COST_RANGE)
            src = dict(self.sources)
            if src:
                src[name] = f"overridden ({costs[name]:g} SOP); was: {src.get(name, 'no source given')}"
            return replace(self, relative_costs=costs, sources=src)
        if name in SOP_COUNTERS:
            _unknown_cost(name, "--cost")
        if name in OPTION_NAMES:
            return replace(self, **{name: _bool(value, where)})
        if name.startswith("cycles."):
            key = name[len("cycles."):]
            d = self.cycle_table.to_dict()
            if key not in d:
                raise ConfigKeyError(where, "unknown cycle-table field", limit=f"one of {sorted(d)}")
            d[key] = _integer(value, where)
            return replace(self, cycle_table=CycleTable.from_dict(d))
        pname, fname = point or DEFAULT_POINT, name
        for p in self.points:
            if name.startswith(p + "."):
                pname, fname = p, name[len(p) + 1:]
        if fname in POINT_FIELDS:
            if pname not in self.points:
                raise InputError("operating_point", "unknown operating point", limit=f"one of {list(self.points)}",
                                 value=repr(pname))
            p = self.points[pname]
            pts = dict(self.points)
            pts[pname] = replace(p, **{fname: _number(value, f"{where} ({pname}.{fname})", text_ok=True,
                                                       positive=fname != "static_power_mw",
                                                       limits=POINT_RANGES[fname])})
            return replace(self, points=pts)
        raise ConfigKeyError(where, "unknown cost name",
                             limit=f"a counter {list(COST_NAMES)}, an option {list(OPTION_NAMES)}, "
                                   f"an operating-point field {list(POINT_FIELDS)} or cycles.<field>")

    def with_overrides(self, items, point: str | None = None) -> "EnergyTable":
        """Apply ``["NAME=VALUE", ...]`` (the CLI's repeated ``--cost``)."""
        t = self
        for item in items:
            if "=" not in item:
                raise InputError("--cost", "expected NAME=VALUE", value=repr(item))
            name, _, value = item.partition("=")
            t = t.with_cost(name.strip(), value.strip(), point)
        return replace(t, cli_overrides=tuple(self.cli_overrides) + tuple(items))


def _unknown_cost(name: str, where: str):
    if name in SOP_COUNTERS:
        raise ConfigKeyError(f"{where}.{name}", "the SOP counters are the unit (pj_per_sop of the operating "
                             "point), not a relative cost",
                             hint="set options.zero_skipping to choose whether sop_effective or sop_dense is charged")
    raise ConfigKeyError(f"{where}.{name}", "unknown operation", limit=f"one of {list(COST_NAMES)}")




def _integer(value, where: str) -> int:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InputError(where, "must be an integer", value=repr(value)) from None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)) or float(value) != int(value):
        raise InputError(where, "must be an integer", value=repr(value))
    return int(value)


# ---------------------------------------------------------------------------------------------
# reading and writing files

def table_from_dict(d: dict, source: str = "<dict>") -> EnergyTable:
    """Validate a complete energy table (as read from a file); errors name the file and the field."""
    pre = f"{source}:" if source != "<dict>" else ""
    if not isinstance(d, dict):
        raise FileFormatError(source, "expected a table (JSON object) at the top level")
    for k in d:
        if k not in TOP_KEYS:
            raise ConfigKeyError(f"{pre}{k}", "unknown key", limit=f"one of {list(TOP_KEYS)}")
    for k in REQUIRED_TOP:
        if k not in d:
            raise ConfigKeyError(f"{pre}{k}", "required field missing")
    if d["format"] != FORMAT:
        raise FileFormatError(source, f"format: expected {FORMAT!r}, got {d['format']!r}")
    if d["version"] != VERSION:
        raise FileFormatError(source, f"version: supported [{VERSION}], got {d['version']!r}")
    try:
        points_d = _section(d, "operating_points", pre)
        points = {}
        for name, pd_ in points_d.items():
            if not isinstance(pd_, dict):
                raise InputError(f"{pre}operating_points.{name}", "must be a table of fields", value=repr(pd_))
            for k in pd_:
                if k not in POINT_FIELDS:
                    raise ConfigKeyError(f"{pre}operating_points.{name}.{k}", "unknown field",
                                         limit=f"one of {list(POINT_FIELDS)}")
            for k in POINT_FIELDS:
                if k not in pd_:
                    raise ConfigKeyError(f"{pre}operating_points.{name}.{k}", "required field missing")
            points[str(name)] = OperatingPoint(str(name), **{k: pd_[k] for k in POINT_FIELDS})
        costs = _section(d, "relative_costs", pre)
        for k in costs:
            if k not in COST_NAMES:
                _unknown_cost(k, f"{pre}relative_costs")
        for k in COST_NAMES:
            if k not in costs:
                raise ConfigKeyError(f"{pre}relative_costs.{k}", "required field missing")
        costs = {k: _number(costs[k], f"{pre}relative_costs.{k}", limits=RELATIVE_COST_RANGE) for k in COST_NAMES}
        opts = _section(d, "options", pre)
        for k in opts:
            if k not in OPTION_NAMES:
                raise ConfigKeyError(f"{pre}options.{k}", "unknown option", limit=f"one of {list(OPTION_NAMES)}")
        for k in OPTION_NAMES:
            if k not in opts:
                raise ConfigKeyError(f"{pre}options.{k}", "required field missing")
        opts = {k: _bool(opts[k], f"{pre}options.{k}") for k in OPTION_NAMES}
        cyc = DEFAULT_CYCLES
        if "cycles" in d:
            cd = _section(d, "cycles", pre)
            known = set(DEFAULT_CYCLES.to_dict())
            for k in cd:
                if k not in known:
                    raise ConfigKeyError(f"{pre}cycles.{k}", "unknown field", limit=f"one of {sorted(known)}")
            cyc = CycleTable.from_dict({k: _integer(v, f"{pre}cycles.{k}") for k, v in cd.items()})
    except InputError as e:
        # name the file in value errors raised by the dataclasses (they know only the field)
        if pre and not str(e).startswith(pre):
            raise type(e)(f"{pre}{e.field}", e.problem, limit=e.limit, value=e.value, hint=e.hint) from None
        raise
    desc = d.get("description", "")
    sources = d.get("sources", {})
    if not isinstance(sources, dict):
        raise InputError(f"{pre}sources", "must be a table of text", value=type(sources).__name__)
    known = set(COST_NAMES) | set(POINT_FIELDS) | set(OPTION_NAMES) | {"cycles", "sop"}
    for k, v in sources.items():
        if k not in known:
            raise ConfigKeyError(f"{pre}sources.{k}", "unknown entry", limit=f"one of {sorted(known)}")
        if not isinstance(v, str):
            raise InputError(f"{pre}sources.{k}", "must be text", value=repr(v))
    return EnergyTable(points, costs, opts["zero_skipping"], opts["sop_includes_static"], cyc,
                       str(desc), source, sources=dict(sources))


def _section(d: dict, key: str, pre: str) -> dict:
    v = d[key]
    if not isinstance(v, dict):
        raise InputError(f"{pre}{key}", "must be a table", value=type(v).__name__)
    return v


def load_table(path) -> EnergyTable:
    """Read a complete energy table from ``.json`` or ``.toml`` (TOML needs Python >= 3.11)."""
    p = Path(path)
    if not p.exists():
        raise FileFormatError(p, "file not found")
    if p.is_dir():
        raise FileFormatError(p, "is a folder, expected an energy table (.json or .toml)")
    raw = p.read_bytes()
    if p.suffix.lower() == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            raise FileFormatError(p, "TOML energy tables need Python >= 3.11 (tomllib); use JSON") from None
        try:
            d = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise FileFormatError(p, f"not valid TOML: {e}") from None
    else:
        try:
            d = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise FileFormatError(p, "not valid JSON: not UTF-8 text") from None
        except json.JSONDecodeError as e:
            raise FileFormatError(p, f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    return table_from_dict(d, str(p))


def default_table() -> EnergyTable:
    """The shipped ANP-I table (``anp_emu/energy/anp1.json``)."""
    text = resources.files("anp_emu.energy").joinpath("anp1.json").read_text()
    t = table_from_dict(json.loads(text), "anp1.json")
    return replace(t, source="built-in anp1.json")


def save_table(table: EnergyTable, path) -> None:
    """Write ``table`` as JSON atomically (a complete, editable table)."""
    from ..files.fileio import atomic_write_text

    atomic_write_text(path, table.to_json())


def resolve_table(costs_file=None, overrides=(), point: str = DEFAULT_POINT) -> EnergyTable:
    """The table the CLI uses: a file (or the built-in table), then ``--cost`` overrides."""
    t = load_table(costs_file) if costs_file else default_table()
    if point not in t.points:
        raise InputError("--operating-point", "unknown operating point", limit=f"one of {list(t.points)}",
                         value=repr(point))
    return t.with_overrides(list(overrides), point) if overrides else t


__all__ = ["FORMAT", "VERSION", "COST_NAMES", "SOP_COUNTERS", "POINT_FIELDS", "OPTION_NAMES", "DEFAULT_POINT",
           "OperatingPoint", "EnergyModel", "EnergyTable", "table_from_dict", "load_table", "default_table",
           "save_table", "resolve_table"]


def model_at(point: str = DEFAULT_POINT, field: str = "operating_point") -> EnergyModel:
    """The default table's energy model at ``point`` ("0.56V", "0.56v" or "0.56"); an unknown
    point is one error naming ``field`` and the points there are. What ``anp train
    --operating-point`` and ``TrainOptions.operating_point`` both use."""
    table = default_table()
    names = {n.lower(): n for n in table.points}
    key = str(point).lower()
    key = key if key in names else key + "v"
    if key not in names:
        raise InputError(field, "unknown operating point", limit=f"one of {list(table.points)}", value=repr(point))
    return table.model(names[key])
