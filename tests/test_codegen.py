"""The vector-width choice of anp_emu.codegen: when it applies and what it asks numba for."""
import numba
import pytest

from anp_emu import codegen


class FakeFeatures(dict):
    def flatten(self):
        return ",".join(("+" if on else "-") + name for name, on in self.items())


@pytest.fixture
def clean(monkeypatch):
    monkeypatch.delenv("NUMBA_CPU_NAME", raising=False)
    monkeypatch.delenv("NUMBA_CPU_FEATURES", raising=False)
    monkeypatch.setattr(numba.config, "CPU_FEATURES", None)
    monkeypatch.setattr(numba.config, "ENABLE_AVX", True)
    return monkeypatch


def test_full_width_is_asked_for_on_avx512(clean):
    clean.setattr(codegen.llvm, "get_host_cpu_name", lambda: "emeraldrapids")
    clean.setattr(codegen.llvm, "get_host_cpu_features", lambda: FakeFeatures(avx2=True, avx512f=True))
    assert codegen.use_full_vector_width()
    assert numba.config.CPU_FEATURES == "+avx2,+avx512f,-prefer-256-bit"


@pytest.mark.parametrize("setup", [
    lambda m: m.setattr(codegen.llvm, "get_host_cpu_features", lambda: FakeFeatures(avx2=True, avx512f=False)),
    lambda m: m.setenv("NUMBA_CPU_FEATURES", "+avx2"),
    lambda m: m.setenv("NUMBA_CPU_NAME", "generic"),
    lambda m: m.setattr(numba.config, "CPU_FEATURES", "+sse2"),
    lambda m: m.setattr(numba.config, "ENABLE_AVX", False),
    lambda m: m.setattr(codegen.llvm, "get_host_cpu_name", lambda: "cascadelake"),
], ids=["no-avx512", "user-features", "user-cpu-name", "already-set", "avx-disabled", "skylake-family"])
def test_the_users_choice_and_older_cpus_are_left_alone(clean, setup):
    clean.setattr(codegen.llvm, "get_host_cpu_name", lambda: "sapphirerapids")
    clean.setattr(codegen.llvm, "get_host_cpu_features", lambda: FakeFeatures(avx512f=True))
    setup(clean)
    before = numba.config.CPU_FEATURES
    assert not codegen.use_full_vector_width()
    assert numba.config.CPU_FEATURES == before
