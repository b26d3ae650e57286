"""One model thread, with priorities: a completion request first, then chat and code actions,
then background work (speculative lookahead, prefill).

llama.cpp is not re-entrant, so all model work runs on a single worker thread, one job at a
time. Each job has a cancel event (the engine checks it before every token and between prompt
batches) and a :class:`Priority`. Queued jobs run in priority order (oldest first within one
priority). Background work yields through the scheduler itself: when a job is submitted, every
queued or running background job of the same or a lower priority is cancelled (it stops at its
next token, or is skipped if it has not started), so a keystroke, a chat turn or a code action
never waits behind a lookahead, and a newer prefill replaces an older one.

A job's priority may change while it waits or runs (a generation that a request waits on is
foreground; once answered, what it still generates is speculative lookahead): it is given as a
callable, read on the event loop whenever another job is submitted or the next one is picked.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeVar

from codesaga.errors import Superseded

T = TypeVar("T")


MODEL_THREAD_NICENESS = 5
"""How much lower the model thread's CPU priority is than the server's (Linux nice values).
llama.cpp's worker threads are started from the model thread and inherit it, so the event
loop, which answers keystrokes, preempts decoding instead of waiting for a time slice."""


class Priority(IntEnum):
    """Who goes first on the model thread (lower runs first)."""

    FOREGROUND = 0
    """A completion request is waiting on it."""
    INTERACTIVE = 1
    """Chat and code actions: the user asked, but is not typing meanwhile."""
    LOOKAHEAD = 2
    """Speculative lookahead: a generation nobody waits on now (background)."""
    PREFILL = 3
    """A newly opened document's prompt evaluated into the KV cache (background)."""

    @property
    def background(self) -> bool:
        """Whether work of this priority yields to any work submitted after it."""
        return self >= Priority.LOOKAHEAD


PriorityOf = Priority | Callable[[], Priority]


def _lower_priority() -> None:
    """Initializer of the model thread: lower its priority (Linux only, where nice values are
    per thread; elsewhere it would lower the whole process)."""
    if sys.platform != "linux":
        return
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, 0, current + MODEL_THREAD_NICENESS)
    except OSError:  # not allowed here: run at the normal priority
        pass


@dataclass(eq=False)
class _Job:
    work: Callable[[], Any]
    cancel: threading.Event
    priority_of: Callable[[], Priority]
    result: asyncio.Future[Any]
    number: int = field(default=0)

    def priority(self) -> Priority:
        return self.priority_of()


class Scheduler:
    """Runs blocking model work on a single worker thread, in :class:`Priority` order.

    Methods are called on the event loop; only the jobs' ``work`` runs on the model thread.
    """

    def __init__(self) -> None:
        self._worker = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="codesaga-model", initializer=_lower_priority
        )
        self._queued: list[_Job] = []
        self._running: _Job | None = None
        self._numbers = itertools.count()
        self._closed = False
        self.on_idle: Callable[[], object] | None = None
        """Called on the event loop each time the model thread runs out of work."""

    async def run(
        self,
        cancel: threading.Event,
        work: Callable[[], T],
        *,
        priority: PriorityOf = Priority.INTERACTIVE,
    ) -> T:
        """Run ``work`` on the model thread unless ``cancel`` is set before it starts.

        Submitting it first cancels the background jobs it outranks (see the module
        docstring). If the awaiting task is cancelled (``$/cancelRequest``), ``cancel`` is set
        so that a running generation stops within one token. Raises Superseded when skipped,
        and whatever ``work`` raises.
        """
        loop = asyncio.get_running_loop()
        priority_of = priority if callable(priority) else _constant(priority)
        job = _Job(work, cancel, priority_of, loop.create_future(), next(self._numbers))
        job.result.add_done_callback(_retrieve)
        if self._closed:
            cancel.set()
        self._yield_to(job)
        self._queued.append(job)
        self._start_next(loop)
        try:
            return await asyncio.shield(job.result)
        except asyncio.CancelledError:
            cancel.set()
            raise

    def _yield_to(self, new: _Job) -> None:
        """Cancel the queued or running background jobs that ``new`` outranks or equals."""
        rank = new.priority()
        for job in [*self._queued, *([self._running] if self._running else [])]:
            current = job.priority()
            if current.background and current >= rank:
                job.cancel.set()

    def _start_next(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the most urgent queued job when the model thread is free."""
        while self._running is None and self._queued:
            job = min(self._queued, key=lambda j: (j.priority(), j.number))
            self._queued.remove(job)
            if job.cancel.is_set():
                job.result.set_exception(Superseded())
                continue
            self._running = job
            running = loop.run_in_executor(self._worker, _guarded, job)
            running.add_done_callback(functools.partial(self._finished, loop, job))

    def _finished(
        self, loop: asyncio.AbstractEventLoop, job: _Job, done: asyncio.Future[Any]
    ) -> None:
        self._running = None
        if not self._queued and self.on_idle is not None:
            self.on_idle()
        if not job.result.done():
            if done.cancelled():
                job.result.set_exception(Superseded())
            elif done.exception() is not None:
                job.result.set_exception(done.exception())  # type: ignore[arg-type]
            else:
                job.result.set_result(done.result())
        self._start_next(loop)

    def shutdown(self) -> None:
        """Cancel queued and running work and stop accepting more; running work is left to
        finish (it stops at its next token)."""
        self._closed = True
        for job in [*self._queued, *([self._running] if self._running else [])]:
            job.cancel.set()
        for job in self._queued:
            if not job.result.done():
                job.result.set_exception(Superseded())
        self._queued.clear()
        self._worker.shutdown(wait=False, cancel_futures=True)


def _constant(priority: Priority) -> Callable[[], Priority]:
    return lambda: priority


def _guarded(job: _Job) -> Any:
    """On the model thread: run the job unless it was cancelled while queued."""
    if job.cancel.is_set():
        raise Superseded()
    return job.work()


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a job's exception as retrieved: its awaiting task may have been cancelled."""
    with contextlib.suppress(asyncio.CancelledError):
        future.exception()


class LatestWins:
    """One cancel event per key (a chat session, a document): beginning new work for a key
    sets the event of the work begun before it, which then stops or is skipped."""

    def __init__(self) -> None:
        self._latest: dict[str, threading.Event] = {}

    def begin(self, key: str) -> threading.Event:
        """A fresh cancel event for ``key``; the previous one for it is set."""
        event = threading.Event()
        previous = self._latest.get(key)
        self._latest[key] = event
        if previous is not None:
            previous.set()
        return event

    def finish(self, key: str, event: threading.Event) -> None:
        """Forget ``event`` if it is still the latest for ``key``."""
        if self._latest.get(key) is event:
            del self._latest[key]
