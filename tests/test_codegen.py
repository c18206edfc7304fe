"""The vector-width choice of anp_emu.runtime.codegen: when it applies, what it asks numba for, and that
the anp command really compiles with it (numba fixes its code generation with the first kernel
created, so the order of imports decides)."""
import os
import subprocess
import sys

import numba
import pytest
from llvmlite import binding as llvm

from anp_emu.runtime import codegen


class FakeFeatures(dict):
    def flatten(self):
        return ",".join(("+" if on else "-") + name for name, on in self.items())


@pytest.fixture
def clean(monkeypatch):
    monkeypatch.delenv("NUMBA_CPU_NAME", raising=False)
    monkeypatch.delenv("NUMBA_CPU_FEATURES", raising=False)
    monkeypatch.setattr(numba.config, "CPU_FEATURES", None)
    monkeypatch.setattr(numba.config, "ENABLE_AVX", True)
    monkeypatch.setattr(codegen, "code_generation_fixed", lambda: False)   # the suite has kernels already
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
    lambda m: m.setattr(codegen, "code_generation_fixed", lambda: True),
], ids=["no-avx512", "user-features", "user-cpu-name", "already-set", "avx-disabled", "skylake-family",
        "too-late"])
def test_the_users_choice_and_older_cpus_are_left_alone(clean, setup):
    clean.setattr(codegen.llvm, "get_host_cpu_name", lambda: "sapphirerapids")
    clean.setattr(codegen.llvm, "get_host_cpu_features", lambda: FakeFeatures(avx512f=True))
    setup(clean)
    before = numba.config.CPU_FEATURES
    assert not codegen.use_full_vector_width()
    assert numba.config.CPU_FEATURES == before


def _fresh_python(code, cwd):
    """stdout words of ``code`` run by a new interpreter on the installed package (``cwd``: a
    folder outside the source tree, whose layout differs from the installed one)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                          cwd=cwd).stdout.split()


def test_importing_the_package_creates_no_kernel(tmp_path):
    out = _fresh_python("import anp_emu, anp_emu.runtime.codegen, anp_emu.errors, anp_emu.chip.spec\n"
                        "print(anp_emu.runtime.codegen.code_generation_fixed())\n"
                        "from anp_emu import SpikeInput\n"
                        "print(anp_emu.runtime.codegen.code_generation_fixed(), SpikeInput.__name__)", tmp_path)
    assert out == ["False", "True", "SpikeInput"]


def test_the_anp_command_compiles_at_full_width_where_it_applies(tmp_path):
    """What numba's code generator was created with, in a process that imported the command."""
    features = llvm.get_host_cpu_features()
    if not features.get("avx512f", False) or llvm.get_host_cpu_name() in codegen.SLOW_512_BIT_CPUS:
        pytest.skip("full vector width does not apply on this CPU")
    out = _fresh_python("import anp_emu.cli.main\n"          # what the anp entry point imports
                        "from numba.core.registry import cpu_target\n"
                        "print(cpu_target.target_context.codegen()._tm_features.split(',')[-1])", tmp_path)
    assert out == [codegen.NO_256_BIT_PREFERENCE]


def test_the_python_api_and_the_command_share_one_code_generation(tmp_path):
    """One on-disk cache for both: a library session compiles with the command's CPU features,
    and ANP_VECTOR_WIDTH=llvm (read by both) keeps numba's default instead."""
    code = ("import numba, anp_emu{}\nfrom anp_emu.chip.kernels import forward\n"
            "print(repr(numba.config.CPU_FEATURES).replace(' ', ''))")
    api = _fresh_python(code.format(""), tmp_path)
    cli = _fresh_python(code.format(", anp_emu.cli.main"), tmp_path)
    assert api == cli
    env_code = "import os; os.environ['ANP_VECTOR_WIDTH'] = 'llvm'\n" + code.format("")
    assert _fresh_python(env_code, tmp_path) == ["None"]
    assert _fresh_python("import os; os.environ['ANP_VECTOR_WIDTH'] = 'llvm'\n" + code.format(", anp_emu.cli.main"),
                         tmp_path) == ["None"]
