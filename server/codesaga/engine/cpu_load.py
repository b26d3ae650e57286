"""How much of the CPU other processes use: busy time of all CPUs from ``/proc/stat`` less this
process's own CPU time (``os.times()``, all its threads and reaped children), per second of
wall time; and how many threads are running or waiting for a CPU at this moment
(``procs_running`` of ``/proc/stat``, see proc(5)). Linux only; elsewhere :func:`sample`
returns None and callers assume a quiet machine."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_STAT = Path("/proc/stat")


@dataclass(frozen=True)
class CpuSample:
    """One reading: ``at`` (monotonic seconds), ``busy`` (CPU seconds all CPUs have spent
    busy since boot), ``own`` (CPU seconds this process has used) and ``others_running``
    (threads of other processes running or waiting for a CPU now; None when not known)."""

    at: float
    busy: float
    own: float
    others_running: int | None = None


def sample() -> CpuSample | None:
    """A reading now; None where ``/proc/stat`` cannot be read."""
    try:
        lines = _STAT.read_text(encoding="ascii").splitlines()
        ticks = [int(f) for f in lines[0].split()[1:]]
        tick = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    running = next(
        (int(line.split()[1]) for line in lines if line.startswith("procs_running ")), None
    )
    if running is not None:
        running = max(0, running - _own_running())
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    busy = (sum(ticks[:8]) - idle) / tick  # user..steal; guest time is counted in user
    own = os.times()
    mine = own.user + own.system + own.children_user + own.children_system
    return CpuSample(time.monotonic(), busy, mine, running)


def _own_running() -> int:
    """Threads of this process running or waiting for a CPU now (state R in
    ``/proc/self/task/*/stat``), at least 1: the one reading."""
    count = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for task in tasks:
        try:
            stat = Path(f"/proc/self/task/{task}/stat").read_bytes()
        except OSError:
            continue  # the thread ended meanwhile
        # "pid (comm) S ...": the name may hold spaces and parentheses; the state follows
        # the last ")"
        if stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"R":
            count += 1
    return max(1, count)


def others_busy_cores(start: CpuSample | None, end: CpuSample | None) -> float | None:
    """Cores' worth of CPU other processes used between two readings (0.0 to the number of
    CPUs; 1.5 means one and a half cores busy on average); None without both readings or
    when no time passed."""
    if start is None or end is None or end.at <= start.at:
        return None
    other = (end.busy - start.busy) - (end.own - start.own)
    return max(0.0, other / (end.at - start.at))
