"""``codesaga/chat`` and the chat commands: thin handlers over :class:`codesaga.chat.ChatService`.

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

Params are validated by the pydantic models of :mod:`codesaga.chat.params`; the ``range`` is
decoded here into str offsets in the open document (:func:`chat_turn`). Errors:
InvalidParams (-32602) for malformed params, an unopened document, a range outside it, or a
message too long for the context window; RequestFailed (-32803) when there is no model, the
engine fails or the session store cannot be opened; RequestCancelled (-32800) when cancelled
or superseded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from lsprotocol import types

from codesaga.chat import (
    ChatArgs,
    ChatParams,
    ChatPlan,
    ChatService,
    Reply,
    chat_params,
    session_id,
)
from codesaga.chat.params import RangeParams, one_argument
from codesaga.chat.service import OnDelta, Progress
from codesaga.lsp.server import CodeSagaServer
from codesaga.lsp.spans import span_of
from codesaga.lsp.usage import measure
from codesaga.texts import say

CHAT_REQUEST = "codesaga/chat"
CHAT_COMMAND = "codesaga.chat"
RESET_COMMAND = "codesaga.chat.reset"
HISTORY_COMMAND = "codesaga.chat.history"
PROMPT_COMMAND = "codesaga.chat.prompt"
CHAT_ARGUMENT = "{sessionId?, message, textDocument?, range?} or a message string"


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


def _lsp_range(rng: RangeParams) -> types.Range:
    start, end = rng.start, rng.end
    return types.Range(
        start=types.Position(line=start.line, character=start.character),
        end=types.Position(line=end.line, character=end.character),
    )


def chat_turn(ls: CodeSagaServer, params: ChatParams) -> ChatArgs:
    """The turn for :class:`codesaga.chat.ChatService`: ``params`` with the ``range``
    decoded into str offsets in the open document. Raises UnknownDocumentError when the
    document is not open and PositionError when the range lies outside it."""
    uri = params.text_document.uri if params.text_document is not None else None
    selection = None
    if params.range is not None and uri is not None:
        selection = span_of(ls.document(uri, parsed=False), _lsp_range(params.range))
    return ChatArgs(params.message, params.session_id, uri, selection)


def command_args(ls: CodeSagaServer, args: tuple[Any, ...]) -> ChatArgs:
    """The chat turn of a ``codesaga.chat`` / ``codesaga.chat.prompt`` command's arguments."""
    return chat_turn(ls, chat_params(plain(one_argument(args, CHAT_ARGUMENT))))


def session_arg(args: tuple[Any, ...]) -> str:
    """The session id of a ``codesaga.chat.reset`` / ``.history`` command's arguments."""
    return session_id(plain(one_argument(args, "the sessionId")))


def encode_reply(reply: Reply) -> dict[str, Any]:
    """``{sessionId, reply}``."""
    return {"sessionId": reply.session_id, "reply": reply.text}


def encode_plan(plan: ChatPlan) -> dict[str, Any]:
    """What a turn would send: ``{sessionId, language, messages, keptTurns, droppedTurns,
    promptTokens, answerTokens}``."""
    assembled = plan.assembled
    return {
        "sessionId": plan.session_id,
        "language": plan.language,
        "messages": [dict(m) for m in assembled.messages],
        "keptTurns": assembled.kept,
        "droppedTurns": assembled.dropped,
        "promptTokens": assembled.prompt_tokens,
        "answerTokens": plan.answer_tokens,
    }


def partial_results(ls: CodeSagaServer, token: types.ProgressToken) -> OnDelta:
    """Send each delta as a ``$/progress`` partial result ``{delta}`` on ``token``."""

    def send(piece: str) -> None:
        ls.protocol.notify(
            types.PROGRESS, types.ProgressParams(token=token, value={"delta": piece})
        )

    return send


def outcome_text(ls: CodeSagaServer, outcome: str) -> str:
    """A turn's ``outcome`` (``done``, ``cancelled``, ``failed``) in the user's language."""
    return say(f"progress.chat.{outcome}", ls.language)


def client_progress(ls: CodeSagaServer, token: types.ProgressToken) -> Progress:
    """Work-done progress on a token the client created (begin, then end with the outcome)."""

    async def begin() -> Callable[[str], None]:
        lang = ls.language
        ls.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=say("progress.chat", lang), message=say("progress.thinking", lang)
            ),
        )

        def end(outcome: str) -> None:
            done = types.WorkDoneProgressEnd(message=outcome_text(ls, outcome))
            ls.work_done_progress.end(token, done)
            ls.work_done_progress.tokens.pop(token, None)

        return end

    return begin


def server_progress(ls: CodeSagaServer) -> Progress:
    """Server-initiated work-done progress (nothing when the client cannot show it)."""

    async def begin() -> Callable[[str], None] | None:
        lang = ls.language
        token = await ls.begin_progress(say("progress.chat", lang), say("progress.thinking", lang))
        if token is None:
            return None
        return lambda outcome: ls.end_progress(token, outcome_text(ls, outcome))

    return begin


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


def register(server: CodeSagaServer) -> None:
    """Attach ``codesaga/chat`` and the ``codesaga.chat*`` commands to ``server``."""
    service = ChatService(server)

    @server.feature(CHAT_REQUEST)
    async def chat_request(ls: CodeSagaServer, params: Any) -> dict[str, Any]:
        request = chat_params(plain(params))
        partial, work = request.partial_result_token, request.work_done_token
        turn = chat_turn(ls, request)
        with measure(ls, "chat", turn.uri):
            reply = await service.chat(
                turn,
                on_delta=None if partial is None else partial_results(ls, partial),
                progress=None if work is None else client_progress(ls, work),
            )
        return encode_reply(reply)

    @server.command(CHAT_COMMAND)
    async def chat_command(ls: CodeSagaServer, *args: Any) -> dict[str, Any]:
        turn = command_args(ls, args)
        _follow_client_cancel(ls)
        with measure(ls, "chat", turn.uri):
            reply = await service.chat(turn, progress=server_progress(ls))
        # some clients (Helix) discard command results: show the reply as well
        path = service.write_reply(reply)
        if path is None:
            ls.show(reply.text)
        else:
            await ls.show_markdown(path, reply.text)
        return encode_reply(reply)

    @server.command(PROMPT_COMMAND)
    async def prompt_command(ls: CodeSagaServer, *args: Any) -> dict[str, Any]:
        return encode_plan(await service.preview(command_args(ls, args)))

    @server.command(RESET_COMMAND)
    def reset_command(ls: CodeSagaServer, *args: Any) -> dict[str, Any]:
        sid = session_arg(args)
        return {"sessionId": sid, "removedTurns": service.reset(sid)}

    @server.command(HISTORY_COMMAND)
    def history_command(ls: CodeSagaServer, *args: Any) -> list[dict[str, str]]:
        return [{"role": t.role, "content": t.content} for t in service.history(session_arg(args))]
