"""`amp: auto` picks bf16 only where the hardware runs it natively; checked with faked CPU flags.

The real machine's flags are never needed: every CPU kind is simulated by passing
the flags and torch's capability string, or by a fake /proc/cpuinfo file.
"""

from pathlib import Path

import pytest
import torch

from dth import hardware
from dth.errors import DthError
from dth.hardware import cpu_flags, native_bf16, resolve_amp
from dth.params import load_params
from dth.train import TrainConfig, resolve_precision

CPU = torch.device("cpu")
AVX2_ONLY = frozenset("fpu sse sse2 avx avx2 fma".split())
AVX512 = AVX2_ONLY | {"avx512f", "avx512bw", "avx512vl", "avx512_vnni"}
AVX512_BF16 = AVX512 | {"avx512_bf16"}
SAPPHIRE_RAPIDS = AVX512_BF16 | {"amx_tile", "amx_bf16", "amx_int8"}


@pytest.mark.parametrize("flags, capability, expected", [
    (AVX2_ONLY, "AVX2", "none"),             # e.g. AMD Zen 2/3, older Intel: bf16 emulated, far slower
    (AVX512, "AVX512", "none"),              # AVX-512 without the bf16 instructions (Skylake-SP)
    (AVX512_BF16, "AVX512", "bf16"),         # Cooper Lake, Zen 4
    (SAPPHIRE_RAPIDS, "AVX512", "bf16"),     # AMX
    (AVX512_BF16, "AVX2", "none"),           # torch held at AVX2 (ATEN_CPU_CAPABILITY=avx2)
    (None, "AVX2", "none"),                  # flags unreadable (not Linux)
])
def test_auto_picks_bf16_only_with_native_bf16(flags, capability, expected):
    amp, why = resolve_amp("auto", CPU, flags=flags, capability=capability)
    assert amp == expected
    assert why.startswith("auto: ")
    assert native_bf16(flags, capability)[0] == (expected == "bf16")


def test_explicit_choices_are_kept_and_bad_ones_named():
    assert resolve_amp("bf16", CPU, flags=AVX2_ONLY, capability="AVX2")[0] == "bf16"
    assert resolve_amp("none", CPU, flags=SAPPHIRE_RAPIDS, capability="AVX512")[0] == "none"
    with pytest.raises(DthError, match="'fp16'.*auto, bf16, none"):
        resolve_amp("fp16", CPU)


def test_cpu_flags_read_from_a_cpuinfo_file(tmp_path):
    intel = tmp_path / "cpuinfo-intel"
    intel.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16\n"
                     "\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(intel) == {"fpu", "avx2", "avx512f", "avx512_bf16", "amx_bf16"}  # the first processor's
    arm = tmp_path / "cpuinfo-arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert "bf16" in cpu_flags(arm) and not native_bf16(cpu_flags(arm), "DEFAULT")[0]
    assert cpu_flags(tmp_path / "missing") is None
    empty = tmp_path / "cpuinfo-empty"
    empty.write_text("processor\t: 0\n")
    assert cpu_flags(empty) is None


def test_this_machine_is_decided_by_its_own_flags(monkeypatch):
    """resolve_amp without arguments reads this machine's flags and capability: faked here."""
    monkeypatch.setattr(hardware, "cpu_flags", lambda: AVX512_BF16)
    monkeypatch.setattr(hardware, "cpu_capability", lambda: "AVX512")
    assert resolve_amp("auto", CPU)[0] == "bf16"
    assert hardware.describe(CPU)["bf16_native"] is True
    monkeypatch.setattr(hardware, "cpu_flags", lambda: AVX2_ONLY)
    monkeypatch.setattr(hardware, "cpu_capability", lambda: "AVX2")
    assert resolve_amp("auto", CPU)[0] == "none"
    assert hardware.describe(CPU) | {"torch": None, "threads": None} == {
        "device": "cpu", "torch": None, "threads": None, "cpu_capability": "AVX2", "bf16_native": False}


def test_resolve_precision_logs_the_choice(monkeypatch, capsys):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: AVX2_ONLY)
    monkeypatch.setattr(hardware, "cpu_capability", lambda: "AVX2")
    student = load_params(Path(__file__).parents[1] / "params.yaml")["student"]
    cfg = resolve_precision(TrainConfig.from_section(student, amp="auto"), CPU, "dsh-12-s0")
    assert cfg.amp == "none"
    err = capsys.readouterr().err
    assert "dsh-12-s0: training in fp32 on cpu" in err and "without native bf16" in err
