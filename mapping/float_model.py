"""Float models as users bring them: ``.npz`` files and NIR graphs.

A :class:`FloatModel` is a two-layer feed-forward LIF network in float units:
``w_hid`` (n_hid, n_in), ``w_out`` (n_out, n_hid), per-layer thresholds, the discrete leak
factor ``tau`` (v -> tau * v per step) and optional AFT threshold decays ``alpha_*`` (threshold
units per silent step, Wei et al. Eq. 16).

``.npz`` keys (``np.load(allow_pickle=False)``; any other key is refused):
``w_hid``, ``w_out``, ``theta_hid``, ``theta_out`` (required), ``tau`` (default 0.5),
``alpha_hid``, ``alpha_out`` (default 0).

NIR (``nir`` package): the chain Input -> Affine|Linear -> LIF|CubaLIF|IF -> Affine|Linear ->
LIF|CubaLIF|IF -> Output. Continuous time constants are discretised with the forward-Euler step
``dt`` (default 1 ms, as snnTorch/Norse exports): tau_discrete = 1 - dt / tau, and the input
enters scaled by r * dt / tau (IF: by r, no leak). v_leak and biases must be zero; CubaLIF only
with tau_syn <= dt (no synaptic state on the chip). Per-neuron parameters must be uniform.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anp_emu.chip import design_rules as dr
from anp_emu.errors import ConfigKeyError, DesignRuleError, FileFormatError, InputError

NPZ_REQUIRED = ("w_hid", "w_out", "theta_hid", "theta_out")
NPZ_OPTIONAL = ("tau", "alpha_hid", "alpha_out")


@dataclass
class FloatModel:
    w_hid: np.ndarray
    w_out: np.ndarray
    theta_hid: float
    theta_out: float
    tau: float = 0.5
    alpha_hid: float = 0.0
    alpha_out: float = 0.0

    def __post_init__(self):
        for name in ("w_hid", "w_out"):
            w = np.asarray(getattr(self, name), dtype=np.float64)
            if w.ndim != 2:
                raise dr.violate(dr.TOPOLOGY_FEEDFORWARD, name, "a 2-D (n_post, n_pre) matrix", f"shape {w.shape}")
            bad = ~np.isfinite(w)
            if bad.any():
                i, j = np.argwhere(bad)[0]
                raise dr.violate(dr.FINITE_VALUES, f"{name}[{i}, {j}]", "finite", w[i, j])
            setattr(self, name, w)
        if self.w_out.shape[1] != self.w_hid.shape[0]:
            raise dr.violate(dr.TOPOLOGY_FEEDFORWARD, "w_out", f"{self.w_hid.shape[0]} columns (n_hid)",
                             self.w_out.shape[1])
        for name in ("theta_hid", "theta_out", "tau", "alpha_hid", "alpha_out"):
            v = float(np.asarray(getattr(self, name)))
            if not np.isfinite(v):
                raise dr.violate(dr.FINITE_VALUES, name, "finite", v)
            setattr(self, name, v)
        for name in ("theta_hid", "theta_out"):
            if getattr(self, name) <= 0:
                raise dr.violate(dr.THRESHOLD_POSITIVE, name, "> 0", getattr(self, name))
        if not (0.0 < self.tau < 1.0):
            raise dr.violate(dr.LEAK_SHIFT_SUPPORTED, "tau", "0 < tau < 1 (v -> tau * v per step)", self.tau)
        for name in ("alpha_hid", "alpha_out"):
            if getattr(self, name) < 0:
                raise InputError(name, "AFT decay must be >= 0", value=getattr(self, name))


def load_npz(path) -> FloatModel:
    p = Path(path)
    if not p.exists():
        raise FileFormatError(p, "file not found")
    from anp_emu.files.fileio import read_npz

    data = read_npz(p)
    for k in data:
        if k not in NPZ_REQUIRED + NPZ_OPTIONAL:
            raise ConfigKeyError(f"{p}:{k}", "unknown key", limit=f"one of {list(NPZ_REQUIRED + NPZ_OPTIONAL)}")
    for k in NPZ_REQUIRED:
        if k not in data:
            raise FileFormatError(p, f"{k}: required field missing")
    for k, v in data.items():
        if v.dtype.kind not in "iuf":
            raise FileFormatError(p, f"{k}: dtype must be numeric, got {v.dtype}")
        if k not in ("w_hid", "w_out") and v.size != 1:
            raise FileFormatError(p, f"{k}: expected a scalar, got shape {v.shape}")
    return FloatModel(**{k: (v if k in ("w_hid", "w_out") else v.reshape(())) for k, v in data.items()})


def require_nir():
    """The ``nir`` package (a default dependency); one clear error if it is missing."""
    try:
        import nir
    except ImportError:
        raise InputError("nir", "the NIR format needs the nir package, which is not installed",
                         hint="pip install 'anp-emu[nir]' or pip install nir") from None
    return nir


def _uniform(values, where: str) -> float:
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        raise dr.violate(dr.LAYER_UNIFORM, where, "a value", "empty")
    if not np.all(np.isfinite(a)):
        raise dr.violate(dr.FINITE_VALUES, where, "finite", "NaN/inf")
    if np.any(a != a[0]):
        raise dr.violate(dr.LAYER_UNIFORM, where, "one value per layer", f"{a.min():g}..{a.max():g}")
    return float(a[0])


def _chain(graph) -> list[str]:
    """Node names from the single input to the single output, refusing branches."""
    nir = require_nir()

    inputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    if len(inputs) != 1:
        raise dr.violate(dr.TOPOLOGY_FEEDFORWARD, "graph", "one Input node", len(inputs))
    succ: dict[str, list[str]] = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
    order, cur, seen = [inputs[0]], inputs[0], {inputs[0]}
    while cur in succ:
        nxt = succ[cur]
        if len(nxt) != 1:
            raise dr.violate(dr.TOPOLOGY_FEEDFORWARD, f"node {cur!r}", "one successor", len(nxt))
        cur = nxt[0]
        if cur in seen:
            raise dr.violate(dr.TOPOLOGY_FEEDFORWARD, f"node {cur!r}", "no recurrence", "a cycle")
        seen.add(cur)
        order.append(cur)
    return order


DT_CONVENTIONS = {1e-4: "snnTorch's convention", 1e-3: "Norse/Rockpool's convention"}


def _lif_taus(graph) -> list[float]:
    nir = require_nir()
    out = []
    for n in graph.nodes.values():
        if isinstance(n, (nir.LIF, nir.CubaLIF)):
            t = np.asarray(n.tau_mem if isinstance(n, nir.CubaLIF) else n.tau, dtype=np.float64).ravel()
            if t.size and np.all(np.isfinite(t)):
                out.append(float(t[0]))
    return out


def _is_chip_leak(tau_discrete: float) -> bool:
    return any(abs(tau_discrete - (1.0 - 2.0 ** -k)) < 1e-9 for k in range(1, 16))


def infer_dt(graph) -> float | None:
    """The conventional time step (1e-4 s snnTorch, 1e-3 s Norse/Rockpool) under which every LIF
    of ``graph`` has one of the chip's leaks exactly, or None if none (or both) does."""
    taus = _lif_taus(graph)
    if not taus:
        return None
    fits = [dt for dt in DT_CONVENTIONS if all(t > dt and _is_chip_leak(1.0 - dt / t) for t in taus)]
    return fits[0] if len(fits) == 1 else None


def dt_hint(graph, dt: float) -> str:
    """A hint naming the --dt under which the graph maps (for errors and warnings), or ''."""
    good = infer_dt(graph)
    if good is not None and good != dt:
        return f"the graph is in {DT_CONVENTIONS[good]}: give --dt {good:g}"
    return ""


def load_nir(source, dt: float | None = 1e-3) -> FloatModel:
    """A FloatModel from a NIR graph or file (see the module docstring for the mapping).
    ``dt=None``: :func:`infer_dt` (1e-3 s when it cannot tell)."""
    nir = require_nir()

    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.exists():
            raise FileFormatError(p, "file not found")
        try:
            graph = nir.read(p)
        except Exception as e:  # nir raises bare KeyError/OSError on foreign files
            raise FileFormatError(p, f"not a readable NIR file: {e.__class__.__name__}: {e}") from None
    else:
        graph = source
    if dt is None:
        dt = infer_dt(graph) or 1e-3
    try:
        return _from_graph(graph, dt)
    except dr.DesignRuleError as e:
        hint = dt_hint(graph, dt)
        if hint and e.rule == dr.LEAK_SHIFT_SUPPORTED:
            raise DesignRuleError(e.rule, e.where, e.limit, e.value, hint) from None
        raise


def _from_graph(graph, dt: float) -> FloatModel:
    nir = require_nir()
    names = _chain(graph)
    nodes = [graph.nodes[n] for n in names]
    kinds = [type(n).__name__ for n in nodes]
    supported = {"Input", "Output", "Affine", "Linear", "LIF", "CubaLIF", "IF"}
    for name, kind in zip(names, kinds):
        if kind not in supported:
            raise dr.violate(dr.NODE_SUPPORTED, f"node {name!r}", "Affine/Linear, LIF/CubaLIF/IF", kind)
    if kinds[0] != "Input" or kinds[-1] != "Output" or len(nodes) != 6 or \
            kinds[1] not in ("Affine", "Linear") or kinds[3] not in ("Affine", "Linear") or \
            kinds[2] not in ("LIF", "CubaLIF", "IF") or kinds[4] not in ("LIF", "CubaLIF", "IF"):
        raise dr.violate(dr.TOPOLOGY_FEEDFORWARD, "graph", "Input-Affine-LIF-Affine-LIF-Output", "-".join(kinds))
    ws, thetas, taus = [], [], []
    for li, (lin_name, neu_name) in enumerate(((names[1], names[2]), (names[3], names[4]))):
        lin, neu = graph.nodes[lin_name], graph.nodes[neu_name]
        w = np.asarray(lin.weight, dtype=np.float64)
        if isinstance(lin, nir.Affine) and np.any(np.asarray(lin.bias) != 0):
            raise dr.violate(dr.NO_BIAS, f"node {lin_name!r}.bias", 0, f"max |bias| {np.abs(lin.bias).max():g}")
        r = _uniform(neu.r, f"node {neu_name!r}.r")
        thetas.append(_uniform(neu.v_threshold, f"node {neu_name!r}.v_threshold"))
        if isinstance(neu, nir.IF):
            taus.append(1.0 - 2.0 ** -15)          # no leak: the slowest leak the chip has
            gain = r
        else:
            if np.any(np.asarray(neu.v_leak) != 0):
                raise dr.violate(dr.NO_BIAS, f"node {neu_name!r}.v_leak", 0, _uniform(neu.v_leak, neu_name))
            tau_c = _uniform(neu.tau_mem if isinstance(neu, nir.CubaLIF) else neu.tau, f"node {neu_name!r}.tau")
            if isinstance(neu, nir.CubaLIF):
                tau_syn = _uniform(neu.tau_syn, f"node {neu_name!r}.tau_syn")
                if tau_syn > dt:
                    raise dr.violate(dr.NODE_SUPPORTED, f"node {neu_name!r}.tau_syn",
                                     f"<= dt = {dt:g} s (no synaptic current state on the chip)", tau_syn)
                r *= _uniform(neu.w_in, f"node {neu_name!r}.w_in")
            if not tau_c > dt:
                raise dr.violate(dr.LEAK_SHIFT_SUPPORTED, f"node {neu_name!r}.tau", f"> dt = {dt:g} s", tau_c)
            taus.append(1.0 - dt / tau_c)
            gain = r * dt / tau_c
        ws.append(w * gain)
    if abs(taus[0] - taus[1]) > 1e-12:
        raise dr.violate(dr.LAYER_UNIFORM, "tau", "one leak for both layers (the chip's leak_shift)",
                         f"{taus[0]:g} vs {taus[1]:g}")
    return FloatModel(ws[0], ws[1], thetas[0], thetas[1], taus[0])
