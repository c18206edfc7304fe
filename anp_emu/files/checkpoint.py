"""Training checkpoints: the state after a whole epoch, written atomically.

HDF5, ``format = "anp-emu-checkpoint"``, ``version = 1``:

- ``/w_hid`` (n_hid, n_in), ``/w_out`` (n_out, n_hid): int16 for on-chip (int) training, float64
  for the float twin;
- attributes ``epochs_done`` (int), ``fingerprint`` (the training dataset's identity),
  ``config`` (JSON: spec, thresholds, aux weights, scales), ``settings`` and ``options`` (JSON:
  the learning settings and training options of the run), ``history`` (JSON: one row per epoch)
  and ``sha256`` (SHA-256 of all the above, checked on load: a damaged checkpoint is one error,
  and nothing is resumed or written from it).

Extending a run: ``--resume --epochs N`` on a run of E < N epochs continues it only if the epochs
already done had the learning rate the N-epoch run gives them. Every random choice of epoch e is
seeded by (seed, e) alone, so the result is then bit-identical to N epochs from the start. With
the constant schedule that always holds; a cosine schedule over E epochs is not the start of one
over N (its rate depends on the epoch count), so such an extension is refused with the rates that
differ: train N epochs from the start instead.

A checkpoint written before Ctrl-C or a crash is never half-written (temporary file + rename). A
checkpoint is refused if it is corrupt or if it belongs to another run (other dataset, rule, seed,
spec or options): resuming it would not give the run the user asked for.
"""
from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np

from ..chip.config import ChipConfig
from ..errors import AnpError, CheckpointError, FileFormatError
from .fileio import attr_value, check_keys, h5_reader, h5_writer, read_array, verify_h5_checksum
from ..chip.spec import ChipSpec

FORMAT = "anp-emu-checkpoint"
VERSION = 2        # 2: root attribute sha256, the content checksum verified before anything is used
_ATTRS = {"format", "version", "epochs_done", "fingerprint", "config", "settings", "options", "history", "sha256"}
_SCALARS = ("theta_hid", "theta_out", "w_aux_hid", "w_aux_out", "scale_hid", "scale_out")


def dataset_fingerprint(ds) -> str:
    """Short identity of a dataset (size, T, n_in, labels, events) stored in checkpoints."""
    import hashlib

    h = hashlib.sha256()
    h.update(np.array([len(ds), ds.T, ds.n_in], dtype=np.int64).tobytes())
    h.update(np.asarray(ds.labels, dtype=np.int64).tobytes())
    for name in ("sample_ptr", "step", "line"):
        if hasattr(ds, name):
            h.update(np.ascontiguousarray(getattr(ds, name)).tobytes())
    return h.hexdigest()[:16]


def save_checkpoint(path, trainer) -> None:
    cfg = trainer.config
    with h5_writer(path, FORMAT, VERSION, checksum=True) as f:
        for layer, name in enumerate(("w_hid", "w_out")):
            f.create_dataset(name, data=trainer.chip.weights(layer))
        f.attrs["epochs_done"] = np.int64(trainer.epochs_done)
        f.attrs["fingerprint"] = dataset_fingerprint(trainer.train)
        f.attrs["config"] = json.dumps({"spec": cfg.spec.to_dict(), **{k: getattr(cfg, k) for k in _SCALARS}})
        f.attrs["settings"] = json.dumps(trainer.settings.to_dict())
        f.attrs["options"] = json.dumps(asdict(trainer.options))
        f.attrs["history"] = json.dumps([asdict(h) for h in trainer.history])


def load_checkpoint_into(path, trainer) -> None:
    """Restore ``trainer`` (built with the run's config, data, settings and options) from ``path``."""
    try:
        with h5_reader(path, FORMAT, (VERSION,)) as f:
            check_keys(f.attrs, _ATTRS, _ATTRS, "", path)
            verify_h5_checksum(f, path)
            check_keys(f, {"w_hid", "w_out"}, {"w_hid", "w_out"}, "", path)
            meta = {k: _json(f, k, path) for k in ("config", "settings", "options", "history")}
            _check_history(meta["history"], path, trainer.epoch_log_type)
            epochs_done = attr_value(f, "epochs_done", path, "int", lo=0)
            fingerprint = attr_value(f, "fingerprint", path, "str")
            kind = "i" if trainer.options.precision == "int" else "f"
            spec = trainer.config.spec
            w = [read_array(f, "w_hid", path, kind=kind, shape=(spec.n_hid, spec.n_in)),
                 read_array(f, "w_out", path, kind=kind, shape=(spec.n_out, spec.n_hid))]
    except CheckpointError:
        raise
    except FileFormatError as e:
        raise CheckpointError(e.path, e.problem) from None
    except AnpError as e:
        raise CheckpointError(path, str(e)) from None
    want = {"config": {"spec": spec.to_dict(), **{k: getattr(trainer.config, k) for k in _SCALARS}},
            "settings": trainer.settings.to_dict(), "options": asdict(trainer.options)}
    # the epoch count may grow (an extension, checked below); everything else must match
    meta_options = dict(meta["options"])
    meta_options["epochs"] = trainer.options.epochs
    # the operating point only prices the logs (re-priced at the trainer's on restore); the init's
    # options are absent from checkpoints written before TrainOptions held them (the config's
    # thresholds and aux weights, compared below, are what they made)
    current = asdict(trainer.options)
    meta_options["operating_point"] = current["operating_point"]
    for k in ("target_hidden", "aux_frac"):
        meta_options.setdefault(k, current[k])
    # a checkpoint written before stbp_emulation existed counted STBP "event-input"; other rules ignore it
    meta_settings = meta["settings"]
    if isinstance(meta_settings, dict) and "stbp_emulation" not in meta_settings:
        meta_settings = {**meta_settings, "stbp_emulation": "event-input" if meta_settings.get("rule") == "stbp"
                         else trainer.settings.stbp_emulation}
    meta = {**meta, "options": meta_options, "settings": meta_settings}
    for key, value in want.items():
        if meta[key] != json.loads(json.dumps(value)):
            diff = _first_difference(meta[key], json.loads(json.dumps(value)))
            raise CheckpointError(path, f"belongs to another run: {key}.{diff}")
    if epochs_done > trainer.options.epochs:
        raise CheckpointError(path, f"has {epochs_done} epochs done; --epochs {trainer.options.epochs} would "
                                    f"shorten the run (give --epochs {epochs_done} or more)")
    base_lr = trainer.settings.effective_lr
    for row in meta["history"]:
        e = int(row.get("epoch", 0)) - 1
        want_lr = trainer.options.lr_at(base_lr, e)
        if row.get("lr") != want_lr:
            raise CheckpointError(
                path, f"cannot extend to {trainer.options.epochs} epochs bit-identically: epoch {e + 1} ran at lr "
                      f"{row.get('lr')!r}, a {trainer.options.epochs}-epoch {trainer.options.schedule} schedule gives "
                      f"it {want_lr!r} (a cosine schedule depends on the epoch count; train "
                      f"{trainer.options.epochs} epochs from the start, or use --schedule constant for runs you "
                      f"may extend)")
    if fingerprint != dataset_fingerprint(trainer.train):
        raise CheckpointError(path, "belongs to another run: the training dataset differs")
    if not (0 <= epochs_done <= trainer.options.epochs) or len(meta["history"]) != epochs_done:
        raise CheckpointError(path, f"epochs_done {epochs_done} does not match its history "
                                    f"({len(meta['history'])} rows) or the run's {trainer.options.epochs} epochs")
    if kind == "i":
        # validates the weight range of the layer widths (a corrupt file cannot wrap silently)
        try:
            ChipConfig(ChipSpec(**spec.to_dict()), w[0], w[1], trainer.config.theta_hid, trainer.config.theta_out,
                       trainer.config.w_aux_hid, trainer.config.w_aux_out)
        except AnpError as e:
            raise CheckpointError(path, str(e)) from None
    elif not all(np.all(np.isfinite(a)) for a in w):
        raise CheckpointError(path, "weights contain NaN/inf")
    trainer.restore(w, meta["history"], epochs_done)


def _json(f, key, path):
    text = attr_value(f, key, path, "str")
    try:
        value = json.loads(text)
    except ValueError as e:
        raise CheckpointError(path, f"attribute {key}: not valid JSON ({e})") from None
    want = list if key == "history" else dict
    if not isinstance(value, want) or (want is list and not all(isinstance(r, dict) for r in value)):
        raise CheckpointError(path, f"attribute {key}: expected a JSON {'list of objects' if want is list else 'object'}; "
                                    f"got {type(value).__name__}")
    return value


# a field of earlier versions' epoch logs, and the fields that replace it (priced again from the
# epoch's counters on restore: ``Trainer.restore``)
LEGACY_HISTORY_FIELDS = {"energy_nj_per_sample": ("learning_nj", "inference_nj", "total_nj")}


def _check_history(rows: list, path, log_type) -> None:
    """Each row of the ``history`` attribute: the fields of an epoch's log (``log_type``, the
    trainer's ``EpochLog``), the integers integers and the figures numbers, epoch i+1 in row i."""
    from dataclasses import MISSING, fields

    known = {f.name: f for f in fields(log_type)}
    for i, row in enumerate(rows):
        where = f"attribute history[{i}]"
        unknown = sorted(set(row) - set(known) - set(LEGACY_HISTORY_FIELDS))
        if unknown:
            raise CheckpointError(path, f"{where}.{unknown[0]}: unknown field; limit one of {sorted(known)}")
        replaced = {n for old, new in LEGACY_HISTORY_FIELDS.items() if old in row for n in new}
        for name, fld in known.items():
            if name not in row:
                if fld.default is MISSING and name not in replaced:
                    raise CheckpointError(path, f"{where}.{name}: required field missing")
                continue
            v = row[name]
            if name == "counts":
                ok = v is None or isinstance(v, list)
                want = "a list or null"
            elif fld.type in ("int", int):
                ok = isinstance(v, int) and not isinstance(v, bool) and v >= 0
                want = "an integer >= 0"
            else:
                ok = isinstance(v, (int, float)) and not isinstance(v, bool)
                want = "a number"
            if not ok:
                raise CheckpointError(path, f"{where}.{name}: expected {want}; got {v!r}"[:200])
        if row["epoch"] != i + 1:
            raise CheckpointError(path, f"{where}.epoch: epochs must be 1, 2, ... in order; limit {i + 1}; "
                                        f"got {row['epoch']}")


def _first_difference(a, b) -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return f"{k}: checkpoint has {a.get(k)!r}, this run {b.get(k)!r}"
    return f"checkpoint has {a!r}, this run {b!r}"
