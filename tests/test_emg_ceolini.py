"""Ceolini readers: segmentation on hand-made annotations, sampling-rate overrides, malformed files,
the pickle release and the restricted unpickler."""
import os
import pickle

import numpy as np
import pytest

from anp_emu.emg.ceolini import (CLASS_NAMES, load_fs_overrides, load_pickle, load_raw_folder, read_ann,
                                 resample, restricted_load, segment)
from anp_emu.errors import ConfigKeyError, FileFormatError, InputError, UnsafePickleError

NAMES = list(CLASS_NAMES) + ["none"]


def codes(s):
    """'..00.1' -> int codes: '.' none, digit = class."""
    return np.array([-1 if ch == "." else int(ch) for ch in s], dtype=np.int8)


def labels_of(c):
    return np.array([NAMES[k] for k in c])


def write_session(folder, subject, session, ann, emg=None, fs=200.0, seed=0):
    """Write one raw session; ``ann`` are per-sample strings as stored in the release."""
    ann = np.asarray(ann)
    if emg is None:
        rng = np.random.default_rng(seed)
        emg = rng.integers(-20, 21, size=(len(ann), 8)).astype(np.int32)
    stem = f"subject{subject:02d}_session{session:02d}"
    np.save(folder / f"{stem}_emg.npy", emg)
    np.save(folder / f"{stem}_ann.npy", ann)
    return folder / f"{stem}_emg.npy", folder / f"{stem}_ann.npy"


def protocol_ann(fs, reps=5, gesture_s=2.0, rest_s=1.0, drop=None):
    """Release-style annotation (one-sample lead) for 5 classes x reps at ``fs`` Hz."""
    g, r = int(round(gesture_s * fs)), int(round(rest_s * fs))
    seq = ["none"] * r
    for c in range(5):
        for k in range(reps):
            if drop == (c, k):
                seq += ["none"] * (g + r)
            else:
                seq += [CLASS_NAMES[c]] * g + ["none"] * r
    return np.array(seq[1:] + ["none"])


# ------------------------------------------------------------------------------------ segmentation

def test_segment_applies_one_sample_shift_and_cuts_at_edges():
    s = segment(codes("..000.11.2"))
    # after the shift (prepend none, drop last) the labels are "...000.11." -> trials [3,6) and [7,9)
    assert [(g.cls, g.rep, g.start, g.stop) for g in s] == [(0, 0, 3, 6), (1, 0, 7, 9)]


def test_segment_edge_at_first_sample():
    # gesture labelled from the very first sample: after the shift it starts at sample 1
    s = segment(codes("333..3"))
    assert [(g.cls, g.rep, g.start, g.stop) for g in s] == [(3, 0, 1, 4)]   # ".333.." ; the last 3 is shifted out


def test_segment_edge_at_last_sample():
    # run reaching the last sample is closed there; a label only on the last sample is shifted out
    s = segment(codes("...444"))
    assert [(g.cls, g.start, g.stop) for g in s] == [(4, 4, 6)]
    assert segment(codes(".....2")) == []


def test_segment_counts_repetitions_and_orders_in_time():
    s = segment(codes(".11.0.1.00."))
    assert [(g.cls, g.rep, g.start, g.stop) for g in s] == [(1, 0, 2, 4), (0, 0, 5, 6), (1, 1, 7, 8), (0, 1, 9, 11)]


def test_read_ann_codes_and_unknown_label(tmp_path):
    np.save(tmp_path / "a.npy", np.array(["none", "pinky", "thumb"]))
    assert read_ann(tmp_path / "a.npy").tolist() == [-1, 0, 4]
    np.save(tmp_path / "b.npy", np.array(["none", "fist"]))
    with pytest.raises(FileFormatError, match=r"ann\[1\]: unknown label.*'fist'"):
        read_ann(tmp_path / "b.npy")


def test_ann_as_object_array_is_read_without_unsafe_pickle(tmp_path):
    np.save(tmp_path / "a.npy", np.array(["none", "yo", "yo"], dtype=object), allow_pickle=True)
    assert read_ann(tmp_path / "a.npy").tolist() == [-1, 2, 2]
    np.save(tmp_path / "b.npy", np.array(["none", 3], dtype=object), allow_pickle=True)
    with pytest.raises(FileFormatError, match=r"ann\[1\]: labels must be strings"):
        read_ann(tmp_path / "b.npy")


def test_full_session_gives_25_trials_with_metadata(tmp_path):
    write_session(tmp_path, 3, 2, protocol_ann(200.0))
    ts = load_raw_folder(tmp_path)
    assert len(ts) == 25 and ts.report.ok
    assert set(ts.subject) == {3} and set(ts.session) == {2}
    assert np.bincount(ts.labels).tolist() == [5] * 5
    assert sorted(ts.trial[ts.labels == 2].tolist()) == [0, 1, 2, 3, 4]
    assert {len(x) for x in ts.trials} == {400}


def test_any_number_of_trials_per_class_is_regular(tmp_path):
    # issue 18: 4 trials of one class, or 1 trial per class (a recording with one repetition per
    # gesture), is read without a warning; only a class missing from a session is reported
    write_session(tmp_path, 1, 1, protocol_ann(200.0))
    write_session(tmp_path, 1, 2, protocol_ann(200.0, drop=(3, 2)))
    write_session(tmp_path, 1, 3, protocol_ann(200.0, reps=1))
    ts = load_raw_folder(tmp_path)
    assert len(ts) == 25 + 24 + 5 and ts.report.warnings == []
    assert ts.report.sessions.set_index("session").loc[2, "index"] == 4
    assert len(load_raw_folder(tmp_path, on_irregular="drop")) == 54


def test_missing_class_is_reported_and_kept(tmp_path):
    write_session(tmp_path, 1, 1, protocol_ann(200.0))
    ann = protocol_ann(200.0)
    ann[ann == "index"] = "none"                          # no index trial at all in session 2
    write_session(tmp_path, 1, 2, ann)
    ts = load_raw_folder(tmp_path)
    assert len(ts) == 45
    assert ts.report.warnings == ["subject 1 session 2: class index missing (no trial)"]
    assert not ts.report.sessions.set_index("session").loc[2, "ok"]
    assert len(load_raw_folder(tmp_path, on_irregular="drop")) == 25
    with pytest.raises(FileFormatError, match="class index missing"):
        load_raw_folder(tmp_path, on_irregular="raise")


def test_label_gap_is_reported(tmp_path):
    ann = protocol_ann(200.0)
    first = int(np.flatnonzero(ann == "yo")[0])
    ann[first + 100:first + 105] = "none"                 # 25 ms hole inside a yo trial
    write_session(tmp_path, 1, 1, ann)
    w = load_raw_folder(tmp_path).report.warnings
    assert sum("label gap of 5 samples inside a yo trial" in x for x in w) == 1


def test_low_fs_session_gives_shorter_trials_resampled_with_override(tmp_path):
    write_session(tmp_path, 1, 1, protocol_ann(100.0))
    raw = load_raw_folder(tmp_path)                       # taken for 200 Hz: 1 s trials
    assert {len(x) for x in raw.trials} == {200}
    assert any("median trial lasts 1.00 s" in w for w in raw.report.warnings)
    fixed = load_raw_folder(tmp_path, fs_overrides={(1, 1): 100.0})
    assert {len(x) for x in fixed.trials} == {400} and fixed.report.ok


def test_resample_is_linear_interpolation():
    x = np.repeat(np.arange(4.0)[:, None], 8, axis=1)     # 0,1,2,3 at 100 Hz
    y = resample(x, 100.0, 200.0)
    assert y[:, 0].tolist() == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3]   # times past the last sample hold it
    assert np.array_equal(resample(x, 200.0, 200.0), x)
    # channels are interpolated independently (one flat np.interp inside)
    z = np.random.default_rng(0).normal(size=(37, 8))
    y = resample(z, 167.0, 200.0)
    t_out = np.arange(44) / 200
    assert y.shape == (44, 8)
    for c in range(8):
        assert np.allclose(y[:, c], np.interp(t_out, np.arange(37) / 167, z[:, c]))


def test_fs_override_files(tmp_path):
    (tmp_path / "fs.csv").write_text("subject,session,fs\n1,1,180\n2,3,167.5\n")
    assert load_fs_overrides(tmp_path / "fs.csv") == {(1, 1): 180.0, (2, 3): 167.5}
    (tmp_path / "fs.json").write_text('{"subject01_session02": 190}')
    assert load_fs_overrides(tmp_path / "fs.json") == {(1, 2): 190.0}
    (tmp_path / "l.json").write_text('[{"subject": 4, "session": 1, "fs": 197}]')
    assert load_fs_overrides(tmp_path / "l.json") == {(4, 1): 197.0}
    (tmp_path / "bad.csv").write_text("subject,session,rate\n1,1,180\n")
    with pytest.raises(ConfigKeyError, match="rate: unknown column"):
        load_fs_overrides(tmp_path / "bad.csv")
    (tmp_path / "neg.csv").write_text("subject,session,fs\n1,1,-5\n")
    with pytest.raises(FileFormatError, match="row 1 fs: sampling rate out of range"):
        load_fs_overrides(tmp_path / "neg.csv")


# ------------------------------------------------------------------------------------ malformed raw files

def test_length_mismatch(tmp_path):
    ann = protocol_ann(200.0)
    write_session(tmp_path, 1, 1, ann, emg=np.zeros((len(ann) - 3, 8), np.int32))
    with pytest.raises(FileFormatError, match=r"ann: length does not match subject01_session01_emg.npy"):
        load_raw_folder(tmp_path)


def test_wrong_channel_count(tmp_path):
    ann = protocol_ann(200.0)
    write_session(tmp_path, 1, 1, ann, emg=np.zeros((len(ann), 7), np.int32))
    with pytest.raises(FileFormatError, match=r"emg: expected shape \(T, 8\).*got shape \(\d+, 7\)"):
        load_raw_folder(tmp_path)


def test_non_string_labels(tmp_path):
    write_session(tmp_path, 1, 1, np.zeros(50, dtype=np.int64))
    with pytest.raises(FileFormatError, match="ann: labels must be strings"):
        load_raw_folder(tmp_path)


def test_value_out_of_range_and_nan(tmp_path):
    ann = protocol_ann(200.0)
    emg = np.zeros((len(ann), 8), np.int32)
    emg[7, 3] = 200
    write_session(tmp_path, 1, 1, ann, emg=emg)
    with pytest.raises(FileFormatError, match=r"emg\[7, 3\]: value out of range; limit -128..127; got 200"):
        load_raw_folder(tmp_path)
    emg = emg.astype(np.float32)
    emg[7, 3] = np.nan
    write_session(tmp_path, 1, 1, ann, emg=emg)
    with pytest.raises(FileFormatError, match=r"emg\[7, 3\]: must be finite"):
        load_raw_folder(tmp_path)


def test_emg_float_storage_accepted(tmp_path):
    ann = protocol_ann(200.0)
    write_session(tmp_path, 1, 1, ann, emg=np.ones((len(ann), 8), np.float32))
    assert len(load_raw_folder(tmp_path)) == 25


def test_emg_with_objects_is_refused_without_unpickling(tmp_path):
    ann = protocol_ann(200.0)
    write_session(tmp_path, 1, 1, ann)
    np.save(tmp_path / "subject01_session01_emg.npy", np.empty((len(ann), 8), dtype=object), allow_pickle=True)
    with pytest.raises(FileFormatError, match="holds Python objects"):
        load_raw_folder(tmp_path)


def test_missing_partner_file(tmp_path):
    emg, ann = write_session(tmp_path, 2, 1, protocol_ann(200.0))
    ann.unlink()
    with pytest.raises(FileFormatError, match="subject02_session01_ann.npy: missing partner file"):
        load_raw_folder(tmp_path)


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(FileFormatError, match="no subjectXX_sessionYY"):
        load_raw_folder(tmp_path)
    with pytest.raises(FileFormatError, match="raw folder not found"):
        load_raw_folder(tmp_path / "nope")


# ------------------------------------------------------------------------------------ pickle release

def _pkl_dict(y):
    emg = [np.array([[0, 3, 7], [0.01, 0.5, 1.99], [1, 0, 1]]),
           np.array([[1.0], [0.3], [0.0]]),
           np.zeros((3, 0))]
    return {"y": y, "sub": np.array([1, 1, 2]), "ses": np.array([[1, 2, 1]]), "emg": emg,
            "dvs": [np.zeros((4, 2))] * 3}


@pytest.mark.parametrize("y", [np.array([0, 4, 2]), np.eye(5)[[0, 4, 2]], np.array([[0], [4], [2]]),
                               np.array([[0, 4, 2]]), [0, 4, 2]])
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_release_label_layouts(tmp_path, y, protocol):
    p = tmp_path / "relax21_cropped_dvs_emg_spikes.pkl"
    p.write_bytes(pickle.dumps(_pkl_dict(y), protocol=protocol))
    pe = load_pickle(p)
    assert pe.labels.tolist() == [0, 4, 2]
    assert pe.subject.tolist() == [1, 1, 2] and pe.session.tolist() == [1, 2, 1]
    assert pe.channel[0].tolist() == [0, 3, 7] and pe.polarity[0].tolist() == [1, 0, 1]
    assert len(pe.time[2]) == 0


def test_pickle_with_object_array_of_events(tmp_path):
    d = _pkl_dict(np.array([0, 1, 2]))
    arr = np.empty(3, dtype=object)
    for i, e in enumerate(d["emg"]):
        arr[i] = e
    d["emg"] = arr
    p = tmp_path / "x.pkl"
    p.write_bytes(pickle.dumps(d, protocol=4))
    assert load_pickle(p).labels.tolist() == [0, 1, 2]


def test_pickle_bad_fields(tmp_path):
    p = tmp_path / "x.pkl"
    d = _pkl_dict(np.array([0, 1, 7]))
    p.write_bytes(pickle.dumps(d))
    with pytest.raises(FileFormatError, match="y: class out of range; limit 0..4; got 7"):
        load_pickle(p)
    d = _pkl_dict(np.array([0, 1, 2]))
    d["emg"][0] = np.array([[0, 9], [0.1, 0.2], [1, 1]])
    p.write_bytes(pickle.dumps(d))
    with pytest.raises(FileFormatError, match=r"emg\[0\]\[0\] \(channel\): channel out of range; limit 0..7; got 9"):
        load_pickle(p)
    d = _pkl_dict(np.array([0, 1, 2]))
    del d["ses"]
    p.write_bytes(pickle.dumps(d))
    with pytest.raises(FileFormatError, match="ses: required key missing"):
        load_pickle(p)
    p.write_bytes(pickle.dumps(_pkl_dict(np.array([0, 1, 2])))[:40])
    with pytest.raises(FileFormatError, match="truncated or corrupt"):
        load_pickle(p)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_object_pickle_and_never_runs_it(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"y": [0], "sub": [1], "ses": [1], "emg": [_Evil(marker)]}))
    with pytest.raises(UnsafePickleError, match=r"refused global (posix|nt|os)\.system"):
        load_pickle(p)
    assert not marker.exists()
    # a plain user class and builtins.eval are refused too
    p.write_bytes(pickle.dumps(InputError("a", "b")))
    with pytest.raises(UnsafePickleError, match="refused global anp_emu.errors.InputError"):
        restricted_load(p)
    p.write_bytes(b"cbuiltins\neval\n(S'1+1'\ntR.")
    with pytest.raises(UnsafePickleError, match="refused global builtins.eval"):
        restricted_load(p)
