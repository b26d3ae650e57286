"""How many CPU threads llama.cpp gets: one count for generation, one for prompt batches.

llama.cpp's CPU backend splits every operation of a decode across its threads and waits at
a barrier after each (several hundred per token). When another process takes a core, the
thread descheduled there holds all the others at the next barrier for a time slice, so a
decode with as many threads as cores goes from milliseconds to seconds per token on a busy
machine (measured on 2 cores: 20-37 s for one completion beside two busy servers, 0.5 s
with one thread). Fewer threads than cores leave a core for the rest of the machine.

- **generation** (``threads`` setting): one token at a time, bound by memory bandwidth
  more than by arithmetic; half the cores gets most of the speed.
- **batch** (``batchThreads`` setting): prompt evaluation (prefill), bound by arithmetic,
  in short bursts; all cores but one.

The defaults are what ``codesaga bench --contended`` measured (see the README's "Fast on a
busy machine").
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MAX_AUTO_THREADS = 8
"""Most threads an automatic count gives: beyond it decoding a small model gains little."""


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one; else all
    CPUs), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ThreadCounts:
    """Threads for generation and for prompt batches (each at least 1)."""

    generation: int
    batch: int

    def describe(self) -> str:
        """E.g. ``"1 for generation, 1 for prompt batches (2 cores)"``."""
        return (
            f"{self.generation} for generation, {self.batch} for prompt batches "
            f"({usable_cores()} cores)"
        )


def thread_counts(
    threads: int = 0, batch_threads: int = 0, cores: int | None = None
) -> ThreadCounts:
    """The counts for the ``threads`` and ``batchThreads`` settings (0: automatic) on a
    machine with ``cores`` usable cores (None: :func:`usable_cores`).

    Automatic: generation half the cores, batch all cores but one (each at least 1, at
    most :data:`MAX_AUTO_THREADS`); a batch count is never below the generation count.
    """
    cores = usable_cores() if cores is None else max(1, cores)
    generation = threads or max(1, min(MAX_AUTO_THREADS, cores // 2))
    batch = batch_threads or max(generation, min(MAX_AUTO_THREADS, cores - 1))
    return ThreadCounts(generation, batch)
