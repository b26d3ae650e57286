"""``textDocument/codeAction``, ``codeAction/resolve`` and the action commands.

Listing is instant (tree-sitter only, never the model). The model runs in ``codeAction/resolve``
for clients that support resolving edits, else in ``codesaga.runAction`` (which sends
``workspace/applyEdit``); explain and review are always commands (``codesaga.explain`` returns
the Markdown and shows the file; ``codesaga.review`` publishes diagnostics). Command arguments
are ``[data]`` with ``data`` the action's ``CodeAction.data`` (JSON with LSP ranges, see
:mod:`codesaga.lsp.action_data`); ``codesaga.explain``/``codesaga.review`` also take
``[{"uri": ..., "range"?: ...}]``. Ranges become str offsets here, with the document they
belong to, and edits become LSP ranges again. The work itself is
:mod:`codesaga.actions.run`'s.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from codesaga.actions.catalogue import list_actions
from codesaga.actions.data import (
    CODE_ACTION_KINDS,
    EXPLAIN_COMMAND,
    REVIEW_COMMAND,
    RUN_COMMAND,
    ActionData,
    ActionId,
    Offer,
)
from codesaga.actions.edits import Edit
from codesaga.actions.messages import action_title, say
from codesaga.actions.run import produce_edit, run_explain, run_review
from codesaga.documents import Document
from codesaga.documents.span import TextSpan
from codesaga.lsp.action_data import WireAction, encode, is_listed
from codesaga.lsp.review import ReviewMemory, findings_to_diagnostics, problem_of
from codesaga.lsp.server import CodeSagaServer
from codesaga.lsp.spans import range_of, span_of
from codesaga.lsp.usage import measure, uri_in
from codesaga.usage import UsageRow

__all__ = ["register", "to_lsp", "workspace_edit"]


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


def workspace_edit(doc: Document, edit: Edit, *, versioned: bool) -> types.WorkspaceEdit:
    """``edit`` on ``doc`` as a WorkspaceEdit: with ``versioned``, ``documentChanges`` naming
    ``doc.version`` (the client refuses it for another version), else plain ``changes`` (for
    clients that cannot take ``documentChanges``)."""
    rng = range_of(doc, TextSpan(edit.start, edit.end))
    text_edit = types.TextEdit(range=rng, new_text=edit.new_text)
    if not versioned:
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


def to_lsp(
    offer: Offer,
    doc: Document,
    diagnostic: types.Diagnostic | None,
    *,
    resolves: bool,
    literals: bool,
) -> types.CodeAction | types.Command:
    """``offer`` on ``doc`` as the client takes it: a CodeAction (fixing ``diagnostic``) whose
    model work happens on resolve or, for explain/review and clients that cannot resolve
    edits, in its command; a bare Command for clients without CodeAction literals."""
    data = encode(offer.data, doc)
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
        diagnostics=[diagnostic] if diagnostic is not None else None,
        is_preferred=True if offer.preferred else None,
        data=data,
        command=command,
    )


def _command_data(ls: CodeSagaServer, args: tuple[Any, ...], action: ActionId) -> ActionData:
    """The action data in an explain/review command's arguments, its range decoded in the
    current document: a listed action's data, or for commands run by hand
    ``{"uri": ..., "range"?: ...}`` (the current version, the whole file/cursor)."""
    value = args[0] if args else None
    if isinstance(value, dict) and not is_listed(value) and isinstance(value.get("uri"), str):
        doc = ls.document(value["uri"], parsed=False)
        return WireAction.by_hand(doc.uri, doc.version, action, value).decode(doc)
    wire = WireAction.from_json(value)
    return wire.decode(ls.document(wire.uri, parsed=False))


def _edit_data(ls: CodeSagaServer, wire: WireAction) -> ActionData:
    """The data of a listed edit action, decoded in the current document (see
    :meth:`WireAction.decode_listed`)."""
    return wire.decode_listed(ls.document(wire.uri, parsed=False))


async def _measured_edit(
    ls: CodeSagaServer, wire: WireAction
) -> tuple[tuple[Document, Edit] | None, UsageRow]:
    """:func:`produce_edit` for a listed edit action, measured as ``action.<kind>`` (source
    ``none``, nothing shown, when the model suggested no change); the result and its usage
    row."""
    with measure(ls, f"action.{wire.action}", wire.uri) as row:
        result = await produce_edit(ls, _edit_data(ls, wire))
        if result is None:
            row.source, row.shown = "none", False
    return result, row


def register(server: CodeSagaServer) -> None:
    """Attach the code action handlers and commands to ``server``."""
    reviews = ReviewMemory()

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=list(CODE_ACTION_KINDS), resolve_provider=True),
    )
    def code_action(
        ls: CodeSagaServer, params: types.CodeActionParams
    ) -> list[types.CodeAction | types.Command]:
        doc = ls.document(params.text_document.uri)
        selection = span_of(doc, params.range)
        diagnostics = reviews.restore(doc.uri, params.context.diagnostics)
        problems = [problem_of(doc, d) for d in diagnostics]
        offers = list_actions(
            doc,
            selection,
            problems,
            ls.language,
            only=params.context.only,
            style_guide=ls.settings.style_guide,
        )
        by_problem = {id(p): d for p, d in zip(problems, diagnostics, strict=True)}
        resolves, literals = _resolves_edits(ls), _takes_literals(ls)
        return [
            to_lsp(o, doc, by_problem.get(id(o.problem)), resolves=resolves, literals=literals)
            for o in offers
        ]

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: CodeSagaServer, action: types.CodeAction) -> types.CodeAction:
        wire = WireAction.from_json(action.data)
        if wire.action in ("explain", "review"):
            return action  # command-based: nothing to resolve
        result, row = await _measured_edit(ls, wire)
        if result is not None:
            action.edit = workspace_edit(*result, versioned=_document_changes(ls))
        return action

    @server.command(RUN_COMMAND)
    async def run_action(ls: CodeSagaServer, *args: Any) -> dict[str, Any]:
        wire = WireAction.from_json(args[0] if args else None)
        if wire.action == "explain":
            return {"applied": False, "markdown": await explain(ls, *args)}
        if wire.action == "review":
            return {"applied": False, **await review(ls, *args)}
        result, row = await _measured_edit(ls, wire)
        if result is None:
            return {"applied": False}
        response = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(
                edit=workspace_edit(*result, versioned=_document_changes(ls)),
                label=action_title(wire.action, ls.language),
            )
        )
        if response.applied:  # the user's client took the edit
            ls.usage.accept(row.id, len(result[1].new_text))
        else:
            reason = f": {response.failure_reason}" if response.failure_reason else ""
            ls.show(say("not_applied", ls.language, reason=reason))
        return {"applied": bool(response.applied)}

    @server.command(EXPLAIN_COMMAND)
    async def explain(ls: CodeSagaServer, *args: Any) -> str:
        with measure(ls, "action.explain", uri_in(args)):
            explanation = await run_explain(ls, _command_data(ls, args, "explain"))
        if explanation.path is not None:
            await ls.show_markdown(explanation.path, explanation.markdown)
        return explanation.markdown

    @server.command(REVIEW_COMMAND)
    async def review(ls: CodeSagaServer, *args: Any) -> dict[str, Any]:
        with measure(ls, "action.review", uri_in(args)):
            outcome = await run_review(ls, _command_data(ls, args, "review"))
        doc = outcome.doc
        if outcome.publish:
            diagnostics = findings_to_diagnostics(doc, outcome.findings)
            reviews.remember(doc.uri, diagnostics)
            ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(
                    uri=doc.uri, diagnostics=diagnostics, version=doc.version
                )
            )
        ls.show(outcome.message)
        return {"findings": len(outcome.findings), "message": outcome.message}
