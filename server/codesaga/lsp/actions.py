"""``textDocument/codeAction``, ``codeAction/resolve`` and the action commands.

Listing is instant (tree-sitter only, never the model). The model runs in ``codeAction/resolve``
for clients that support resolving edits, else in ``codesaga.runAction`` (which sends
``workspace/applyEdit``); explain and review are always commands (``codesaga.explain`` returns
the Markdown and shows the file; ``codesaga.review`` publishes diagnostics). Command arguments
are ``[data]`` with ``data`` the action's ``CodeAction.data`` (see
:class:`codesaga.actions.ActionData`); ``codesaga.explain``/``codesaga.review`` also take
``[{"uri": ..., "range"?: ...}]``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any

from lsprotocol import types

from codesaga.actions import (
    CODE_ACTION_KINDS,
    EXPLAIN_COMMAND,
    REVIEW_COMMAND,
    RUN_COMMAND,
    ActionData,
    ActionError,
    ActionRefused,
    Edit,
    Job,
    Lang,
    Offer,
    action_title,
    apply_edit,
    check_range,
    finish_edit,
    finish_explain,
    finish_review,
    list_actions,
    plan,
    prompt_language,
    say,
    stale_message,
    write_explanation,
)
from codesaga.documents import Document, PositionError
from codesaga.engine import EngineError, GenerationRequest
from codesaga.errors import CodeSagaError, InvalidParams, Superseded
from codesaga.lsp.server import CodeSagaServer
from codesaga.prompts import PromptError
from codesaga.review import DIAGNOSTIC_SOURCE, findings_to_diagnostics

log = logging.getLogger(__name__)

REVIEW_RETRY_TEMPERATURE = 0.6
"""Added to the temperature for the one retry of a review whose answer was unreadable."""
MAX_REVIEWS_KEPT = 100
"""Documents whose last review diagnostics are remembered (for clients that drop
``Diagnostic.data``)."""


def _lang(ls: CodeSagaServer) -> Lang:
    return prompt_language(ls.settings, ls.locale)


def _code_action_caps(ls: CodeSagaServer) -> types.CodeActionClientCapabilities | None:
    text_document = ls.client_capabilities.text_document
    return text_document.code_action if text_document is not None else None


def _resolves_edits(ls: CodeSagaServer) -> bool:
    caps = _code_action_caps(ls)
    support = caps.resolve_support if caps is not None else None
    return support is not None and "edit" in support.properties


def _takes_literals(ls: CodeSagaServer) -> bool:
    caps = _code_action_caps(ls)
    return caps is not None and caps.code_action_literal_support is not None


def _document_changes(ls: CodeSagaServer) -> bool:
    workspace = ls.client_capabilities.workspace
    edit = workspace.workspace_edit if workspace is not None else None
    return bool(edit and edit.document_changes)


def workspace_edit(ls: CodeSagaServer, doc: Document, edit: Edit) -> types.WorkspaceEdit:
    """``edit`` on ``doc`` as a WorkspaceEdit: ``documentChanges`` naming ``doc.version``
    (the client refuses it for another version), or plain ``changes`` for clients that
    cannot take ``documentChanges``."""
    text_edit = types.TextEdit(range=edit.range(doc), new_text=edit.new_text)
    if not _document_changes(ls):
        return types.WorkspaceEdit(changes={doc.uri: [text_edit]})
    return types.WorkspaceEdit(
        document_changes=[
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=doc.uri, version=doc.version
                ),
                edits=[text_edit],
            )
        ]
    )


def _action_data(value: object) -> ActionData:
    try:
        return ActionData.from_json(value)
    except ActionError as exc:
        raise InvalidParams(f"{exc}") from exc


def _command_data(ls: CodeSagaServer, args: tuple[Any, ...], action: str) -> ActionData:
    """The action data in a command's arguments: a listed action's data, or for commands run
    by hand ``{"uri": ..., "range"?: ...}`` (the current version, the whole file/cursor)."""
    value = args[0] if args else None
    if isinstance(value, dict) and "codesaga" not in value and isinstance(value.get("uri"), str):
        doc = ls.document(value["uri"], parsed=False)  # its version only
        empty = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}
        value = {
            "codesaga": 1,
            "uri": doc.uri,
            "version": doc.version,
            "action": action,
            "range": value.get("range") or empty,
        }
    return _action_data(value)


def _to_lsp(offer: Offer, resolves: bool, literals: bool) -> types.CodeAction | types.Command:
    data = offer.data.to_json()
    command: types.Command | None = None
    if offer.action == "explain":
        command = types.Command(title=offer.title, command=EXPLAIN_COMMAND, arguments=[data])
    elif offer.action == "review":
        command = types.Command(title=offer.title, command=REVIEW_COMMAND, arguments=[data])
    elif not resolves or not literals:
        command = types.Command(title=offer.title, command=RUN_COMMAND, arguments=[data])
    if not literals:
        assert command is not None
        return command
    return types.CodeAction(
        title=offer.title,
        kind=offer.kind,
        diagnostics=[offer.diagnostic] if offer.diagnostic is not None else None,
        is_preferred=True if offer.preferred else None,
        data=data,
        command=command,
    )


async def model_answer(
    ls: CodeSagaServer,
    doc: Document,
    data: ActionData,
    lang: Lang,
    *,
    temperature: float | None = None,
) -> tuple[Job, str]:
    """Plan the action's prompt and run the model on the model thread, with ``$/progress``
    (``temperature`` overrides the setting). ``job.truncated`` tells whether the answer
    stopped at the token limit.

    Raises ActionRefused (nothing to do, too large), CodeSagaError (no model, engine
    failure, broken prompt template), InvalidParams (range outside the document) and
    the cancellation error when the request is cancelled.
    """
    engine = await ls.ready_engine()
    settings = ls.settings
    cancel = threading.Event()

    def work() -> tuple[Job, Any]:
        job = plan(
            doc,
            data,
            lang,
            count_tokens=engine.count_tokens,
            n_ctx=engine.n_ctx,
            style_guide=settings.style_guide,
        )
        request = GenerationRequest(
            prompt="",
            max_tokens=job.max_tokens,
            temperature=settings.temperature if temperature is None else temperature,
            cancel=cancel,
            should_stop=job.should_stop,
        )
        return job, engine.chat(job.messages, request)

    title = action_title(data.action, lang)
    token = await ls.begin_progress("CodeSaga", f"{title}: {say('progress', lang)}")
    outcome = say("done", lang)
    try:
        job, generation = await ls.scheduler.run(cancel, work)
    except ActionRefused as exc:
        outcome = str(exc)
        raise
    except Superseded:
        raise
    except PositionError as exc:
        raise InvalidParams(f"{exc}") from exc
    except (EngineError, PromptError) as exc:
        outcome = str(exc)
        raise CodeSagaError(f"{title}: {exc}") from exc
    finally:
        ls.end_progress(token, outcome)
    if generation.cancelled:
        raise Superseded()
    job.truncated = generation.completion_tokens >= job.max_tokens
    ls.stats.count(f"action_{data.action}")
    ls.stats.tokens(
        generation.prompt_tokens, generation.reused_tokens, generation.completion_tokens
    )
    ls.stats.latency(f"action_{data.action}", generation.seconds)
    log.info(
        "action %s: %d prompt tokens, %d generated, %.2f s",
        data.action,
        generation.prompt_tokens,
        generation.completion_tokens,
        generation.seconds,
    )
    return job, generation.text


async def produce_edit(ls: CodeSagaServer, data: ActionData) -> tuple[Document, Edit] | None:
    """The edit for a refactor, fix, docstring or apply action, on the document version the
    action was listed for; ``None`` (after telling the user why) when the document changed
    before or during the work, or the model's answer was unusable."""
    lang = _lang(ls)
    doc = ls.document(data.uri)
    stale = stale_message(doc, data, lang)
    if stale is not None:
        ls.stats.count("action_stale")
        ls.show(stale)
        return None
    try:
        if data.action == "apply":
            edit = apply_edit(doc, data, lang)
        else:
            job, answer = await model_answer(ls, doc, data, lang)
            edit = finish_edit(doc, job, answer)
    except ActionRefused as exc:
        ls.stats.count("action_refused")
        ls.show(str(exc))
        return None
    stale = stale_message(ls.document(data.uri, parsed=False), data, lang, during=True)
    if stale is not None:
        ls.stats.count("action_stale")
        ls.show(stale)
        return None
    return doc, edit


def register(server: CodeSagaServer) -> None:
    """Attach the code action handlers and commands to ``server``."""
    reviews: dict[str, list[types.Diagnostic]] = {}

    def with_review_data(uri: str, diagnostics: list[types.Diagnostic]) -> list[types.Diagnostic]:
        """Our review diagnostics as published (with their data), for clients that drop it."""
        published = reviews.get(uri, [])
        out = []
        for diagnostic in diagnostics:
            if diagnostic.source == DIAGNOSTIC_SOURCE and diagnostic.data is None:
                match = next(
                    (
                        p
                        for p in published
                        if p.range.start.line == diagnostic.range.start.line
                        and p.message == diagnostic.message
                    ),
                    None,
                )
                if match is not None:
                    diagnostic = match
            out.append(diagnostic)
        return out

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=list(CODE_ACTION_KINDS), resolve_provider=True),
    )
    def code_action(
        ls: CodeSagaServer, params: types.CodeActionParams
    ) -> list[types.CodeAction | types.Command]:
        doc = ls.document(params.text_document.uri)
        diagnostics = with_review_data(doc.uri, list(params.context.diagnostics))
        try:
            offers = list_actions(
                doc,
                params.range,
                diagnostics,
                _lang(ls),
                only=params.context.only,
                style_guide=ls.settings.style_guide,
            )
        except PositionError as exc:
            raise InvalidParams(f"{exc}") from exc
        resolves, literals = _resolves_edits(ls), _takes_literals(ls)
        return [_to_lsp(offer, resolves, literals) for offer in offers]

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: CodeSagaServer, action: types.CodeAction) -> types.CodeAction:
        data = _action_data(action.data)
        if data.action in ("explain", "review"):
            return action  # command-based: nothing to resolve
        result = await produce_edit(ls, data)
        if result is not None:
            action.edit = workspace_edit(ls, *result)
        return action

    @server.command(RUN_COMMAND)
    async def run_action(ls: CodeSagaServer, *args: Any) -> dict[str, Any]:
        data = _action_data(args[0] if args else None)
        if data.action == "explain":
            return {"applied": False, "markdown": await explain(ls, *args)}
        if data.action == "review":
            return {"applied": False, **await review(ls, *args)}
        result = await produce_edit(ls, data)
        if result is None:
            return {"applied": False}
        lang = _lang(ls)
        response = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(
                edit=workspace_edit(ls, *result), label=action_title(data.action, lang)
            )
        )
        if not response.applied:
            reason = f": {response.failure_reason}" if response.failure_reason else ""
            ls.show(say("not_applied", lang, reason=reason))
        return {"applied": bool(response.applied)}

    @server.command(EXPLAIN_COMMAND)
    async def explain(ls: CodeSagaServer, *args: Any) -> str:
        data = _command_data(ls, args, "explain")
        lang = _lang(ls)
        doc = ls.document(data.uri)
        try:
            check_range(doc, data.range)
            job, answer = await model_answer(ls, doc, replace(data, action="explain"), lang)
            markdown = finish_explain(job, answer)
        except PositionError as exc:
            raise InvalidParams(f"{exc}") from exc
        except ActionRefused as exc:
            ls.show(str(exc))
            return ""
        try:
            path = write_explanation(ls.settings.resolved_cache_dir(), doc, job, markdown)
        except OSError as exc:
            ls.show(f"CodeSaga: could not write the explanation: {exc}", error=True)
            return markdown
        await ls.show_markdown(path, markdown)
        return markdown

    @server.command(REVIEW_COMMAND)
    async def review(ls: CodeSagaServer, *args: Any) -> dict[str, Any]:
        data = _command_data(ls, args, "review")
        lang = _lang(ls)
        doc = ls.document(data.uri)
        try:
            check_range(doc, data.range)
            review_data = replace(data, action="review")
            job, answer = await model_answer(ls, doc, review_data, lang)
        except PositionError as exc:
            raise InvalidParams(f"{exc}") from exc
        except ActionRefused as exc:
            ls.show(str(exc))
            return {"findings": 0, "message": str(exc)}
        for note in job.notes:
            ls.show(note)
        findings, message, status = finish_review(doc, job, answer)
        if status == "unreadable":
            # A small model replaying its example or echoing the code: ask once more,
            # sampling more freely.
            retry = min(1.0, ls.settings.temperature + REVIEW_RETRY_TEMPERATURE)
            try:
                job, answer = await model_answer(ls, doc, review_data, lang, temperature=retry)
            except ActionRefused:
                pass  # keep the first answer's outcome
            else:
                findings, message, status = finish_review(doc, job, answer)
        changed = stale_message(
            ls.document(doc.uri, parsed=False),
            replace(data, version=doc.version),
            lang,
            during=True,
        )
        if changed is not None:
            ls.show(changed)
            return {"findings": 0, "message": changed}
        if status != "unreadable":
            diagnostics = findings_to_diagnostics(doc, findings)
            if len(reviews) >= MAX_REVIEWS_KEPT and doc.uri not in reviews:
                reviews.pop(next(iter(reviews)))
            reviews[doc.uri] = diagnostics
            ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(
                    uri=doc.uri, diagnostics=diagnostics, version=doc.version
                )
            )
        ls.show(message)
        return {"findings": len(findings), "message": message}
