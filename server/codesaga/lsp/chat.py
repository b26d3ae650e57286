"""``codesaga/chat`` and the chat commands: thin handlers over :mod:`codesaga.chat`.

Request ``codesaga/chat``
    params ``{sessionId?: string, message: string, textDocument?: {uri}, range?: Range}`` plus
    the LSP ``workDoneToken`` / ``partialResultToken``; result ``{sessionId, reply}``.
    Without ``sessionId`` a new session is started (its id is in the result). With
    ``textDocument`` the prompt carries the current code: the lines ``range`` covers, or for
    an empty ``range`` the function/class around its start (else lines around it), or
    without ``range`` the file from its top (see :func:`codesaga.chat.code_context`).
    With a ``partialResultToken`` the reply streams as ``$/progress`` notifications
    ``{token, value: {delta: string}}`` while the model writes it (leading whitespace left
    out, so the deltas joined equal the reply up to trailing whitespace); the final response
    still carries the whole reply and the session id. With a ``workDoneToken`` the work is
    reported as work-done progress (begin/end). A newer message in the same session
    supersedes a running one; ``$/cancelRequest`` stops the generation within one token.
    Only a completed exchange (user message + answer) is stored.

Commands (``workspace/executeCommand``), for clients that cannot send custom requests
    ``codesaga.chat``: arguments ``[params]`` (the object above) or ``[message]`` (a new
    session); result ``{sessionId, reply}``; server-initiated work-done progress while it
    works. ``codesaga.chat.reset``: ``[sessionId]`` -> ``{sessionId, removedTurns}``.
    ``codesaga.chat.history``: ``[sessionId]`` -> ``[{role, content}, ...]`` oldest first
    (``[]`` for an unknown session). ``codesaga.chat.prompt``: ``[params]`` -> what the next
    turn would send to the model, without generating: ``{sessionId, language, messages:
    [{role, content}], keptTurns, droppedTurns, promptTokens, answerTokens}`` (token counts
    are the estimates the trimming uses).

Errors: InvalidParams (-32602) for malformed params, an unopened document, a range outside
it, or a message too long for the context window; RequestFailed (-32803) when there is no
model, the engine fails or the session store cannot be opened; RequestCancelled (-32800)
when cancelled or superseded.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types

from codesaga.chat import (
    ChatError,
    ChatPlan,
    SessionStore,
    check_session_id,
    empty_answer,
    new_session_id,
    plan_turn,
)
from codesaga.documents import Document, PositionError
from codesaga.engine import Engine, EngineError, Generation, GenerationRequest
from codesaga.errors import CodeSagaError, InvalidParams, Superseded
from codesaga.lsp.server import CodeSagaServer
from codesaga.prompts import PromptError
from codesaga.scheduler import LatestWins

log = logging.getLogger(__name__)
T = TypeVar("T")

CHAT_REQUEST = "codesaga/chat"
CHAT_COMMAND = "codesaga.chat"
RESET_COMMAND = "codesaga.chat.reset"
HISTORY_COMMAND = "codesaga.chat.history"
PROMPT_COMMAND = "codesaga.chat.prompt"


@dataclass(frozen=True)
class ChatArgs:
    """Validated chat params (``range`` in the document's position encoding)."""

    message: str
    session_id: str | None = None
    uri: str | None = None
    selection: types.Range | None = None


def plain(value: Any) -> Any:
    """JSON-like data from what pygls hands over: params of a method lsprotocol does not know
    arrive as nested namedtuples; dicts, lists and scalars pass through."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer")
    return value


def parse_position(raw: Any, what: str) -> types.Position:
    """``{line, character}`` -> Position (ValueError when malformed)."""
    if not isinstance(raw, dict):
        raise ValueError(f"{what} must be an object with line and character")
    return types.Position(
        line=_int(raw.get("line"), f"{what}.line"),
        character=_int(raw.get("character"), f"{what}.character"),
    )


def parse_args(raw: Any) -> ChatArgs:
    """Validate chat params (already :func:`plain`); raises ValueError with what is wrong."""
    if isinstance(raw, str):
        raw = {"message": raw}
    if not isinstance(raw, dict):
        raise ValueError("expected an object {sessionId?, message, textDocument?, range?}")
    message = raw.get("message")
    if not isinstance(message, str) or not message.strip():
        raise ValueError("message must be a non-empty string")
    session = raw.get("sessionId")
    session_id = None if session is None else check_session_id(session)
    uri = None
    document = raw.get("textDocument")
    if document is not None:
        if not isinstance(document, dict) or not isinstance(document.get("uri"), str):
            raise ValueError("textDocument must be an object with a uri")
        uri = document["uri"]
    selection = None
    if raw.get("range") is not None:
        if uri is None:
            raise ValueError("range needs a textDocument")
        rng = raw["range"]
        if not isinstance(rng, dict):
            raise ValueError("range must be an object with start and end")
        selection = types.Range(
            start=parse_position(rng.get("start"), "range.start"),
            end=parse_position(rng.get("end"), "range.end"),
        )
    return ChatArgs(message=message, session_id=session_id, uri=uri, selection=selection)


def _invalid(exc: Exception) -> InvalidParams:
    return InvalidParams(f"{exc}")


class ChatService:
    """The chat state of one server: the session store, opened on first use under
    ``<cacheDir>/chat`` (and reopened when the cache dir setting changes)."""

    def __init__(self, server: CodeSagaServer) -> None:
        self.server = server
        self._store: SessionStore | None = None
        self._store_dir: Path | None = None
        self._latest = LatestWins()

    def store(self) -> SessionStore:
        """The session store; CodeSagaError when it cannot be opened."""
        directory = self.server.settings.resolved_cache_dir() / "chat"
        if self._store is None or self._store_dir != directory:
            if self._store is not None:
                self._store.close()
                self._store = None
            try:
                self._store = SessionStore(directory)
            except (OSError, sqlite3.Error) as exc:
                raise CodeSagaError(f"cannot open the chat store: {exc}") from exc
            self._store_dir = directory
        return self._store

    def _stored(self, action: Callable[[SessionStore], T]) -> T:
        """Run ``action`` on the store; a database error becomes CodeSagaError."""
        try:
            return action(self.store())
        except sqlite3.Error as exc:
            raise CodeSagaError(f"chat store error: {exc}") from exc

    def history(self, session_id: str) -> list[dict[str, str]]:
        """The stored turns as ``{role, content}``, oldest first."""
        turns = self._stored(lambda store: store.turns(session_id))
        return [{"role": t.role, "content": t.content} for t in turns]

    def reset(self, session_id: str) -> dict[str, Any]:
        """Forget a session."""
        removed = self._stored(lambda store: store.reset(session_id))
        self.server.stats.count("chat_reset")
        return {"sessionId": session_id, "removedTurns": removed}

    async def _prepare(
        self, args: ChatArgs, session_id: str
    ) -> tuple[Engine, Callable[[], ChatPlan]]:
        """Check the document, wait for the model, and return the engine with a function that
        plans the turn (it counts tokens: run it on the model thread)."""
        doc: Document | None = self.server.document(args.uri) if args.uri else None
        engine = await self.server.ready_engine()
        history = self._stored(lambda store: store.turns(session_id))
        language = self.server.settings.response_language(self.server.locale)
        max_tokens = self.server.settings.max_tokens

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
            )

        return engine, plan

    async def preview(self, args: ChatArgs) -> dict[str, Any]:
        """What the next turn would send to the model (no generation, nothing stored)."""
        _engine, plan = await self._prepare(args, args.session_id or new_session_id())
        try:
            result = await self.server.scheduler.run(threading.Event(), plan)
        except (ChatError, PositionError) as exc:
            raise _invalid(exc) from exc
        except PromptError as exc:
            raise CodeSagaError(f"{exc}") from exc
        assembled = result.assembled
        return {
            "sessionId": result.session_id,
            "language": result.language,
            "messages": [dict(m) for m in assembled.messages],
            "keptTurns": assembled.kept,
            "droppedTurns": assembled.dropped,
            "promptTokens": assembled.prompt_tokens,
            "answerTokens": result.answer_tokens,
        }

    async def chat(
        self,
        args: ChatArgs,
        *,
        partial_token: types.ProgressToken | None = None,
        work_token: types.ProgressToken | None = None,
        server_progress: bool = False,
    ) -> dict[str, Any]:
        """One turn: plan, generate (streaming deltas to ``partial_token``), store, answer.

        ``work_token`` is a client-created work-done token; ``server_progress`` asks for a
        server-initiated one instead (for commands, which carry no token).
        """
        started = time.perf_counter()
        session_id = args.session_id or new_session_id()
        engine, plan = await self._prepare(args, session_id)
        key = "chat:" + session_id
        cancel = self._latest.begin(key)
        stream = _DeltaStream(self.server, partial_token, cancel, asyncio.get_running_loop())
        temperature = self.server.settings.temperature

        def work() -> tuple[ChatPlan, Generation]:
            chosen = plan()
            request = GenerationRequest(
                prompt="",
                max_tokens=chosen.answer_tokens,
                temperature=temperature,
                cancel=cancel,
                on_text=stream.on_text if partial_token is not None else None,
                kv_key=key,
            )
            return chosen, engine.chat(chosen.assembled.messages, request)

        progress: types.ProgressToken | None = None
        outcome = "cancelled"
        try:
            progress = await self._begin_progress(work_token, server_progress)
            chosen, gen = await self.server.scheduler.run(cancel, work)
            outcome = "cancelled" if gen.cancelled else "done"
        except Superseded:
            raise
        except (ChatError, PositionError) as exc:
            outcome = "failed"
            raise _invalid(exc) from exc
        except (EngineError, PromptError) as exc:
            outcome = "failed"
            raise CodeSagaError(f"{exc}") from exc
        finally:
            self._latest.finish(key, cancel)
            self._end_progress(progress, work_token is not None, outcome)
        if gen.cancelled:
            self.server.stats.count("chat_cancelled")
            raise Superseded()
        self.server.stats.count("chat")
        self.server.stats.tokens(gen.prompt_tokens, gen.reused_tokens, gen.completion_tokens)
        self.server.stats.latency("chat", time.perf_counter() - started)
        log.info(
            "chat: %d prompt tokens (%d reused), %d answer tokens, %d turns kept, %d dropped",
            gen.prompt_tokens,
            gen.reused_tokens,
            gen.completion_tokens,
            chosen.assembled.kept,
            chosen.assembled.dropped,
        )
        reply = gen.text.strip()
        if not reply:
            self.server.stats.count("chat_empty")
            return {"sessionId": chosen.session_id, "reply": empty_answer(chosen.language)}
        try:
            self.store().append(chosen.session_id, [("user", chosen.message), ("assistant", reply)])
        except (sqlite3.Error, CodeSagaError) as exc:
            log.error("chat store: cannot save the turn: %s", exc)
            self.server.show(f"CodeSaga: the chat turn was not saved: {exc}", error=True)
        return {"sessionId": chosen.session_id, "reply": reply}

    async def _begin_progress(
        self, work_token: types.ProgressToken | None, server_progress: bool
    ) -> types.ProgressToken | None:
        if work_token is not None:
            self.server.work_done_progress.begin(
                work_token,
                types.WorkDoneProgressBegin(title="CodeSaga chat", message="thinking…"),
            )
            return work_token
        if server_progress:
            return await self.server.begin_progress("CodeSaga chat", "thinking…")
        return None

    def _end_progress(
        self, token: types.ProgressToken | None, client_token: bool, outcome: str
    ) -> None:
        if token is None:
            return
        self.server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=outcome))
        if client_token:
            self.server.work_done_progress.tokens.pop(token, None)


class _DeltaStream:
    """Sends each new piece of the answer as a ``$/progress`` partial result. ``on_text`` runs
    on the model thread and hops to the event loop to send."""

    def __init__(
        self,
        server: CodeSagaServer,
        token: types.ProgressToken | None,
        cancel: threading.Event,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.server = server
        self.token = token
        self.cancel = cancel
        self.loop = loop
        self.started = False

    def on_text(self, piece: str) -> None:
        if not self.started:
            piece = piece.lstrip()
            self.started = bool(piece)
        if piece and not self.cancel.is_set():
            self.loop.call_soon_threadsafe(self._send, piece)

    def _send(self, piece: str) -> None:
        if self.token is None or self.cancel.is_set():
            return
        self.server.protocol.notify(
            types.PROGRESS, types.ProgressParams(token=self.token, value={"delta": piece})
        )


def _follow_client_cancel(server: CodeSagaServer) -> None:
    """Make ``$/cancelRequest`` reach a command handler.

    pygls runs a command handler as its own task under the ``workspace/executeCommand``
    request; cancelling that request resolves the request's future but leaves the handler's
    task running. Cancel the task with it, so the scheduler sets the generation's event.
    """
    task = asyncio.current_task()
    msg_id = server.protocol.msg_id
    futures = getattr(server.protocol, "_request_futures", None)
    if task is None or msg_id is None or not isinstance(futures, dict):
        return
    outer = futures.get(msg_id)
    if outer is None or outer is task or not isinstance(outer, Future | asyncio.Future):
        return

    def on_done(future: Any) -> None:
        if future.cancelled() and not task.done():
            task.cancel()

    outer.add_done_callback(on_done)


def _command_args(args: tuple[Any, ...]) -> ChatArgs:
    if len(args) != 1:
        raise InvalidParams(
            "CodeSaga: expected one argument: {sessionId?, message, textDocument?, range?} "
            "or a message string"
        )
    try:
        return parse_args(plain(args[0]))
    except ValueError as exc:
        raise _invalid(exc) from exc


def _session_arg(args: tuple[Any, ...]) -> str:
    if len(args) != 1:
        raise InvalidParams("expected one argument: the sessionId")
    try:
        return check_session_id(plain(args[0]))
    except ValueError as exc:
        raise _invalid(exc) from exc


def write_reply(ls: CodeSagaServer, result: dict[str, Any]) -> Path:
    """Write a chat reply to ``<cache dir>/chat/<sessionId>.md`` (the latest reply)."""
    path = ls.settings.resolved_cache_dir() / "chat" / f"{result['sessionId']}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result["reply"] + "\n", encoding="utf-8")
    return path


def register(server: CodeSagaServer) -> None:
    """Attach ``codesaga/chat`` and the ``codesaga.chat*`` commands to ``server``."""
    service = ChatService(server)

    @server.feature(CHAT_REQUEST)
    async def chat_request(ls: CodeSagaServer, params: Any) -> dict[str, Any]:
        raw = plain(params)
        if not isinstance(raw, dict):
            raise InvalidParams(
                "CodeSaga: expected params {sessionId?, message, textDocument?, range?}"
            )
        try:
            args = parse_args(raw)
        except ValueError as exc:
            raise _invalid(exc) from exc
        return await service.chat(
            args,
            partial_token=raw.get("partialResultToken"),
            work_token=raw.get("workDoneToken"),
        )

    @server.command(CHAT_COMMAND)
    async def chat_command(ls: CodeSagaServer, *args: Any) -> dict[str, Any]:
        chat_args = _command_args(args)
        _follow_client_cancel(ls)
        result = await service.chat(chat_args, server_progress=True)
        # some clients (Helix) discard command results: show the reply as well
        try:
            await ls.show_markdown(write_reply(ls, result), result["reply"])
        except OSError as exc:
            log.warning("could not write the chat reply: %s", exc)
            ls.show(result["reply"])
        return result

    @server.command(PROMPT_COMMAND)
    async def prompt_command(ls: CodeSagaServer, *args: Any) -> dict[str, Any]:
        return await service.preview(_command_args(args))

    @server.command(RESET_COMMAND)
    def reset_command(ls: CodeSagaServer, *args: Any) -> dict[str, Any]:
        return service.reset(_session_arg(args))

    @server.command(HISTORY_COMMAND)
    def history_command(ls: CodeSagaServer, *args: Any) -> list[dict[str, str]]:
        return service.history(_session_arg(args))
