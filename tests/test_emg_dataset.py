"""EventDataset: round trip of the events file, strict loading, splits, statistics."""
import h5py
import numpy as np
import pytest

from anp_emu.emg.dataset import EventDataset
from anp_emu.errors import ConfigKeyError, FileFormatError, InputError
from anp_emu.chip.events import SpikeInput

NAMES = ["pinky", "elle", "yo", "index", "thumb"]


@pytest.fixture
def ds():
    rng = np.random.default_rng(5)
    n, T, n_in = 30, 6, 40
    spikes = [SpikeInput.from_dense(rng.random((T, n_in)) < 0.1 * (1 + i % 3)) for i in range(n)]
    spikes[4] = SpikeInput.from_dense(np.zeros((T, n_in)))            # an empty sample
    labels = np.arange(n) % 5
    subject = 1 + np.arange(n) // 10
    return EventDataset.from_spikes(spikes, T, n_in, labels, subject, np.ones(n), np.arange(n) // 5, NAMES,
                                    "chip", {"level_step": 32.0, "nested": {"a": [1, 2]}}, ["a note"])


def test_sample_dense_and_layout(ds):
    assert len(ds) == 30 and ds.step.dtype == np.int16 and ds.line.dtype == np.int16
    assert ds.sample_ptr.dtype == np.int64 and ds.labels.dtype == np.int64
    s = ds.sample(7)
    assert s.step_ptr.dtype == np.int64 and s.lines.dtype == np.int32 and s.T == 6
    assert np.array_equal(SpikeInput.from_dense(ds.dense(7)).lines, s.lines)
    assert ds.sample(4).n_events == 0 and ds.sample(-1).T == 6
    with pytest.raises(InputError, match="sample index: out of range; limit 0..29; got 30"):
        ds.sample(30)


def test_round_trip(ds, tmp_path):
    p = ds.save(tmp_path / "ev.h5")
    d2 = EventDataset.load(p)
    for k in ("labels", "subject", "session", "trial", "sample_ptr", "step", "line"):
        assert np.array_equal(getattr(ds, k), getattr(d2, k)) and getattr(d2, k).dtype == getattr(ds, k).dtype
    assert (d2.T, d2.n_in, d2.encoder, d2.class_names, d2.notes) == (6, 40, "chip", NAMES, ["a note"])
    assert d2.encoder_params == {"level_step": 32.0, "nested": {"a": [1, 2]}}
    for i in range(len(ds)):
        assert np.array_equal(ds.dense(i), d2.dense(i))
    with h5py.File(p) as f:
        assert f.attrs["format"] == "anp-emu-events" and int(f.attrs["version"]) == 3 and len(f.attrs["sha256"]) == 64
        assert f["step"].dtype == np.int16 and f["labels"].dtype == np.int64


def test_subset_and_splits(ds):
    sub = ds.subset([5, 2, 2])
    assert sub.labels.tolist() == [0, 2, 2] and np.array_equal(sub.dense(0), ds.dense(5))
    sub._validate()
    tr, te = ds.split_random(seed=3)
    assert len(tr) == 20 and len(te) == 10
    assert np.bincount(tr.labels).tolist() == [4] * 5                   # stratified: round(2/3 * 6) per class
    tr2, te2 = ds.split_random(seed=3)
    assert np.array_equal(tr.trial, tr2.trial) and np.array_equal(te.labels, te2.labels)
    assert any(not np.array_equal(ds.split_random(seed=s)[0].trial, tr.trial) for s in range(4, 8))
    both = np.sort(np.concatenate([tr.trial * 100 + tr.labels, te.trial * 100 + te.labels]))
    assert np.array_equal(both, np.sort(ds.trial * 100 + ds.labels))
    tr, te = ds.split_leave_subjects_out([3])
    assert set(te.subject) == {3} and set(tr.subject) == {1, 2} and len(te) == 10
    with pytest.raises(InputError, match=r"test_subjects: subject not in the dataset; limit \[1, 2, 3\]; got 9"):
        ds.split_leave_subjects_out([9])
    with pytest.raises(InputError, match="leaves no subject for training"):
        ds.split_leave_subjects_out([1, 2, 3])


def test_stats(ds):
    st = ds.stats()
    assert list(st.index) == NAMES + ["all"]
    assert st.loc["all", "n_samples"] == 30
    eps = np.diff(ds.sample_ptr)
    assert st.loc["all", "events_mean"] == pytest.approx(eps.mean())
    assert st.loc["all", "density"] == pytest.approx(eps.mean() / (6 * 40))
    assert st.loc["thumb", "events_min"] == 0                            # sample 4 (label 4) is empty
    assert st.loc["pinky", "events_min"] > 0
    assert ds.step_profile().shape == (6,)


def test_constructor_rejects_bad_events():
    ok = dict(T=3, n_in=4, labels=[0], subject=[1], session=[1], trial=[0], sample_ptr=[0, 2],
              class_names=NAMES, encoder="chip")
    EventDataset(step=[0, 1], line=[3, 0], **ok)
    with pytest.raises(InputError, match="dataset.line: value out of range; limit 0..3; got 4"):
        EventDataset(step=[0, 1], line=[4, 0], **ok)
    with pytest.raises(InputError, match="duplicate event"):
        EventDataset(step=[1, 1], line=[2, 2], **ok)
    with pytest.raises(InputError, match=r"not sorted by \(step, line\)"):
        EventDataset(step=[1, 0], line=[0, 0], **ok)
    with pytest.raises(InputError, match="dataset.labels: class index out of range; limit 0..4; got 5"):
        EventDataset(step=[0, 1], line=[0, 0], **{**ok, "labels": [5]})


# ------------------------------------------------------------------------------------ malformed files

def _edit(path, fn):
    """Change the file and restamp its content checksum, so that the reader's own check of the
    changed field is what refuses it."""
    from anp_emu.files.fileio import CHECKSUM_ATTR, h5_content_sha256

    with h5py.File(path, "a") as f:
        fn(f)
        if CHECKSUM_ATTR in f.attrs:
            f.attrs[CHECKSUM_ATTR] = h5_content_sha256(f)


def test_truncated_file(ds, tmp_path):
    p = ds.save(tmp_path / "ev.h5")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match="truncated or corrupt"):
        EventDataset.load(p)


def test_unknown_key(ds, tmp_path):
    p = ds.save(tmp_path / "ev.h5")
    _edit(p, lambda f: f.create_dataset("weights", data=np.zeros(3)))
    with pytest.raises(ConfigKeyError, match="weights: unknown key"):
        EventDataset.load(p)
    p = ds.save(tmp_path / "ev2.h5")
    _edit(p, lambda f: f.attrs.__setitem__("colour", "red"))
    with pytest.raises(ConfigKeyError, match="colour: unknown key"):
        EventDataset.load(p)


def test_wrong_dtype(ds, tmp_path):
    p = ds.save(tmp_path / "ev.h5")

    def f_(f):
        del f["labels"]
        f.create_dataset("labels", data=ds.labels.astype(np.float64))
    _edit(p, f_)
    with pytest.raises(FileFormatError, match="labels: dtype must be integer, got float64"):
        EventDataset.load(p)


def test_out_of_range_and_shape(ds, tmp_path):
    p = ds.save(tmp_path / "ev.h5")

    def f_(f):
        st = f["step"][()]
        st[0] = 6
        del f["step"]
        f.create_dataset("step", data=st)
    _edit(p, f_)
    with pytest.raises(FileFormatError, match="step: value out of range; limit 0..5; got 6"):
        EventDataset.load(p)
    p = ds.save(tmp_path / "ev2.h5")

    def g_(f):
        del f["sample_ptr"]
        f.create_dataset("sample_ptr", data=np.zeros(5, np.int64))
    _edit(p, g_)
    with pytest.raises(FileFormatError, match=r"sample_ptr: expected shape \(31,\), got \(5,\)"):
        EventDataset.load(p)
    p = ds.save(tmp_path / "ev3.h5")
    _edit(p, lambda f: f.attrs.__setitem__("T", 0))
    with pytest.raises(FileFormatError, match="@T: out of range; limit 1..32767; got 0"):
        EventDataset.load(p)


def test_wrong_format_and_missing(ds, tmp_path):
    p = ds.save(tmp_path / "ev.h5")
    _edit(p, lambda f: f.attrs.__setitem__("format", "anp-emu-config"))
    with pytest.raises(FileFormatError, match="attribute format: expected 'anp-emu-events'"):
        EventDataset.load(p)
    with pytest.raises(FileFormatError, match="file not found"):
        EventDataset.load(tmp_path / "none.h5")
    p = ds.save(tmp_path / "ev2.h5")
    _edit(p, lambda f: f.__delitem__("trial"))
    with pytest.raises(FileFormatError, match="trial: required field missing"):
        EventDataset.load(p)


def test_save_is_atomic(ds, tmp_path):
    p = ds.save(tmp_path / "ev.h5")
    before = p.read_bytes()
    bad = ds.subset([0, 1])
    bad.encoder_params = {"x": object()}                                # not JSON-able: save fails
    with pytest.raises(InputError, match="encoder_params: must be JSON-serialisable"):
        bad.save(p)
    ok = ds.subset([0])
    ok.encoder_params = {"n": np.int64(3), "v": np.arange(2)}           # numpy values are converted
    assert EventDataset.load(ok.save(tmp_path / "np.h5")).encoder_params == {"n": 3, "v": [0, 1]}
    assert p.read_bytes() == before
    assert sorted(q.name for q in tmp_path.iterdir()) == ["ev.h5", "np.h5"]


def test_checksum_catches_a_flipped_label(ds, tmp_path):
    """A changed label byte used to change accuracy unnoticed: the content checksum refuses it."""
    p = ds.save(tmp_path / "ev.h5")
    with h5py.File(p, "a") as f:
        lab = f["labels"][()]
        lab[3] = (lab[3] + 1) % len(NAMES)
        f["labels"][...] = lab
    with pytest.raises(FileFormatError, match="content checksum mismatch"):
        EventDataset.load(p)
    with h5py.File(p, "a") as f:
        del f.attrs["sha256"]
    with pytest.raises(FileFormatError, match="sha256: required field missing"):
        EventDataset.load(p)


def test_version_2_file_without_checksum_still_loads(ds, tmp_path):
    p = ds.save(tmp_path / "ev.h5")
    with h5py.File(p, "a") as f:
        del f.attrs["sha256"]
        f.attrs["version"] = np.int64(2)
    d2 = EventDataset.load(p)
    assert np.array_equal(d2.labels, ds.labels) and np.array_equal(d2.line, ds.line)
