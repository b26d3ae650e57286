"""How much of the CPU other processes use: busy time of all CPUs from ``/proc/stat`` less this
process's own CPU time (``os.times()``, all its threads and reaped children), per second of
wall time. Linux only; elsewhere :func:`sample` returns None and callers assume a quiet
machine."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_STAT = Path("/proc/stat")


@dataclass(frozen=True)
class CpuSample:
    """One reading: ``at`` (monotonic seconds), ``busy`` (CPU seconds all CPUs have spent
    busy since boot) and ``own`` (CPU seconds this process has used)."""

    at: float
    busy: float
    own: float


def sample() -> CpuSample | None:
    """A reading now; None where ``/proc/stat`` cannot be read."""
    try:
        fields = _STAT.read_text(encoding="ascii").splitlines()[0].split()[1:]
        ticks = [int(f) for f in fields]
        tick = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    busy = (sum(ticks[:8]) - idle) / tick  # user..steal; guest time is counted in user
    own = os.times()
    return CpuSample(
        time.monotonic(), busy, own.user + own.system + own.children_user + own.children_system
    )


def others_busy_cores(start: CpuSample | None, end: CpuSample | None) -> float | None:
    """Cores' worth of CPU other processes used between two readings (0.0 to the number of
    CPUs; 1.5 means one and a half cores busy on average); None without both readings or
    when no time passed."""
    if start is None or end is None or end.at <= start.at:
        return None
    other = (end.busy - start.busy) - (end.own - start.own)
    return max(0.0, other / (end.at - start.at))
