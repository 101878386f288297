"""What the machine can do: the device, and the precision that `amp: auto` picks on it.

    from dth.hardware import resolve_device, resolve_amp, describe
    device = resolve_device("auto")             # cuda when present, else cpu
    amp, why = resolve_amp("auto", device)      # ("bf16", "CPU has native bf16 (avx512_bf16)") or ("none", ...)
    describe(device)                            # {"device": "cpu", "cpu_capability": "AVX2", "bf16_native": False, ...}

`amp: auto` (params.yaml, teacher and student sections) means bf16 autocast where
bf16 is fast, fp32 elsewhere:
- CUDA: bf16 when the GPU supports it (torch.cuda.is_bf16_supported()).
- CPU: bf16 only with native bf16 instructions, i.e. the CPU flags (Linux
  /proc/cpuinfo) name avx512_bf16 or amx_bf16 AND torch runs its AVX-512 kernels
  (torch.backends.cpu.get_cpu_capability() starts with "AVX512"). On an AVX2-only
  CPU, bf16 is emulated and 15-25x slower than fp32, so auto picks fp32 there.
`bf16` and `none` force one or the other. The choice is made per machine, so the
same params give the same metrics on the same machine; the stages log the choice
and its reason when they start and record it in the model's metadata.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from dth.errors import DthError
from dth.params import choices

AMP_CHOICES = choices("encode.amp")  # the same for teacher.amp and student.amp
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo names of the native bf16 instructions


def resolve_device(name: str) -> torch.device:
    """auto -> cuda when present, else cpu; cuda without a GPU is a DthError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DthError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise DthError(f"--device {name!r}: accepted: auto, cpu, cuda")
    return torch.device(name)


@functools.lru_cache(maxsize=None)
def cpu_flags(path: str | Path = "/proc/cpuinfo") -> frozenset[str] | None:
    """The CPU feature flags of the first processor in `path`, or None when unreadable
    (not Linux, or no `flags` line, e.g. on ARM where the line is called `Features`)."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return None


def cpu_capability() -> str:
    """torch's dispatch level for CPU kernels: DEFAULT, AVX2, AVX512, ... (ATEN_CPU_CAPABILITY may lower it)."""
    return torch.backends.cpu.get_cpu_capability()


def native_bf16(flags: set[str] | None, capability: str) -> tuple[bool, str]:
    """(True when bf16 runs natively on this CPU, the reason in words)."""
    if flags is None:
        return False, "CPU flags unreadable (no /proc/cpuinfo)"
    found = [f for f in NATIVE_BF16_FLAGS if f in flags]
    if not found:
        return False, f"CPU without native bf16 (no {' or '.join(NATIVE_BF16_FLAGS)}; torch capability {capability})"
    if not capability.upper().startswith("AVX512"):
        return False, f"CPU has {', '.join(found)} but torch runs {capability} kernels"
    return True, f"CPU has native bf16 ({', '.join(found)}; torch capability {capability})"


def resolve_amp(amp: str, device: torch.device, flags: set[str] | None = None,
                capability: str | None = None) -> tuple[str, str]:
    """The autocast precision for `amp` on `device`: ("bf16" | "none", why).

    `flags` and `capability` default to this machine's (cpu_flags(), cpu_capability());
    tests pass other values to check the rule on CPUs they do not have.
    """
    if amp not in AMP_CHOICES:
        raise DthError(f"amp {amp!r}: accepted: {', '.join(AMP_CHOICES)}")
    if amp != "auto":
        return amp, f"amp: {amp} in params"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", f"auto: CUDA device {torch.cuda.get_device_name(device)} supports bf16"
        return "none", f"auto: CUDA device {torch.cuda.get_device_name(device)} has no bf16"
    flags = cpu_flags() if flags is None else flags
    capability = cpu_capability() if capability is None else capability
    ok, why = native_bf16(flags, capability)
    return ("bf16" if ok else "none"), f"auto: {why}"


def describe(device: torch.device) -> dict:
    """The facts a timing needs beside it: device, torch, threads, CPU capability, native bf16."""
    flags = cpu_flags()
    ok, _ = native_bf16(flags, cpu_capability())
    info = {"device": device.type, "torch": str(torch.__version__), "threads": torch.get_num_threads(),
            "cpu_capability": cpu_capability(), "bf16_native": ok}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
