"""The typing replay of ``codesaga bench``: a person typing one file into the server over LSP.

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
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from codesaga.bench.records import PausePoint, Request, ServerRun
from codesaga.bench.script import TypingPlan, advance, end_position, next_key
from codesaga.demo import DemoClient

__all__ = ["DRAIN_TIMEOUT_SECONDS", "PAUSE_TIMEOUT_SECONDS", "Typist"]

PAUSE_TIMEOUT_SECONDS = 120.0
"""How long a pause waits for its suggestion."""
DRAIN_TIMEOUT_SECONDS = 60.0
"""How long the bench waits for the answers still due (and for a command's answer)."""
REQUEST_CANCELLED = -32800


class Typist:
    """Types one :class:`TypingPlan` into the server behind ``client``, recording each
    request and pause in ``run``; a key every ``interval_s`` seconds, the first ``read_s``
    seconds after opening the file. ``on_key(n)`` is told of every ``n`` keys typed or spared
    by an accepted suggestion (for a progress bar)."""

    def __init__(
        self,
        client: DemoClient,
        run: ServerRun,
        *,
        interval_s: float,
        read_s: float,
        on_key: Callable[[int], None],
    ) -> None:
        self.client = client
        self.run = run
        self.interval_s = interval_s
        self.read_s = read_s
        self.on_key = on_key
        self.uri = ""
        self.version = 1
        self.text = ""
        self.cursor = types.Position(line=0, character=0)
        self.pending: Request | None = None
        """The last inline request sent (its answer may still be due)."""
        self.pending_id: str | None = None

    async def type_file(self, plan: TypingPlan, uri: str) -> None:
        """Open ``plan.head`` as ``uri``, wait :attr:`read_s`, type ``plan.typed`` with
        pauses, wait (bounded) for the answers still due, then close the document."""
        self.uri, self.version, self.text = uri, 1, plan.head
        self.cursor = end_position(plan.head)
        item = types.TextDocumentItem(
            uri=uri, language_id=plan.language_id, version=1, text=plan.head
        )
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
        pos = 0
        next_at = time.perf_counter() + self.read_s
        while pos < len(plan.typed):
            key = next_key(plan.typed, pos)
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.perf_counter()
            future = self._press(plan.typed[key.start : key.end], now, pause=key.pause)
            pos = key.end
            next_at = now + self.interval_s
            if key.pause:
                point = PausePoint(
                    plan.name, plan.language_id, self.text, len(self.text), self.cursor
                )
                self.run.pauses.append(point)
                pos = await self._pause(plan.typed, pos, future)
                next_at = time.perf_counter() + self.interval_s
        await self._settle()
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )

    def _press(self, inserted: str, now: float, *, pause: bool) -> Future[Any]:
        """One key at ``now``: cancel the request still pending, insert, ask again."""
        pending = self.pending
        if pending is not None:
            pending.next_key = now
            if pending.done is None and self.pending_id is not None:
                self._cancel(pending, self.pending_id)
        self._insert(inserted)
        self.run.keys_typed += 1
        self.on_key(1)
        return self._request("pause" if pause else "key")

    async def _pause(self, typed: str, pos: int, future: Future[Any]) -> int:
        """Wait for the pending request's suggestion; accept it when it is what the person
        types from ``pos`` on. Returns where typing goes on in ``typed``."""
        pending = self.pending
        assert pending is not None
        waiter = asyncio.wrap_future(future)
        waiter.add_done_callback(_retrieve)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(waiter), PAUSE_TIMEOUT_SECONDS)
        suggestion = pending.text
        if pending.outcome != "result" or not suggestion:
            return pos
        if not typed.startswith(suggestion, pos):
            return pos
        # the person presses Tab: the suggestion is inserted and its command runs
        await asyncio.sleep(self.interval_s)
        pending.next_key = time.perf_counter()
        self._insert(suggestion)
        await self._accepted(pending)
        self.on_key(sum(1 for _ in _keys_between(typed, pos, pos + len(suggestion))))
        self.run.accepted += 1
        self.run.accepted_chars += len(suggestion)
        self._request("accept")
        return pos + len(suggestion)

    def _insert(self, inserted: str) -> None:
        """Send the ``didChange`` that inserts ``inserted`` at the cursor; move the cursor."""
        self.version += 1
        change = types.TextDocumentContentChangePartial(
            range=types.Range(start=self.cursor, end=self.cursor), text=inserted
        )
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=self.uri, version=self.version
                ),
                content_changes=[change],
            )
        )
        self.text += inserted
        self.cursor = advance(self.cursor, inserted)

    def _request(self, kind: str) -> Future[Any]:
        """Send an automatic inline-completion request at the cursor; it becomes
        :attr:`pending`, and its record (in ``run``) fills in on response."""
        msg_id = f"bench-{uuid.uuid4().hex}"
        record = Request(kind=kind, sent=time.perf_counter())
        self.run.requests.append(record)
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=self.uri),
            position=self.cursor,
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
        self.pending, self.pending_id = record, msg_id
        return future

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
