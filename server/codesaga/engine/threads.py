"""How many CPU threads llama.cpp gets: one count for generation, one for prompt batches.

llama.cpp's CPU backend splits every operation of a decode across its threads and waits at
a barrier after each (several hundred per token). When another process takes a core, the
thread descheduled there holds all the others at the next barrier for a time slice, so a
decode with as many threads as cores goes from milliseconds to seconds per token on a busy
machine (measured on 2 cores: 20-37 s for one completion beside two busy servers, 0.5 s
with one thread). On a quiet machine, though, every core helps: one thread instead of two
made the pause latency of ``codesaga bench --contended`` about 4x longer.

So the in-process engine fits its counts to the machine before each decode
(:class:`ThreadFitter`): as many threads as the cores other processes leave free, judged from
what they used since the last decode and what is running now. ``threads`` /
``batchThreads`` set to a number fix the count instead. A process that cannot adapt
(``codesaga engine``, llama-cpp-python's own server) gets static counts with a core to
spare (:func:`thread_counts`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from codesaga.engine.cpu_load import CpuSample, others_busy_cores, sample

MAX_AUTO_THREADS = 8
"""Most threads an automatic count gives: beyond it decoding a small model gains little."""
FIT_INTERVAL = 0.25
"""Shortest stretch, in seconds, the CPU use of other processes is measured over; decodes
closer together keep the counts of the one before."""
RECHECK_SECONDS = 0.002
"""How long after the first reading the running threads are counted again."""
FREE_MARGIN = 0.3
"""Cores other processes may keep busy on average and still leave a core counted as free
(an editor, a terminal, the server's own event loop)."""


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one; else all
    CPUs), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ThreadCounts:
    """Threads for generation and for prompt batches (as settings: 0 = automatic)."""

    generation: int
    batch: int


def thread_counts(
    threads: int = 0, batch_threads: int = 0, cores: int | None = None
) -> ThreadCounts:
    """Static counts for a process that cannot adapt them, for the ``threads`` and
    ``batchThreads`` settings (0: automatic) on ``cores`` usable cores (None:
    :func:`usable_cores`). Automatic: generation half the cores, batch all cores but one
    (each at least 1, at most :data:`MAX_AUTO_THREADS`, batch never below generation)."""
    cores = usable_cores() if cores is None else max(1, cores)
    generation = threads or max(1, min(MAX_AUTO_THREADS, cores // 2))
    batch = batch_threads or max(generation, min(MAX_AUTO_THREADS, cores - 1))
    return ThreadCounts(generation, batch)


class ThreadFitter:
    """Thread counts for the in-process engine, fitted before each decode.

    A count set to 0 (automatic) is the number of cores other processes leave free (a core
    counts as free with up to :data:`FREE_MARGIN` of it in use), at least 1 and at most
    ``min(cores, MAX_AUTO_THREADS)``; a count set to a number stays that number. Other
    processes are taken to need the lesser of the cores they kept busy on average since the
    previous fit and the threads of other processes running now: the average alone
    would count a program that was busy a moment ago and is done (two processes taking
    turns), the moment alone a program that happens to run at the instant of reading.
    Without ``/proc/stat`` the machine is taken as quiet. The machine is measured for set
    counts too (:attr:`contended`).
    ``clock`` is :func:`codesaga.engine.cpu_load.sample` (a test may give its own).
    """

    def __init__(
        self,
        threads: int = 0,
        batch_threads: int = 0,
        *,
        cores: int | None = None,
        clock: Callable[[], CpuSample | None] = sample,
    ) -> None:
        self.cores = usable_cores() if cores is None else max(1, cores)
        most = min(self.cores, MAX_AUTO_THREADS)
        self.limit = ThreadCounts(threads or most, batch_threads or most)
        """The counts on a quiet machine (the set ones where set)."""
        self.adaptive = (threads == 0, batch_threads == 0)
        self.current = self.limit
        """The counts of the latest fit."""
        self.others_busy: float | None = None
        """Cores' worth of CPU other processes used over the latest fit's stretch."""
        self._clock = clock
        self._since = clock()

    @property
    def contended(self) -> bool:
        """Whether, at the latest fit, other processes kept more than :data:`FREE_MARGIN` of
        a core busy (a core fewer counts as free): this process then has less of the machine
        than on a quiet one, whatever its counts."""
        return self.others_busy is not None and self.others_busy > FREE_MARGIN

    def fit(self) -> ThreadCounts:
        """The counts for the decode about to run (see the class's text)."""
        now = self._clock()
        if now is not None and self._since is not None and now.at - self._since.at < FIT_INTERVAL:
            return self.current
        busy = others_busy_cores(self._since, now)
        self._since = now
        if busy is None:
            return self.current
        if now is not None and now.others_running is not None:
            busy = min(busy, self._still_running(now.others_running, busy))
        self.others_busy = busy
        free = max(1, math.floor(self.cores - busy + FREE_MARGIN))
        generation, batch = self.limit.generation, self.limit.batch
        self.current = ThreadCounts(
            min(generation, free) if self.adaptive[0] else generation,
            min(batch, free) if self.adaptive[1] else batch,
        )
        return self.current

    def _still_running(self, running: int, busy: float) -> int:
        """Other processes' threads running now and again :data:`RECHECK_SECONDS` later (the
        lesser count): the client that has just sent the request a decode answers is still
        running when it arrives, and is done a moment later. Only looked at again when it
        could matter (others busy on average)."""
        if running and busy > FREE_MARGIN:
            time.sleep(RECHECK_SECONDS)
            again = self._clock()
            if again is not None and again.others_running is not None:
                return min(running, again.others_running)
        return running

    def describe(self) -> str:
        """E.g. ``"up to 2 for generation and 2 for prompt batches, fewer while other
        processes keep cores busy (2 cores)"``."""
        counts = f"{self.limit.generation} for generation and {self.limit.batch} for prompt batches"
        if any(self.adaptive):
            counts = f"up to {counts}, fewer while other processes keep cores busy"
        return f"{counts} ({self.cores} cores)"
