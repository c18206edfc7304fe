"""Named presets: what a published experiment set, in one place, for every command that trains.

``paper`` is Wei et al. 2024 as printed (Section V-A, VI-B, Eq. 18-21):

=====================  ===========================  ==================================================
setting                paper preset                 our tuned defaults (``anp train``) and why
=====================  ===========================  ==================================================
temporal path          Eq. 21: window 1             full recursion: exact BPTT of the chip's LIF; more
                                                    gradient signal per spike (1.8x more MPD-ED
                                                    weight-gradient work on the default set)
reset (spike) path     on (Eq. 18)                  off: with tau = 0.5 and the rect surrogate its
                                                    term -(tau v + a) delta_u[t+1] mostly cancels the
                                                    temporal term; training was as good without it
loss                   TET + MSE, lambda = 1e-3     TET alone (lambda 0)
AFT step (aux weight)  theta0 / T per layer         0.3 theta: the aux boost saturates at 2 w_aux for
                                                    tau = 0.5, so theta0/T (~0.026 theta at T = 39)
                                                    barely moves a neuron; 0.3 keeps hidden neurons
                                                    alive on the synthetic set
lr schedule            cosine                       cosine (the same)
epochs                 50                           5 (a quick run; the paper's 50 is the preset)
=====================  ===========================  ==================================================

Use::

    from anp_emu.experiments.presets import preset
    p = preset("paper")
    settings = p.apply_settings(settings)          # LearningSettings
    options = p.apply_options(options)             # TrainOptions (epochs, schedule)
    cfg = p.apply_config(cfg, T)                   # aux weights theta0/T per layer
    p.aux_frac(T)                                  # the init's aux fraction (anp_emu.chip.initialise)

CLI options the user gives explicitly win over the preset (the commands pass only those).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..errors import InputError

PRESET_NAMES = ("paper",)


@dataclass(frozen=True)
class Preset:
    """Overrides of learning settings, training options and the aux weights."""

    name: str
    settings: dict = field(default_factory=dict)     # LearningSettings fields
    options: dict = field(default_factory=dict)      # TrainOptions fields
    aft_step_per_T: bool = False                     # aux weight = theta0 / T per layer
    source: str = ""

    def apply_settings(self, settings, keep=()):
        """``settings`` with the preset's values, except the fields named in ``keep``. A kept loss
        other than TET drops the preset's TET regulariser (it belongs to that loss)."""
        over = {k: v for k, v in self.settings.items() if k not in keep}
        if "tet_lambda" in over and over.get("loss", settings.loss) != "tet":
            over["tet_lambda"] = 0.0
        return replace(settings, **over)

    def apply_options(self, options, keep=()):
        return replace(options, **{k: v for k, v in self.options.items() if k not in keep})

    def aux_frac(self, T: int) -> float | None:
        """The aux weight as a fraction of theta (``initialise.init_config``'s aux_frac), or None."""
        return 1.0 / int(T) if self.aft_step_per_T else None

    def apply_config(self, cfg, T: int):
        """``cfg`` with aux weights theta0/T per layer (at least 1 LSB, at most the weight width's
        maximum: the chip cannot hold a larger one, and a zero aux weight is no AFT at all)."""
        if not self.aft_step_per_T:
            return cfg
        return cfg.replace(**{name: aux_step_weight(th, T, cfg.spec.w_range(layer)[1])
                              for layer, (name, th) in enumerate((("w_aux_hid", cfg.theta_hid),
                                                                  ("w_aux_out", cfg.theta_out)))})

    def describe(self) -> dict:
        return {"name": self.name, "settings": dict(self.settings), "options": dict(self.options),
                "aft_step": "theta0/T" if self.aft_step_per_T else None, "source": self.source}


def aux_step_weight(theta: int, T: int, w_max: int) -> int:
    """The aux weight that reproduces the AFT step theta0 / T: round(theta / T), clipped to
    1..w_max (the layer's largest weight)."""
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise InputError("T", "must be an integer >= 1", value=T)
    return int(min(max(1, round(int(theta) / T)), int(w_max)))


PAPER = Preset(
    name="paper",
    settings={"temporal_path": True, "temporal_window": 1, "reset_path": True, "loss": "tet", "tet_lambda": 1e-3},
    options={"schedule": "cosine", "epochs": 50},
    aft_step_per_T=True,
    source="Wei et al. 2024: Eq. 18-21 (window 1, reset path), Sec. V-A (TET loss of Deng et al. 2022 with its "
           "MSE term, lambda 1e-3; cosine lr; 50 epochs), Sec. VI-B (AFT step theta0/T on ANP-I)")

_PRESETS = {"paper": PAPER}


def preset(name: str) -> Preset:
    if name not in _PRESETS:
        raise InputError("--preset", "unknown preset", limit=f"one of {list(PRESET_NAMES)}", value=repr(name))
    return _PRESETS[name]
