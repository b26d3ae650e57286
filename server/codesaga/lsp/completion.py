"""``textDocument/inlineCompletion`` and the ``textDocument/completion`` fallback."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from lsprotocol import types

from codesaga.completion import Suggestion
from codesaga.completion.gate import near_empty
from codesaga.completion.prefetch import prefetch_after_accept
from codesaga.documents import Document
from codesaga.engine.faults import EngineFault
from codesaga.lsp import suggestion_events
from codesaga.lsp.chat import plain
from codesaga.lsp.server import CodeSagaServer
from codesaga.lsp.suggestion_events import ACCEPT_COMMAND
from codesaga.lsp.usage import measure, suggested

log = logging.getLogger(__name__)

_WORD_TAIL = re.compile(r"[\w$]+$")


async def suggest(
    server: CodeSagaServer,
    uri: str,
    position: types.Position,
    *,
    fresh: bool = False,
    invoked: bool = False,
) -> tuple[Document, Suggestion]:
    """Get the document and ask the completer. ``fresh``: ask the model anew (see
    :meth:`Completer.complete`, which lists the errors raised). A remote engine's fault
    gives an empty suggestion: the user hears of it once, not at every key. A near-empty
    document (:func:`~codesaga.completion.gate.near_empty`) gets nothing unless ``invoked``
    (the user asked): with nothing to go on the model writes prose.

    The document's tree may be stale (edited, not re-parsed): the completion context only
    reads imports and enclosing headers from it, and must not wait for a parse."""
    doc = server.document(uri, parsed=False)
    completer = await server.ready_completer()
    offset = doc.offset_at(position)
    if not invoked and near_empty(doc.text):
        return doc, Suggestion("", offset, "model", 0.0)
    try:
        return doc, await completer.complete(doc, offset, fresh=fresh)
    except EngineFault as fault:  # the user was told once (announce_faults), not per key
        log.debug("no suggestion: %s", fault.kind)
        return doc, Suggestion("", offset, "model", 0.0)


def register(server: CodeSagaServer) -> None:
    """Attach the completion handlers to ``server``."""

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: CodeSagaServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        # an explicit request (the editor's "trigger suggestion" command) asks the model
        # again instead of repeating the suggestion the user did not take
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        uri = params.text_document.uri
        with measure(ls, "inline", uri, context_tokens=False) as row:
            doc, suggestion = await suggest(
                ls, uri, params.position, fresh=invoked, invoked=invoked
            )
            suggested(ls, row, uri, suggestion)
        if not suggestion.text:
            return types.InlineCompletionList(items=[])
        here = doc.position_at(suggestion.offset)
        item = types.InlineCompletionItem(
            insert_text=suggestion.text,
            range=types.Range(start=here, end=here),
            command=types.Command(
                title="CodeSaga: suggestion accepted",
                command=ACCEPT_COMMAND,
                arguments=[suggestion.source, len(suggestion.text), doc.uri, row.id],
            ),
        )
        return types.InlineCompletionList(items=[item])

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=[".", "("], resolve_provider=False),
    )
    async def completion(
        ls: CodeSagaServer, params: types.CompletionParams
    ) -> types.CompletionList:
        invoked = (
            params.context is not None
            and params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        )
        uri = params.text_document.uri
        with measure(ls, "completion", uri, context_tokens=False) as row:
            doc, suggestion = await suggest(ls, uri, params.position, invoked=invoked)
            suggested(ls, row, uri, suggestion)
        return types.CompletionList(
            is_incomplete=True, items=fallback_items(doc, suggestion, request_id=row.id)
        )

    for method in (
        suggestion_events.DID_SHOW,
        suggestion_events.DID_PARTIALLY_ACCEPT,
        suggestion_events.DID_DISMISS,
    ):
        server.feature(method)(_event_handler(method))

    @server.command(ACCEPT_COMMAND)
    async def accepted(ls: CodeSagaServer, *args: object) -> None:
        """The user accepted a suggestion whole: count it, mark its usage row and prefetch
        the next suggestion (see :data:`ACCEPT_COMMAND` for the arguments)."""
        ls.stats.count("accepted")
        suggestion_events.record_accept(ls.usage, args)
        uri = args[2] if len(args) > 2 else None
        if isinstance(uri, str) and uri in ls.store and ls.model.completer is not None:
            # after the reply: the client goes on while the next suggestion is computed
            asyncio.get_running_loop().call_soon(_prefetch, ls, uri)


def _event_handler(method: str) -> Any:
    def event(ls: CodeSagaServer, params: Any) -> None:
        suggestion_events.record(ls.usage, method, plain(params))

    return event


def _prefetch(ls: CodeSagaServer, uri: str) -> None:
    if ls.model.completer is not None:
        task = asyncio.ensure_future(
            prefetch_after_accept(ls.model.completer, uri, lambda: ls.store.get(uri))
        )
        task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("prefetch failed: %s", task.exception())


def fallback_items(
    doc: Document, suggestion: Suggestion, *, request_id: str = ""
) -> list[types.CompletionItem]:
    """One completion item holding the suggestion, for clients without inline completion;
    ``request_id`` (its usage row's id) goes into its acceptance command.

    Its edit starts at the beginning of the word under the cursor so that the client's own
    filtering (which matches the typed word against ``filterText``) keeps the item visible.
    """
    if not suggestion.text:
        return []
    end = doc.position_at(suggestion.offset)
    line_start = doc.line_start(end.line)
    word_match = _WORD_TAIL.search(doc.text[line_start : suggestion.offset])
    word = word_match.group(0) if word_match else ""
    start = doc.position_at(suggestion.offset - len(word))
    new_text = word + suggestion.text
    first_line = new_text.splitlines()[0] if new_text.strip() else new_text
    label = first_line.strip()[:60] or "CodeSaga suggestion"
    return [
        types.CompletionItem(
            label=label,
            kind=types.CompletionItemKind.Snippet,
            detail="CodeSaga",
            documentation=types.MarkupContent(
                kind=types.MarkupKind.Markdown, value=f"```\n{new_text}\n```"
            ),
            filter_text=new_text,
            sort_text="0",
            preselect=True,
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(range=types.Range(start=start, end=end), new_text=new_text),
            command=types.Command(
                title="CodeSaga: suggestion accepted",
                command=ACCEPT_COMMAND,
                arguments=[suggestion.source, len(suggestion.text), doc.uri, request_id],
            ),
        )
    ]
