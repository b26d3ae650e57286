"""The server arm of ``codesaga bench``: a real ``codesaga serve`` typed into over LSP.

The bench is the editor here. It opens a file and waits as a person looks at it before typing
(``read_s``; the server may prefill in that time). For every key it sends an incremental
``didChange`` and then an automatic ``textDocument/inlineCompletion`` request; when the next
key comes while that request is still pending, it sends ``$/cancelRequest`` for it first
(pygls's client does not send one when a future is cancelled, so the bench does it itself).
After an ``Enter`` that opens a non-blank line it waits for the suggestion (a *pause*); a
suggestion there that matches what the person is about to type is accepted (one edit, plus
the item's command), as a person would press Tab.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from codesaga.bench.script import TypingPlan, advance, end_position, next_key
from codesaga.demo import DemoClient, client_capabilities

READY_TIMEOUT_SECONDS = 600.0
PAUSE_TIMEOUT_SECONDS = 120.0
DRAIN_TIMEOUT_SECONDS = 60.0
REPLAY_POLL_SECONDS = 0.2
REQUEST_CANCELLED = -32800
STATS_COMMAND = "codesaga.stats"


class BenchError(Exception):
    """The server could not be benchmarked (it failed to start or to load its model)."""


@dataclass
class Request:
    """One inline-completion request as the client saw it. Times are ``perf_counter`` seconds.

    ``kind``: ``key`` (sent after a keystroke), ``pause`` (after an Enter the person then
    waits on) or ``accept`` (sent after a suggestion was accepted)."""

    kind: str
    sent: float
    done: float | None = None
    outcome: str | None = None
    """``result``, ``cancelled`` (the server answered RequestCancelled) or ``error``."""
    text: str = ""
    """The first item's text ("" for no item)."""
    source: str | None = None
    """Where the server's answer came from (``model``/``cache``/``type-through``), read from
    the item's command arguments; None without an item."""
    next_key: float | None = None
    """When the next key was sent (None: no key followed)."""
    cancel_sent: bool = False

    @property
    def seconds(self) -> float | None:
        """Client-side latency (None while pending)."""
        return None if self.done is None else self.done - self.sent

    @property
    def result_seconds(self) -> float | None:
        """Client-side latency of a result (None while pending, or for an error or a
        cancellation: those are no answer)."""
        return self.seconds if self.outcome == "result" else None

    @property
    def answered_before_next_key(self) -> bool:
        """A result (not an error) arrived before the next key was sent."""
        return (
            self.outcome == "result"
            and self.done is not None
            and (self.next_key is None or self.done <= self.next_key)
        )


@dataclass(frozen=True)
class PausePoint:
    """The document at a pause: the cursor is at ``offset`` (str index) = ``position``."""

    file: str
    language_id: str
    text: str
    offset: int
    position: types.Position


@dataclass
class ServerRun:
    """What the server arm measured."""

    requests: list[Request] = field(default_factory=list)
    pauses: list[PausePoint] = field(default_factory=list)
    accepted: int = 0
    accepted_chars: int = 0
    keys_typed: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    """The server's ``codesaga.stats`` answer at the end of the run."""
    peak_rss_bytes: int | None = None
    """VmHWM of the server process read from /proc by the client (None where unavailable)."""
    ready_seconds: float = 0.0
    messages: list[str] = field(default_factory=list)
    replay_generations: int | None = None
    """How many of the last ``stats["generations"]`` records the decode replay made (None: no
    replay)."""
    replay_errors: int = 0
    """Decode-replay requests the server answered with an error, or not at all."""


def proc_peak_rss(pid: int) -> int | None:
    """VmHWM of process ``pid`` in bytes, from ``/proc/<pid>/status`` (None if unreadable)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) * 1024
    return None


class ServerArm:
    """Drives one ``codesaga serve`` through the typing plans."""

    def __init__(
        self,
        env: dict[str, str],
        interval_s: float,
        log_path: Path,
        on_key: Callable[[int], None] | None = None,
        read_s: float = 0.0,
    ) -> None:
        self.env = env
        self.interval_s = interval_s
        self.read_s = read_s
        """Seconds from opening a file to its first key."""
        self.log_path = log_path
        self.on_key = on_key or (lambda n: None)
        self.client = DemoClient("codesaga-bench", echo=False)
        self.run = ServerRun()
        self._stderr_task: asyncio.Task[None] | None = None

    async def start(self, *, model: bool = True) -> None:
        """Start the server, initialize, wait for the model load to end. Raises BenchError on
        failure; with ``model`` False a model that failed to load is no failure."""
        started = time.perf_counter()
        client = self.client
        await client.start_io(sys.executable, "-m", "codesaga", "serve", env=self.env)
        server = getattr(client, "_server", None)
        if server is not None and server.stderr is not None:
            self._stderr_task = asyncio.ensure_future(self._drain(server.stderr))
        await client.initialize_async(
            types.InitializeParams(
                capabilities=client_capabilities(), initialization_options={}, locale="en"
            )
        )
        client.initialized(types.InitializedParams())
        try:
            await asyncio.wait_for(client.ready.wait(), READY_TIMEOUT_SECONDS)
        except TimeoutError:
            raise BenchError("the server did not load its model in time") from None
        if model and client.load_failed:
            raise BenchError(f"the server could not load its model: {client.load_failed}")
        self.run.ready_seconds = time.perf_counter() - started

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        """Copy the server's stderr to the log file (an unread pipe would block the server)."""
        with self.log_path.open("ab") as log:
            while True:
                chunk = await stream.read(65536)
                if not chunk:
                    return
                log.write(chunk)

    def pid(self) -> int | None:
        """The server's process id (None before it started)."""
        server = getattr(self.client, "_server", None)
        return None if server is None else int(server.pid)

    async def type_file(self, plan: TypingPlan, uri: str) -> None:
        """Open ``plan.head``, wait :attr:`read_s`, type ``plan.typed`` with pauses, then close
        the document."""
        client = self.client
        version = 1
        text = plan.head
        cursor = end_position(text)
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=plan.language_id, version=version, text=text
                )
            )
        )
        pos = 0
        pending: Request | None = None
        pending_id: str | None = None
        next_at = time.perf_counter() + self.read_s
        while pos < len(plan.typed):
            key = next_key(plan.typed, pos)
            inserted = plan.typed[key.start : key.end]
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.perf_counter()
            if pending is not None:
                pending.next_key = now
                if pending.done is None and pending_id is not None:
                    self._cancel(pending, pending_id)
            version += 1
            self._change(uri, version, cursor, inserted)
            text += inserted
            cursor = advance(cursor, inserted)
            pos = key.end
            self.run.keys_typed += 1
            self.on_key(1)
            kind = "pause" if key.pause else "key"
            pending, pending_id, future = self._request(uri, cursor, kind)
            next_at = now + self.interval_s
            if not key.pause:
                continue
            self.run.pauses.append(PausePoint(plan.name, plan.language_id, text, len(text), cursor))
            waiter = asyncio.wrap_future(future)
            waiter.add_done_callback(_retrieve)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(waiter), PAUSE_TIMEOUT_SECONDS)
            next_at = time.perf_counter() + self.interval_s
            suggestion = pending.text
            if pending.outcome != "result" or not suggestion:
                continue
            if not plan.typed.startswith(suggestion, pos):
                continue
            # the person presses Tab: the suggestion is inserted and its command runs
            await asyncio.sleep(self.interval_s)
            pending.next_key = time.perf_counter()
            version += 1
            self._change(uri, version, cursor, suggestion)
            await self._accepted(pending)
            text += suggestion
            cursor = advance(cursor, suggestion)
            skipped = sum(1 for _ in _keys_between(plan.typed, pos, pos + len(suggestion)))
            self.on_key(skipped)
            pos += len(suggestion)
            self.run.accepted += 1
            self.run.accepted_chars += len(suggestion)
            pending, pending_id, future = self._request(uri, cursor, "accept")
            next_at = time.perf_counter() + self.interval_s
        await self._settle()
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )

    def _change(self, uri: str, version: int, at: types.Position, inserted: str) -> None:
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=at, end=at), text=inserted
                    )
                ],
            )
        )

    def _request(self, uri: str, at: types.Position, kind: str) -> tuple[Request, str, Future[Any]]:
        """Send an automatic inline-completion request; its record fills in on response."""
        msg_id = f"bench-{uuid.uuid4().hex}"
        record = Request(kind=kind, sent=time.perf_counter())
        self.run.requests.append(record)
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=at,
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
        future = self.client.protocol.send_request(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id
        )

        def done(fut: Any) -> None:
            record.done = time.perf_counter()
            if fut.cancelled():
                record.outcome = "cancelled"
                return
            exc = fut.exception()
            if exc is None:
                record.outcome = "result"
                record.text, record.source = _first_item(fut.result())
            elif isinstance(exc, JsonRpcException) and exc.code == REQUEST_CANCELLED:
                record.outcome = "cancelled"
            else:
                record.outcome = "error"

        future.add_done_callback(done)
        return record, msg_id, future

    def _cancel(self, record: Request, msg_id: str) -> None:
        """``$/cancelRequest`` for a pending request (the server answers RequestCancelled)."""
        record.cancel_sent = True
        self.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))

    async def _accepted(self, record: Request) -> None:
        """Run the accepted item's command, as an editor does."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.client.workspace_execute_command_async(
                    types.ExecuteCommandParams(
                        command="codesaga.acceptInlineCompletion",
                        arguments=[record.source or "model", len(record.text)],
                    )
                ),
                DRAIN_TIMEOUT_SECONDS,
            )

    async def _settle(self) -> None:
        """Wait (bounded) until every request has its response."""
        deadline = time.perf_counter() + DRAIN_TIMEOUT_SECONDS
        while any(r.done is None for r in self.run.requests) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)

    async def replay_pauses(self, after_each: Callable[[int], Awaitable[None]]) -> None:
        """Decode phase: ask for each pause point's suggestion again, one at a time with
        nothing else going on (each on a new document, explicitly invoked, so the server
        generates instead of answering from its cache), wait until that generation has
        ended, then await ``after_each(i)`` (the raw arm decodes the same prompt there, so
        the two decode figures are taken side by side)."""
        count = await self._generation_count()
        while count is not None:  # let the typing's last generations end first
            await asyncio.sleep(4 * REPLAY_POLL_SECONDS)
            settled = await self._generation_count()
            if settled == count:
                break
            count = settled
        if count is None:
            return
        first = count
        for i, pause in enumerate(self.run.pauses):
            uri = f"file:///codesaga-bench/decode-{i}/{pause.file}"
            self.client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id=pause.language_id, version=1, text=pause.text
                    )
                )
            )
            params = types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=pause.position,
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked
                ),
            )
            try:
                await asyncio.wait_for(
                    self.client.text_document_inline_completion_async(params),
                    PAUSE_TIMEOUT_SECONDS,
                )
                answered = True
            except Exception:  # an error or no answer: there is no generation to wait for
                self.run.replay_errors += 1
                answered = False
            # the generation goes on after the answer (lookahead): wait for its record
            deadline = time.perf_counter() + PAUSE_TIMEOUT_SECONDS
            while answered and time.perf_counter() < deadline:
                now = await self._generation_count()
                if now is None or now > count:
                    count = now if now is not None else count + 1
                    break
                await asyncio.sleep(REPLAY_POLL_SECONDS)
            self.client.text_document_did_close(
                types.DidCloseTextDocumentParams(
                    text_document=types.TextDocumentIdentifier(uri=uri)
                )
            )
            if answered:  # the raw arm decodes only what the server decoded too
                await after_each(i)
        self.run.replay_generations = count - first

    async def _generation_count(self) -> int | None:
        """Generations the server has recorded so far (None if it did not say)."""
        with contextlib.suppress(Exception):
            result = await asyncio.wait_for(
                self.client.workspace_execute_command_async(
                    types.ExecuteCommandParams(command=STATS_COMMAND, arguments=["counts"])
                ),
                DRAIN_TIMEOUT_SECONDS,
            )
            if isinstance(result, dict):
                return int(result.get("counts", {}).get("generations", 0))
        return None

    async def finish(self) -> ServerRun:
        """Read the server's stats and peak memory, then shut it down."""
        client = self.client
        with contextlib.suppress(Exception):
            result = await asyncio.wait_for(
                client.workspace_execute_command_async(
                    types.ExecuteCommandParams(command=STATS_COMMAND)
                ),
                DRAIN_TIMEOUT_SECONDS,
            )
            if isinstance(result, dict):
                self.run.stats = result
        pid = self.pid()
        self.run.peak_rss_bytes = proc_peak_rss(pid) if pid is not None else None
        self.run.messages = list(client.messages)
        await self.stop()
        return self.run

    async def stop(self) -> None:
        """Shut the server down (bounded), whatever state it is in."""
        client = self.client
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_async(None), 10.0)
            client.exit(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.stop(), 10.0)
        server = getattr(client, "_server", None)
        if server is not None and server.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                server.kill()
        if self._stderr_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._stderr_task, 5.0)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a future's exception as seen (a cancelled request's error is expected)."""
    if not future.cancelled():
        future.exception()


def _keys_between(typed: str, start: int, end: int) -> list[int]:
    """Start offsets of the keys an accepted suggestion spared (those starting in
    ``[start, end)``)."""
    starts: list[int] = []
    pos = start
    while pos < end:
        key = next_key(typed, pos)
        starts.append(key.start)
        pos = key.end
    return starts


def _first_item(result: Any) -> tuple[str, str | None]:
    """(text, source) of the first inline item of a response ("" and None for none)."""
    items = result.items if isinstance(result, types.InlineCompletionList) else (result or [])
    if not items:
        return "", None
    item = items[0]
    text = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
    source = None
    if item.command is not None and item.command.arguments:
        first = item.command.arguments[0]
        source = first if isinstance(first, str) else None
    return text, source
