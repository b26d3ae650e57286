"""The server's usage recorder: rows queued on the event loop, written in batches on a
background thread, so that recording never slows a keystroke's answer.

A row is written within ``batch_seconds`` of being recorded, or at once when ``batch_rows``
are waiting, and on :meth:`UsageRecorder.flush` / :meth:`UsageRecorder.close`. Nothing here
raises into a request: a fault of the file (unwritable directory, corrupt or locked database,
full disk) is logged once and recording turns off for the rest of the process.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from codesaga.errors import Superseded

from .store import UsageRow, UsageStore

log = logging.getLogger(__name__)

BATCH_ROWS = 64
"""Rows waiting that wake the writer at once."""
BATCH_SECONDS = 2.0
"""Longest wait, in seconds, before queued rows are written."""
PRUNE_SECONDS = 3600.0
"""Seconds between deletions of rows older than the retention (also done at open)."""

_Op = tuple[str, object]
_current: ContextVar[UsageRow | None] = ContextVar("codesaga_usage_row", default=None)


class UsageRecorder:
    """Queues usage rows and writes them to the usage file on a daemon thread.

    Off until :meth:`configure` gives it a path and a retention of at least one day. Methods
    other than :meth:`flush` and :meth:`close` only append to a queue (safe from any thread,
    never blocking on the file).
    """

    def __init__(
        self,
        *,
        batch_rows: int = BATCH_ROWS,
        batch_seconds: float = BATCH_SECONDS,
        prune_seconds: float = PRUNE_SECONDS,
    ) -> None:
        self.batch_rows = batch_rows
        self.batch_seconds = batch_seconds
        self.prune_seconds = prune_seconds
        self.path: Path | None = None
        self.retention_days = 0
        self.failed: str | None = None
        """Why recording turned off after a fault (None: no fault)."""
        self._queue: deque[_Op] = deque()
        self._lock = threading.Lock()  # one writer at a time: the thread or a flush
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._store: UsageStore | None = None
        self._pruned_at = 0.0

    @property
    def enabled(self) -> bool:
        """Whether rows are recorded now."""
        return self.path is not None and self.retention_days > 0 and self.failed is None

    def configure(self, path: Path | None, retention_days: int) -> None:
        """Record into the file at ``path``, keeping ``retention_days`` days of rows (0 or
        ``path`` None: record nothing). A new path takes effect at the next write, and is
        tried even if the previous one failed."""
        self.retention_days = retention_days
        if path != self.path:
            with self._lock:
                self._close_store()
                self.path, self.failed = path, None

    @staticmethod
    def new_id() -> str:
        """A fresh request id (random hex, unrelated to the request's content)."""
        return uuid.uuid4().hex

    def record(self, row: UsageRow) -> None:
        """Queue a finished request's row."""
        self._put(("row", row))

    def accept(self, request_id: str, chars: int) -> None:
        """Queue an acceptance: the user has taken ``chars`` characters (code points) of
        request ``request_id``'s answer so far (see :meth:`UsageStore.accept`)."""
        self._put(("accept", (request_id, chars)))

    def displayed(self, request_id: str) -> None:
        """Queue the client's word that request ``request_id``'s suggestion is on screen."""
        self._put(("displayed", request_id))

    def dismissed(self, request_id: str) -> None:
        """Queue the client's word that the user let request ``request_id``'s suggestion go
        with none of it taken."""
        self._put(("dismissed", request_id))

    def add_tokens(self, request_id: str, prompt: int, generated: int) -> None:
        """Queue token counts known after the request's row was recorded (a generation that
        went on past its answer)."""
        self._put(("tokens", (request_id, prompt, generated)))

    def _put(self, op: _Op) -> None:
        if not self.enabled:
            return
        self._queue.append(op)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="codesaga-usage", daemon=True)
            self._thread.start()
            atexit.register(self.close)  # an editor that exits without shutdown loses nothing
        if len(self._queue) >= self.batch_rows:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.batch_seconds)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Write what is queued now, in the calling thread (it waits for the file: keep it
        off the event loop). Never raises: a fault turns recording off."""
        with self._lock:
            if not self._queue or not self.enabled:
                self._queue.clear()
                return
            ops: list[_Op] = []
            while self._queue:
                ops.append(self._queue.popleft())
            try:
                store = self._open()
                store.insert(r for kind, r in ops if kind == "row" and isinstance(r, UsageRow))
                store.add_tokens(t for kind, t in ops if kind == "tokens")  # type: ignore[misc]
                store.accept(a for kind, a in ops if kind == "accept")  # type: ignore[misc]
                for column in ("displayed", "dismissed"):
                    store.mark(column, (str(i) for kind, i in ops if kind == column))
                if time.monotonic() - self._pruned_at > self.prune_seconds:
                    self._prune(store)
            except (sqlite3.Error, OSError) as exc:
                self._fault(exc)

    def _open(self) -> UsageStore:
        if self._store is None:
            assert self.path is not None
            self._store = UsageStore(self.path)
            self._prune(self._store)
        return self._store

    def _prune(self, store: UsageStore) -> None:
        removed = store.prune(self.retention_days)
        self._pruned_at = time.monotonic()
        if removed:
            log.info("usage: %d rows older than %d days removed", removed, self.retention_days)

    def _fault(self, exc: BaseException) -> None:
        self.failed = f"{type(exc).__name__}: {exc}"
        self._queue.clear()
        log.warning("usage recording turned off: %s (%s)", self.failed, self.path)
        self._close_store()

    def _close_store(self) -> None:
        if self._store is not None:
            with contextlib.suppress(sqlite3.Error):
                self._store.close()
            self._store = None

    def close(self) -> None:
        """Stop the thread, write what is queued and close the file."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.flush()
        with self._lock:
            self._close_store()


def add_tokens(prompt: int, generated: int) -> None:
    """Add a generation's token counts to the row :func:`measuring` keeps for the current
    request (asyncio task); nothing outside one. Called by :meth:`codesaga.stats.Stats.tokens`,
    which chat and code actions call for each generation they run."""
    row = _current.get()
    if row is not None:
        row.prompt_tokens += prompt
        row.generated_tokens += generated


@contextlib.contextmanager
def measuring(
    recorder: UsageRecorder,
    feature: str,
    language: str,
    model: str,
    *,
    context_tokens: bool = True,
) -> Iterator[UsageRow]:
    """Measure one request run inside the ``with`` block and record its row at the end.

    The row starts with source ``model`` and shown True; the block may change them (e.g.
    ``none`` and False when nothing came out; with ``context_tokens`` a block that ran no
    generation gets them too). Token counts come from :func:`add_tokens`
    during the block (``context_tokens`` False: not so; the caller adds them, as completion
    does once the generation has ended, see :meth:`UsageRecorder.add_tokens`). A block
    cancelled (Superseded, CancelledError) records ``cancelled``, one that raises anything
    else ``error``; the exception goes on.
    """
    row = UsageRow(recorder.new_id(), time.time(), feature, language, model, "model", shown=True)
    token = _current.set(row if context_tokens else None)
    started = time.perf_counter()
    try:
        yield row
    except (Superseded, asyncio.CancelledError):
        row.source, row.shown = "cancelled", False
        raise
    except Exception:
        row.source, row.shown = "error", False
        raise
    else:
        if context_tokens and row.source == "model" and not row.prompt_tokens:
            row.source, row.shown = "none", False  # refused or empty before the model ran
    finally:
        _current.reset(token)
        row.latency_ms = round((time.perf_counter() - started) * 1000.0, 2)
        recorder.record(row)
