"""Latest-wins scheduling: one model generation at a time, newest request per document first.

Each request gets a :class:`threading.Event`. A newer request for the same document sets the
older one's event, which stops its generation at the next token (the engine checks it in
llama-cpp-python's ``stopping_criteria``) or skips it if it has not started.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from codesaga.errors import Superseded

T = TypeVar("T")


MODEL_THREAD_NICENESS = 5
"""How much lower the model thread's CPU priority is than the server's (Linux nice values).
llama.cpp's worker threads are started from the model thread and inherit it, so the event
loop, which answers keystrokes, preempts decoding instead of waiting for a time slice."""


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


class Scheduler:
    """Runs blocking model work on a single worker thread (llama.cpp is not re-entrant)."""

    def __init__(self) -> None:
        self._worker = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="codesaga-model", initializer=_lower_priority
        )
        self._latest: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.before_run: list[Callable[[threading.Event], None]] = []
        """Called on the event loop with the cancel event of each piece of work before it is
        queued (the completer stops its background lookahead there, so chat and code actions
        do not wait behind it)."""

    def begin(self, key: str) -> threading.Event:
        """A fresh cancel event for ``key`` (a document URI); sets the previous one for it."""
        event = threading.Event()
        with self._lock:
            previous = self._latest.get(key)
            self._latest[key] = event
        if previous is not None:
            previous.set()
        return event

    def finish(self, key: str, event: threading.Event) -> None:
        """Forget ``event`` if it is still the latest for ``key``."""
        with self._lock:
            if self._latest.get(key) is event:
                del self._latest[key]

    async def run(self, cancel: threading.Event, work: Callable[[], T]) -> T:
        """Run ``work`` on the model thread unless ``cancel`` is set first.

        If the awaiting task is cancelled (``$/cancelRequest``), ``cancel`` is set so the running
        generation stops within one token. Raises Superseded when skipped.
        """

        def guarded() -> T:
            if cancel.is_set():
                raise Superseded()
            return work()

        for hook in self.before_run:
            hook(cancel)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._worker, guarded)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel.set()
            raise

    def shutdown(self) -> None:
        """Stop accepting work; running work is left to finish."""
        with self._lock:
            for event in self._latest.values():
                event.set()
        self._worker.shutdown(wait=False, cancel_futures=True)
