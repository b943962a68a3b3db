"""What this CPU computes natively, detected once: the one meaning of "native bfloat16" in baltui.

Why one place: training and evaluation both choose bfloat16 by what the CPU multiplies in hardware, and
two tests of "native" that disagree would make a run's precision depend on which one a code path asked.
There are two levels, read from the kernel's CPU flags (/proc/cpuinfo), which list only what the kernel
enabled (a hypervisor may hide instructions the chip has, and then they cannot be used either):

- bfloat16 matmuls (`avx512_bf16` or `amx_bf16`): the CPU has bfloat16 dot-product instructions, so
  oneDNN runs bfloat16 matmuls and convolutions natively; this is what mixed bfloat16 training needs.
- AMX (`amx_bf16`): tile matrix units. The evaluation twin (`checked_eval`) pays a second float32 pass
  on its close calls, which only AMX's throughput was measured to win back; it is gated on this alone.

Elsewhere (neither flag, or no /proc/cpuinfo: macOS, Windows) TensorFlow emulates bfloat16 by converting
to and from float32, which is correct but slower than float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU flags that decide bfloat16 (provenance records them with `to_dict`)."""

    avx512_bf16: bool = False
    amx_bf16: bool = False

    @property
    def bf16_matmul(self) -> bool:
        """bfloat16 dot products in hardware: AVX512-BF16 instructions or AMX tiles."""
        return self.avx512_bf16 or self.amx_bf16

    def to_dict(self) -> dict[str, Any]:
        return {"avx512_bf16": self.avx512_bf16, "amx_bf16": self.amx_bf16}


def parse_cpuinfo(text: str) -> CpuFeatures:
    """The features from /proc/cpuinfo's text: the first "flags" line (every core lists the same)."""
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return CpuFeatures(avx512_bf16="avx512_bf16" in flags, amx_bf16="amx_bf16" in flags)
    return CpuFeatures()


@lru_cache(maxsize=1)
def cpu_features() -> CpuFeatures:
    """This machine's features, read once; none where the flags cannot be read (the safe answer: float32)."""
    try:
        return parse_cpuinfo(CPUINFO.read_text())
    except OSError:
        return CpuFeatures()


def bf16_matmul_native() -> bool:
    """Whether bfloat16 matmuls and convolutions run in hardware here (what bfloat16 training needs)."""
    return cpu_features().bf16_matmul


def amx_native() -> bool:
    """Whether the CPU has AMX bfloat16 tiles (what the bfloat16 evaluation twin needs to pay off)."""
    return cpu_features().amx_bf16
