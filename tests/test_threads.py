"""Thread count on a shared machine: the cores other processes leave free, unless fixed by the user."""
import numba
import pytest

from anp_emu.runtime import threads


@pytest.fixture(autouse=True)
def restore():
    before = numba.get_num_threads()
    yield
    threads._auto = False
    numba.set_num_threads(before)


@pytest.mark.parametrize("env, on", [({}, True), ({"ANP_THREADING": "numba"}, False),
                                     ({"NUMBA_NUM_THREADS": "1"}, False), ({"ANP_THREADING": "auto"}, True)])
def test_adapting_is_on_unless_the_user_fixed_the_threads(monkeypatch, env, on):
    for k in ("ANP_THREADING", "NUMBA_NUM_THREADS"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert threads.enable_auto() is on
    assert (threads.adapt() is not None) is on


@pytest.mark.parametrize("others, cores, want", [(0, 2, 2), (1, 2, 1), (7, 2, 1), (1, 4, 3)])
def test_threads_are_the_cores_left_free(monkeypatch, others, cores, want):
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    monkeypatch.delenv("ANP_THREADING", raising=False)
    monkeypatch.setattr(threads, "other_runnable", lambda: others)
    monkeypatch.setattr(threads, "cores_available", lambda: cores)
    threads.enable_auto()
    got = threads.adapt()
    assert got == max(1, min(want, numba.config.NUMBA_NUM_THREADS))
    assert numba.get_num_threads() == got


def test_other_runnable_reads_the_kernel():
    n = threads.other_runnable()
    assert n is None or n >= 0


def test_the_library_adapts_by_default(monkeypatch):
    """The library adapts like the anp command (same thread counts, so the same compiled kernels)."""
    import importlib

    for k in ("ANP_THREADING", "NUMBA_NUM_THREADS"):
        monkeypatch.delenv(k, raising=False)
    fresh = importlib.reload(threads)
    assert fresh._auto is True
    monkeypatch.setenv("ANP_THREADING", "numba")
    assert importlib.reload(threads)._auto is False
