"""Inline completion end to end: a real server, the real Gemma 3 270M model, a real LSP client."""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient, client_capabilities

from .conftest import FIXTURES, config, inline_params, open_fixture, start, strip_markers

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="module")]
INIT: dict[str, types.InitializeResult] = {}


def _vscode_with_inline() -> types.ClientCapabilities:
    caps = client_capabilities("visual-studio-code")
    assert caps.text_document is not None
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    return caps


@pytest_lsp.fixture(config=config(), scope="module")
async def client(lsp_client: LanguageClient):
    lsp_client.set_configuration({"maxTokens": 24}, section="codesaga")
    INIT["result"] = await start(lsp_client, _vscode_with_inline())
    yield
    await lsp_client.shutdown_session()


async def test_capabilities(client: LanguageClient) -> None:
    caps = INIT["result"].capabilities
    assert caps.inline_completion_provider is not None
    assert caps.completion_provider is not None
    sync = caps.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions)
    assert sync.change == types.TextDocumentSyncKind.Incremental


async def test_progress_then_inline_completion(client: LanguageClient) -> None:
    uri, _text, positions = open_fixture(client, "inventory.py", "python")
    result = await client.text_document_inline_completion_async(inline_params(uri, positions[1]))
    assert isinstance(result, types.InlineCompletionList)
    assert result.items, "the real model gave no suggestion"
    item = result.items[0]
    assert isinstance(item.insert_text, str) and item.insert_text.strip()
    assert "\n" not in item.insert_text  # mid-line -> single line
    assert item.range is not None and item.range.start == positions[1]
    assert item.command is not None and item.command.command == "codesaga.acceptInlineCompletion"
    # the model load was reported with $/progress, begin then end
    kinds = [type(v).__name__ for reports in client.progress_reports.values() for v in reports]
    assert "WorkDoneProgressBegin" in kinds and "WorkDoneProgressEnd" in kinds


async def test_typescript_and_cache(client: LanguageClient) -> None:
    uri, _text, positions = open_fixture(client, "cart.ts", "typescript")
    first = await client.text_document_inline_completion_async(inline_params(uri, positions[0]))
    second = await client.text_document_inline_completion_async(inline_params(uri, positions[0]))
    assert isinstance(first, types.InlineCompletionList) and isinstance(
        second, types.InlineCompletionList
    )
    assert [i.insert_text for i in first.items] == [i.insert_text for i in second.items]
    assert second.items and second.items[0].command is not None
    assert second.items[0].command.arguments is not None
    assert second.items[0].command.arguments[0] == "cache"


async def test_completion_fallback(client: LanguageClient) -> None:
    uri, _text, positions = open_fixture(client, "inventory.py", "python")
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=positions[1]
        )
    )
    assert isinstance(result, types.CompletionList)
    assert len(result.items) == 1
    item = result.items[0]
    assert item.text_edit is not None and isinstance(item.text_edit, types.TextEdit)
    assert item.text_edit.new_text.strip()
    assert item.text_edit.range.end == positions[1]


async def test_superseded_request_is_cancelled(client: LanguageClient) -> None:
    uri, _text, positions = open_fixture(client, "cart.ts", "typescript")
    # a position not asked before (no cache hit), then a newer request for the same document
    older = asyncio.ensure_future(
        client.text_document_inline_completion_async(
            inline_params(uri, types.Position(line=13, character=4))
        )
    )
    await asyncio.sleep(0.05)
    newer = asyncio.ensure_future(
        client.text_document_inline_completion_async(
            inline_params(uri, types.Position(line=24, character=4))
        )
    )
    with pytest.raises(JsonRpcException) as excinfo:
        await older
    assert excinfo.value.code == -32800  # RequestCancelled
    assert isinstance(await newer, types.InlineCompletionList)


async def test_bad_requests_answered_with_errors(client: LanguageClient) -> None:
    with pytest.raises(JsonRpcException) as unknown:
        await client.text_document_inline_completion_async(
            inline_params("file:///never/opened.py", types.Position(line=0, character=0))
        )
    assert unknown.value.code == -32602  # InvalidParams
    uri, text, _positions = open_fixture(client, "inventory.py", "python")
    with pytest.raises(JsonRpcException) as past_end:
        await client.text_document_inline_completion_async(
            inline_params(uri, types.Position(line=len(text.splitlines()) + 50, character=0))
        )
    assert past_end.value.code == -32602
    for error in (unknown.value, past_end.value):  # one clear message, in the reply
        assert error.message.startswith("CodeSaga: ") and "Traceback" not in error.message
    assert "never/opened.py" in unknown.value.message
    # a notification cannot be answered: the client's mistake goes to its log, not a popup
    shown, logged = len(client.messages), len(client.log_messages)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(
                uri="file:///never/opened.py", version=2
            ),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="x = 1\n")],
        )
    )
    # the server keeps serving
    result = await client.text_document_inline_completion_async(
        inline_params(uri, types.Position(line=0, character=0))
    )
    assert isinstance(result, types.InlineCompletionList)
    assert [m.message for m in client.messages[shown:]] == []
    new = [m.message for m in client.log_messages[logged:]]
    assert len([m for m in new if "change ignored" in m and "never/opened.py" in m]) == 1, new
    assert not any("Error in server" in m.message for m in client.messages)


async def test_invalid_settings_keep_previous(client: LanguageClient) -> None:
    client.set_configuration({"maxTokens": -5, "temperature": "hot"}, section="codesaga")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    for _ in range(50):
        if any("invalid settings" in m.message for m in client.messages):
            break
        await asyncio.sleep(0.1)
    messages = [m.message for m in client.messages if "invalid settings" in m.message]
    assert messages and "maxTokens" in messages[-1]
    uri, _text, positions = open_fixture(client, "inventory.py", "python")
    result = await client.text_document_inline_completion_async(inline_params(uri, positions[1]))
    assert isinstance(result, types.InlineCompletionList)
    client.set_configuration({"maxTokens": 24}, section="codesaga")


async def counts(client: LanguageClient) -> dict[str, int]:
    """The server's usage counters (``codesaga.stats``)."""
    snapshot = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codesaga.stats")
    )
    return dict(snapshot["counts"])


async def test_prefetch_after_acceptance(client: LanguageClient) -> None:
    uri, _text, positions = open_fixture(client, "inventory.py", "python")
    pos = positions[0]
    shown = await client.text_document_inline_completion_async(inline_params(uri, pos))
    assert isinstance(shown, types.InlineCompletionList) and shown.items
    item = shown.items[0]
    assert isinstance(item.insert_text, str) and item.command is not None
    models_before = (await counts(client)).get("model", 0)
    # accept: the client inserts the text and runs the item's command
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=pos, end=pos), text=item.insert_text
                )
            ],
        )
    )
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=item.command.command, arguments=item.command.arguments)
    )
    lines = item.insert_text.split("\n")
    after = types.Position(
        line=pos.line + len(lines) - 1,
        character=(pos.character if len(lines) == 1 else 0) + len(lines[-1]),
    )

    for _ in range(300):  # the prefetch runs in the background, through the model
        if (await counts(client)).get("model", 0) > models_before:
            break
        await asyncio.sleep(0.1)
    before = await counts(client)
    assert before.get("prefetch") == 1
    await client.text_document_inline_completion_async(inline_params(uri, after))
    now = await counts(client)
    # the next request at the new cursor was answered from the cache, not the model
    assert now.get("cache", 0) == before.get("cache", 0) + 1
    assert now.get("model", 0) == before.get("model", 0)


async def test_opening_a_document_prefills_its_prompt(client: LanguageClient) -> None:
    text = (FIXTURES / "orders.py").read_text(encoding="utf-8")
    text, positions = strip_markers(text)
    uri = "file:///prefill/orders.py"
    prefilled = (await counts(client)).get("prefill", 0)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    for _ in range(300):  # the prefill runs in the background, through the model
        if (await counts(client)).get("prefill", 0) > prefilled:
            break
        await asyncio.sleep(0.1)
    generations = (await counts(client)).get("generations", 0)
    params = inline_params(uri, positions[0])
    params.context.trigger_kind = types.InlineCompletionTriggerKind.Invoked
    result = await client.text_document_inline_completion_async(params)
    assert isinstance(result, types.InlineCompletionList)
    for _ in range(300):  # its generation is recorded when it ends (after its lookahead)
        if (await counts(client)).get("generations", 0) > generations:
            break
        await asyncio.sleep(0.1)
    snapshot = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codesaga.stats")
    )
    new = snapshot["generations"][generations - snapshot["counts"]["generations"] :]
    # the request's prompt came from the KV cache the prefill filled, but for its last tokens
    assert new and new[0]["prompt_tokens"] > 50 and new[0]["evaluated_tokens"] <= 3
