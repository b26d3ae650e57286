"""The chat turn service: the session store, planning a turn, generating it on the model thread
with its deltas streamed, storing the exchange.

Plain Python over a :class:`ChatHost` (what the server offers: settings, scheduler, stats,
documents, the engine); streaming and progress reach the client through plain callables the
protocol layer passes in (:mod:`codesaga.lsp.chat`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from codesaga.chat.assembly import ChatPlan, Language, empty_answer, plan_turn
from codesaga.chat.params import ChatArgs
from codesaga.chat.store import SessionStore, Turn, check_session_id, new_session_id
from codesaga.documents import Document
from codesaga.engine import Engine, Generation, GenerationRequest
from codesaga.errors import CodeSagaError, InvalidParams, Superseded
from codesaga.files import inside, write_private
from codesaga.repo.workspace import Workspace, definitions_source
from codesaga.scheduler import LatestWins, Scheduler
from codesaga.settings import Settings
from codesaga.stats import Stats
from codesaga.texts import error, say

log = logging.getLogger(__name__)
T = TypeVar("T")

OnDelta = Callable[[str], None]
"""Receives each new piece of the answer, on the event loop."""
Progress = Callable[[], Awaitable[Callable[[str], None] | None]]
"""Starts reporting a turn's work; returns the function that ends it with an outcome
(``done``, ``cancelled`` or ``failed``), or None when nothing is reported."""


class ChatHost(Protocol):
    """What the chat needs from the server (``CodeSagaServer`` is one)."""

    settings: Settings
    scheduler: Scheduler
    stats: Stats
    workspace_index: Workspace | None

    @property
    def language(self) -> Language:
        """The response language."""
        ...

    def document(self, uri: str) -> Document:
        """The open document (UnknownDocumentError when never opened)."""
        ...

    async def ready_engine(self) -> Engine:
        """The engine once loaded (CodeSagaError when there is none)."""
        ...

    def show(self, message: str, *, error: bool = False) -> None:
        """Show ``message`` to the user."""
        ...


@dataclass(frozen=True)
class Reply:
    """The outcome of one turn: the session it belongs to and the answer (Markdown)."""

    session_id: str
    text: str


class ChatService:
    """The chat state of one server: the session store, opened on first use under
    ``<cacheDir>/chat`` (and reopened when the cache dir setting changes)."""

    def __init__(self, host: ChatHost) -> None:
        self.host = host
        self._store: SessionStore | None = None
        self._store_dir: Path | None = None
        self._latest = LatestWins()

    def _directory(self) -> Path:
        return self.host.settings.resolved_cache_dir() / "chat"

    def store(self) -> SessionStore:
        """The session store; CodeSagaError when it cannot be opened."""
        directory = self._directory()
        if self._store is None or self._store_dir != directory:
            if self._store is not None:
                self._store.close()
                self._store = None
            try:
                self._store = SessionStore(directory)
            except (OSError, sqlite3.Error) as exc:
                raise error(CodeSagaError, "chat.store_unavailable", error=exc) from exc
            self._store_dir = directory
        return self._store

    def _stored(self, action: Callable[[SessionStore], T]) -> T:
        """Run ``action`` on the store; a database error becomes CodeSagaError."""
        try:
            return action(self.store())
        except sqlite3.Error as exc:
            raise error(CodeSagaError, "chat.store_error", error=exc) from exc

    def history(self, session_id: str) -> list[Turn]:
        """The stored turns, oldest first (``[]`` for an unknown session)."""
        return self._stored(lambda store: store.turns(session_id))

    def reset(self, session_id: str) -> int:
        """Forget a session; returns how many turns it had."""
        removed = self._stored(lambda store: store.reset(session_id))
        self.host.stats.count("chat_reset")
        return removed

    @contextmanager
    def _latest_turn(self, session_id: str) -> Iterator[threading.Event]:
        """The cancel event of this session's newest turn: a newer turn in the same session
        sets it (latest wins); ``$/cancelRequest`` sets it through the scheduler (which
        sets the event of work whose awaiting task is cancelled)."""
        key = "chat:" + session_id
        cancel = self._latest.begin(key)
        try:
            yield cancel
        finally:
            self._latest.finish(key, cancel)

    async def _prepare(
        self, args: ChatArgs, session_id: str
    ) -> tuple[Engine, Callable[[], ChatPlan]]:
        """Check the document, wait for the model, and return the engine with a function that
        plans the turn (it counts tokens: run it on the model thread)."""
        doc = self.host.document(args.uri) if args.uri else None
        engine = await self.host.ready_engine()
        history = self.history(session_id)
        language = self.host.language
        max_tokens = self.host.settings.max_tokens
        definitions = definitions_source(
            self.host.workspace_index, self.host.settings.repo_context_tokens, engine.count_tokens
        )

        def plan() -> ChatPlan:
            return plan_turn(
                session_id=session_id,
                message=args.message,
                history=history,
                language=language,
                doc=doc,
                selection=args.selection,
                n_ctx=engine.n_ctx,
                max_tokens=max_tokens,
                count=engine.count_tokens,
                definitions=definitions,
            )

        return engine, plan

    async def preview(self, args: ChatArgs) -> ChatPlan:
        """What the next turn would send to the model (no generation, nothing stored).

        Raises ChatError (too long), PositionError, UnknownDocumentError, PromptError or
        ModelUnavailable.
        """
        _engine, plan = await self._prepare(args, args.session_id or new_session_id())
        return await self.host.scheduler.run(threading.Event(), plan)

    async def chat(
        self, args: ChatArgs, *, on_delta: OnDelta | None = None, progress: Progress | None = None
    ) -> Reply:
        """One turn: plan, generate (each new piece of the answer to ``on_delta``, leading
        whitespace left out), store the exchange, answer. ``progress`` reports the work.

        A newer turn in the same session, or cancelling the awaiting task, stops the
        generation within one token and raises Superseded (nothing is stored). Raises the
        errors of :meth:`preview` and EngineError.
        """
        started = time.perf_counter()
        session_id = args.session_id or new_session_id()
        engine, plan = await self._prepare(args, session_id)
        temperature = self.host.settings.temperature
        end: Callable[[str], None] | None = None
        outcome = "failed"
        with self._latest_turn(session_id) as cancel:
            stream = None if on_delta is None else _DeltaStream(on_delta, cancel)

            def work() -> tuple[ChatPlan, Generation]:
                chosen = plan()
                request = GenerationRequest(
                    prompt="",
                    max_tokens=chosen.answer_tokens,
                    temperature=temperature,
                    cancel=cancel,
                    on_text=stream.on_text if stream is not None else None,
                    kv_key="chat:" + session_id,
                )
                return chosen, engine.chat(chosen.assembled.messages, request)

            try:
                if progress is not None:
                    end = await progress()
                chosen, gen = await self.host.scheduler.run(cancel, work)
                outcome = "cancelled" if gen.cancelled else "done"
            except (Superseded, asyncio.CancelledError):
                outcome = "cancelled"
                raise
            finally:
                if end is not None:
                    end(outcome)
        if gen.cancelled:
            self.host.stats.count("chat_cancelled")
            raise Superseded()
        self._record(gen, chosen, time.perf_counter() - started)
        reply = gen.text.strip()
        if not reply:
            self.host.stats.count("chat_empty")
            return Reply(chosen.session_id, empty_answer(chosen.language))
        self._save(chosen, reply)
        return Reply(chosen.session_id, reply)

    def _record(self, gen: Generation, chosen: ChatPlan, seconds: float) -> None:
        stats = self.host.stats
        stats.count("chat")
        stats.tokens(gen.prompt_tokens, gen.reused_tokens, gen.completion_tokens)
        stats.latency("chat", seconds)
        log.info(
            "chat: %d prompt tokens (%d reused), %d answer tokens, %d turns kept, %d dropped",
            gen.prompt_tokens,
            gen.reused_tokens,
            gen.completion_tokens,
            chosen.assembled.kept,
            chosen.assembled.dropped,
        )

    def _save(self, chosen: ChatPlan, reply: str) -> None:
        """Store the exchange; a store failure is shown, the reply still goes out."""
        try:
            self.store().append(chosen.session_id, [("user", chosen.message), ("assistant", reply)])
        except (sqlite3.Error, CodeSagaError) as exc:
            log.error("chat store: cannot save the turn: %s", exc)
            self.host.show(say("chat.not_saved", self.host.language, error=exc), error=True)

    def write_reply(self, reply: Reply) -> Path | None:
        """Write the reply to ``<cacheDir>/chat/<sessionId>.md`` (the session's latest reply;
        mode 0600), for clients that drop command results; None when it cannot be written
        (logged). Raises InvalidParams for a session id that is not one the server issues
        (:func:`check_session_id`) or that would leave the chat directory."""
        try:
            name = check_session_id(reply.session_id) + ".md"
            path = inside(self._directory(), name)
        except ValueError as exc:
            raise InvalidParams(f"sessionId: {exc}") from None
        try:
            write_private(path, reply.text + "\n")
        except OSError as exc:
            log.warning("could not write the chat reply: %s", exc)
            return None
        return path


class _DeltaStream:
    """Hands each new piece of the answer to ``on_delta`` on the event loop. ``on_text`` runs
    on the model thread; leading whitespace of the answer is left out, and nothing is sent
    once the turn is cancelled."""

    def __init__(self, on_delta: OnDelta, cancel: threading.Event) -> None:
        self.on_delta = on_delta
        self.cancel = cancel
        self.loop = asyncio.get_running_loop()
        self.started = False

    def on_text(self, piece: str) -> None:
        if not self.started:
            piece = piece.lstrip()
            self.started = bool(piece)
        if piece and not self.cancel.is_set():
            self.loop.call_soon_threadsafe(self._send, piece)

    def _send(self, piece: str) -> None:
        if not self.cancel.is_set():
            self.on_delta(piece)
