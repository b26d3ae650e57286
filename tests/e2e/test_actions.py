"""Code actions end to end: a real server, the real Gemma 3 270M model, a real LSP client.

The tiny base model often answers with junk, so each model-backed action is checked for the
two outcomes CodeSaga allows: an edit on the listed document version that still parses, or no
edit and a ``window/showMessage`` saying why. What the model produced is printed (``-s``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Union
from urllib.parse import unquote, urlsplit

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from codesaga.documents import DocumentStore
from codesaga.syntax.languages import new_parser

from .conftest import SERVER, open_fixture, server_env, start

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="module")]
APPLIED: list[types.ApplyWorkspaceEditParams] = []
FIXTURE = "orders.py"


def make_client(features: dict[str, Any] | None = None) -> LanguageClient:
    """pytest-lsp's client, decoding CodeActions that carry a command as CodeActions (its
    default hook turns them into bare Commands), and accepting workspace/applyEdit.
    ``features``: handlers that replace pytest-lsp's own (by method name)."""
    client = LanguageClient(converter_factory=default_converter)
    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES, **(features or {})})
    converter = client.protocol._converter

    def code_action_or_command(value: Any, _type: Any) -> types.Command | types.CodeAction:
        if isinstance(value.get("command"), str):
            return converter.structure(value, types.Command)
        return converter.structure(value, types.CodeAction)

    converter.register_structure_hook(
        Union[types.Command, types.CodeAction],  # noqa: UP007 - the key lsprotocol registers
        code_action_or_command,
    )

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(
        client: LanguageClient, params: types.ApplyWorkspaceEditParams
    ) -> types.ApplyWorkspaceEditResult:
        APPLIED.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    return client


def _config(**env: str) -> ClientServerConfig:
    return ClientServerConfig(
        server_command=SERVER, server_env=server_env(**env), client_factory=make_client
    )


@pytest_lsp.fixture(config=_config(), scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, client_capabilities("visual-studio-code"), language="en")
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=_config(CODESAGA_MODEL="/nonexistent/model.gguf"), scope="module")
async def modelless(lsp_client: LanguageClient):
    await start(lsp_client, client_capabilities("visual-studio-code"), language="en")
    yield
    await lsp_client.shutdown_session()


# ----- helpers ---------------------------------------------------------------------------------


async def list_actions(
    client: LanguageClient,
    uri: str,
    where: types.Range,
    diagnostics: list[types.Diagnostic] | None = None,
    only: list[str] | None = None,
) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=where,
            context=types.CodeActionContext(diagnostics=diagnostics or [], only=only),
        )
    )
    assert result is not None
    assert all(isinstance(a, types.CodeAction) for a in result)
    return [a for a in result if isinstance(a, types.CodeAction)]


def cursor(pos: types.Position) -> types.Range:
    return types.Range(start=pos, end=pos)


def by_action(actions: list[types.CodeAction], action: str) -> types.CodeAction:
    found = [a for a in actions if isinstance(a.data, dict) and a.data.get("action") == action]
    assert found, f"no {action} action in {[a.title for a in actions]}"
    return found[0]


def apply_edits(uri: str, version: int, text: str, edit: types.WorkspaceEdit) -> str:
    """The text after ``edit``, which must be one TextDocumentEdit on ``uri`` at ``version``."""
    assert edit.document_changes is not None and len(edit.document_changes) == 1
    change = edit.document_changes[0]
    assert isinstance(change, types.TextDocumentEdit)
    assert change.text_document.uri == uri
    assert change.text_document.version == version
    doc = DocumentStore().open(uri, "python", version, text)
    out = text
    for text_edit in sorted(change.edits, key=lambda e: doc.offset_at(e.range.start), reverse=True):
        assert isinstance(text_edit, types.TextEdit)
        start, end = doc.offset_at(text_edit.range.start), doc.offset_at(text_edit.range.end)
        out = out[:start] + text_edit.new_text + out[end:]
    return out


def parses(text: str) -> bool:
    return not new_parser("python").parse(text.encode("utf-8")).root_node.has_error


async def new_message(client: LanguageClient, seen: int, prefix: str) -> str:
    """The first showMessage after index ``seen`` that starts with ``prefix``."""
    for _ in range(50):
        for message in client.messages[seen:]:
            if message.message.startswith(prefix):
                return message.message
        await asyncio.sleep(0.1)
    raise AssertionError(f"no message starting {prefix!r}: {client.messages[seen:]}")


async def resolve_outcome(
    client: LanguageClient, action: types.CodeAction, uri: str, text: str, title: str
) -> tuple[str, str]:
    """Resolve ``action``; ("edit", new text) or ("refused", the message saying why)."""
    seen = len(client.messages)
    started = time.perf_counter()
    resolved = await client.code_action_resolve_async(action)
    seconds = time.perf_counter() - started
    if resolved.edit is not None:
        new_text = apply_edits(uri, 1, text, resolved.edit)
        assert new_text != text
        assert parses(new_text), "CodeSaga sent an edit that does not parse"
        print(f"\n[{title}] edit in {seconds:.1f} s:\n{new_text}")
        return "edit", new_text
    message = await new_message(client, seen, f"CodeSaga: {title}")
    print(f"\n[{title}] no edit in {seconds:.1f} s: {message}")
    return "refused", message


def stats(client: LanguageClient) -> Any:
    return client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codesaga.stats")
    )


# ----- tests -----------------------------------------------------------------------------------


async def test_listing_is_instant_and_never_runs_the_model(client: LanguageClient) -> None:
    uri, _text, positions = open_fixture(client, FIXTURE, "python")
    problem = types.Diagnostic(range=cursor(positions[1]), message="undefined name 'totl'")
    started = time.perf_counter()
    actions = await list_actions(client, uri, cursor(positions[0]), [problem])
    seconds = time.perf_counter() - started
    model_ready = any(
        isinstance(r, types.WorkDoneProgressEnd) and "ready" in (r.message or "")
        for reports in client.progress_reports.values()
        for r in reports
    )
    print(
        f"\n[list] {len(actions)} actions in {seconds * 1000:.0f} ms (model loaded: {model_ready})"
    )
    assert seconds < 1.0
    kinds = {a.data["action"]: a.kind for a in actions if isinstance(a.data, dict)}
    assert kinds == {
        "fix": "quickfix",
        "refactor": "refactor.rewrite",
        "docstring": "refactor.rewrite",
        "explain": "source.codesaga.explain",
        "review": "source.codesaga.review",
    }
    for action in actions:
        assert action.edit is None  # the model runs on resolve, not here
        assert isinstance(action.data, dict)
        assert action.data["uri"] == uri and action.data["version"] == 1
    assert list(by_action(actions, "fix").diagnostics or []) == [problem]
    explain, review = by_action(actions, "explain"), by_action(actions, "review")
    assert explain.command is not None and explain.command.command == "codesaga.explain"
    assert review.command is not None and review.command.command == "codesaga.review"
    assert by_action(actions, "refactor").command is None  # this client resolves edits
    counts = (await stats(client))["counts"]
    assert not [name for name in counts if name.startswith("action_")]


async def test_listing_works_without_a_model_and_resolve_fails_cleanly(
    modelless: LanguageClient,
) -> None:
    uri, _text, positions = open_fixture(modelless, FIXTURE, "python")
    actions = await list_actions(modelless, uri, cursor(positions[0]))
    assert {a.data["action"] for a in actions if isinstance(a.data, dict)} >= {
        "refactor",
        "docstring",
        "explain",
        "review",
    }
    with pytest.raises(JsonRpcException) as failed:
        await modelless.code_action_resolve_async(by_action(actions, "refactor"))
    assert failed.value.code == -32803  # RequestFailed: no model
    with pytest.raises(JsonRpcException) as unknown:
        await list_actions(modelless, "file:///never/opened.py", cursor(positions[0]))
    assert unknown.value.code == -32602  # InvalidParams
    # commands run by hand take {"uri"}; they get as far as needing the model
    with pytest.raises(JsonRpcException) as no_model:
        await modelless.workspace_execute_command_async(
            types.ExecuteCommandParams(command="codesaga.review", arguments=[{"uri": uri}])
        )
    assert no_model.value.code == -32803
    # the server is still serving
    assert await list_actions(modelless, uri, cursor(positions[0]))


async def test_refactor(client: LanguageClient) -> None:
    uri, text, positions = open_fixture(client, FIXTURE, "python")
    action = by_action(await list_actions(client, uri, cursor(positions[0])), "refactor")
    assert action.title == "CodeSaga: Refactor `skus`"
    outcome, detail = await resolve_outcome(client, action, uri, text, "Refactor")
    if outcome == "edit":
        assert "def skus(items):" in detail  # a definition keeps its name
        assert detail.split("def skus")[0] == text.split("def skus")[0]  # nothing else moved
    else:
        assert "nothing was changed" in detail or "no change" in detail
    progress = [r for reports in client.progress_reports.values() for r in reports]
    assert any(
        isinstance(r, types.WorkDoneProgressBegin) and "Refactor" in (r.message or "")
        for r in progress
    )


async def test_fix(client: LanguageClient) -> None:
    uri, text, positions = open_fixture(client, FIXTURE, "python")
    problem = types.Diagnostic(
        range=types.Range(
            start=positions[1],
            end=types.Position(line=positions[1].line, character=positions[1].character + 4),
        ),
        message="undefined name 'totl'",
        source="pyflakes",
        code="F821",
    )
    action = by_action(await list_actions(client, uri, problem.range, [problem]), "fix")
    outcome, detail = await resolve_outcome(client, action, uri, text, "Fix")
    if outcome == "edit":  # only the smallest statement around the problem was rewritten
        assert detail.split("\n")[: positions[1].line] == text.split("\n")[: positions[1].line]
    else:
        assert "nothing was changed" in detail or "no change" in detail


async def test_docstring(client: LanguageClient) -> None:
    uri, text, positions = open_fixture(client, FIXTURE, "python")
    action = by_action(await list_actions(client, uri, cursor(positions[0])), "docstring")
    assert action.title == "CodeSaga: Add docstring to `skus`"
    outcome, detail = await resolve_outcome(client, action, uri, text, "Doc comment")
    if outcome == "edit":  # CodeSaga places and formats it: always the body's first statement
        lines = detail.split("\n")
        header = lines.index("def skus(items):")
        assert lines[header + 1].startswith('    """')
    else:
        assert "no usable documentation" in detail


async def test_explain(client: LanguageClient) -> None:
    uri, _text, positions = open_fixture(client, FIXTURE, "python")
    action = by_action(await list_actions(client, uri, cursor(positions[0])), "explain")
    assert action.command is not None
    seen, shown = len(client.messages), len(client.shown_documents)
    started = time.perf_counter()
    markdown = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments
        )
    )
    print(f"\n[Explain] in {time.perf_counter() - started:.1f} s:\n{markdown}")
    assert isinstance(markdown, str)
    if markdown:
        assert len(client.shown_documents) == shown + 1
        shown_uri = client.shown_documents[-1].uri
        path = Path(unquote(urlsplit(shown_uri).path))
        assert path.suffix == ".md" and path.parent.name == "explain"
        written = path.read_text(encoding="utf-8")
        assert markdown in written and written.startswith("# `skus`")
    else:
        assert "no explanation" in await new_message(client, seen, "CodeSaga:")


async def test_review(client: LanguageClient) -> None:
    uri, _text, positions = open_fixture(client, FIXTURE, "python")
    action = by_action(await list_actions(client, uri, cursor(positions[0])), "review")
    assert action.command is not None
    seen = len(client.messages)
    started = time.perf_counter()
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments
        )
    )
    message = await new_message(client, seen, "CodeSaga:")
    published = client.diagnostics.get(uri, [])
    print(f"\n[Review] in {time.perf_counter() - started:.1f} s: {message}")
    for diagnostic in published:
        fix = diagnostic.data.get("fix") if isinstance(diagnostic.data, dict) else None
        print(f"  line {diagnostic.range.start.line + 1}: {diagnostic.message} => {fix}")
    assert result["message"] == message
    if result["findings"]:
        assert len(published) == result["findings"]
        assert all(d.source == "codesaga" for d in published)
        assert all(
            d.severity in (types.DiagnosticSeverity.Information, types.DiagnosticSeverity.Hint)
            for d in published
        )
        assert "finding(s) as diagnostics" in message
    else:
        assert "nothing to report" in message or "could not be read as findings" in message


async def test_review_fix_is_a_quickfix_and_runs_as_command(client: LanguageClient) -> None:
    """A review diagnostic's suggested fix, as the client sends it back: offered as a preferred
    quickfix, resolved without the model, and also run through codesaga.runAction (clients
    without resolve support), which sends workspace/applyEdit."""
    uri, text, _positions = open_fixture(client, FIXTURE, "python")
    line = text.split("\n").index("    total=0")
    finding = types.Diagnostic(
        range=types.Range(
            start=types.Position(line=line, character=4),
            end=types.Position(line=line, character=11),
        ),
        message="missing spaces around `=`",
        severity=types.DiagnosticSeverity.Information,
        source="codesaga",
        code="review",
        data={"fix": "total = 0", "lineText": "    total=0"},
    )
    actions = await list_actions(client, uri, finding.range, [finding], only=["quickfix"])
    apply = by_action(actions, "apply")
    assert apply.is_preferred and apply.title == "CodeSaga: Apply suggestion: total = 0"
    resolved = await client.code_action_resolve_async(apply)
    assert resolved.edit is not None
    new_text = apply_edits(uri, 1, text, resolved.edit)
    assert "\n    total = 0\n" in new_text and parses(new_text)
    before = len(APPLIED)
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codesaga.runAction", arguments=[apply.data])
    )
    assert result == {"applied": True}
    assert len(APPLIED) == before + 1
    assert apply_edits(uri, 1, text, APPLIED[-1].edit) == new_text


async def test_stale_version_is_refused(client: LanguageClient) -> None:
    uri, _text, positions = open_fixture(client, FIXTURE, "python")
    action = by_action(await list_actions(client, uri, cursor(positions[0])), "refactor")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=cursor(types.Position(line=0, character=0)), text="# edited\n"
                )
            ],
        )
    )
    seen = len(client.messages)
    started = time.perf_counter()
    resolved = await client.code_action_resolve_async(action)
    assert resolved.edit is None
    message = await new_message(client, seen, "CodeSaga: Refactor was not applied")
    assert "version 1, now 2" in message
    assert time.perf_counter() - started < 1.0  # refused before any model work


async def test_korean_titles_follow_the_language_setting(client: LanguageClient) -> None:
    client.set_configuration({"language": "ko"}, section="codesaga")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    uri, _text, positions = open_fixture(client, FIXTURE, "python")
    for _ in range(50):
        actions = await list_actions(client, uri, cursor(positions[0]))
        if by_action(actions, "refactor").title == "CodeSaga: `skus` 리팩터링":
            break
        await asyncio.sleep(0.1)
    assert by_action(actions, "refactor").title == "CodeSaga: `skus` 리팩터링"
    assert by_action(actions, "docstring").title == "CodeSaga: `skus`에 독스트링 추가"
    client.set_configuration({"language": "en"}, section="codesaga")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
