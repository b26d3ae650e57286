"""Usage kept as local metadata on a real session: a real server with the real Gemma 3 270M
model answers inline completions in two languages, the completion fallback and a code
action, with the client's suggestion events (shown, partly accepted, dismissed); then
``codesaga.stats`` and ``codesaga stats --json`` (same cache dir) show those requests by
feature and language, with the accepted one, and the usage file holds no code."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from lsprotocol.converters import get_converter
from pytest_lsp import LanguageClient, client_capabilities

from codesaga.usage import USAGE_FILE

from .conftest import _SESSION_DIR, FIXTURES, bundled_model, config, inline_params, open_fixture
from .conftest import start as start_session

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="module")]
CONVERTER = get_converter()
CACHE_DIR = Path(tempfile.mkdtemp(prefix="usage-cache-", dir=_SESSION_DIR))


def _vscode_with_inline() -> types.ClientCapabilities:
    caps = client_capabilities("visual-studio-code")
    assert caps.text_document is not None
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    return caps


@pytest_lsp.fixture(config=config(CODESAGA_CACHE_DIR=str(CACHE_DIR)), scope="module")
async def client(lsp_client: LanguageClient):
    lsp_client.set_configuration({"maxTokens": 24}, section="codesaga")
    await start_session(lsp_client, _vscode_with_inline(), maxTokens=24)
    yield
    await lsp_client.shutdown_session()


async def command(client: LanguageClient, name: str, *arguments: Any) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(arguments))
    )


def cli_stats() -> dict[str, Any]:
    """``codesaga stats --json`` in a process of its own, on the server's cache dir."""
    env = {"CODESAGA_CACHE_DIR": str(CACHE_DIR), "CODESAGA_CONFIG": str(CACHE_DIR / "none")}
    done = subprocess.run(
        [sys.executable, "-m", "codesaga", "stats", "--json"],
        env={**__import__("os").environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def tell(client: LanguageClient, method: str, **params: Any) -> None:
    """Send a suggestion event (a notification) as an editor's client does."""
    client.protocol.notify(method, params)


def by_group(summary: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(g["feature"], g["language"]): g for g in summary["groups"]}


async def test_a_real_session_shows_in_codesaga_stats(client: LanguageClient) -> None:
    py_uri, _py, py_positions = open_fixture(client, "inventory.py", "python")
    ts_uri, _ts, ts_positions = open_fixture(client, "cart.ts", "typescript")

    # inline: two python requests (the second at the same place: type-through or cache),
    # one typescript request. The client says both python suggestions were shown; the first
    # is taken a part at a time, then whole (its command); the second is dismissed.
    first = await client.text_document_inline_completion_async(
        inline_params(py_uri, py_positions[1])
    )
    assert isinstance(first, types.InlineCompletionList) and first.items
    accept = first.items[0].command
    assert accept is not None and accept.arguments is not None and len(accept.arguments) == 4
    first_item = CONVERTER.unstructure(first.items[0])
    tell(client, "textDocument/didShowCompletion", item=first_item)
    tell(client, "textDocument/didPartiallyAcceptCompletion", item=first_item, acceptedLength=2)
    await command(client, accept.command, *accept.arguments)
    second = await client.text_document_inline_completion_async(
        inline_params(py_uri, py_positions[1])
    )
    assert isinstance(second, types.InlineCompletionList) and second.items
    second_item = CONVERTER.unstructure(second.items[0])
    tell(client, "textDocument/didShowCompletion", item=second_item)
    # what names no CodeSaga suggestion is dropped, and the server goes on
    tell(client, "textDocument/didPartiallyAcceptCompletion", item=second_item, acceptedLength=-1)
    tell(client, "textDocument/didShowCompletion", item={"insertText": "x"})
    tell(client, "codesaga/didDismissCompletion", item=second_item)
    await client.text_document_inline_completion_async(inline_params(ts_uri, ts_positions[0]))
    # the completion fallback, and a code action (explain, as a command)
    await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=py_uri), position=py_positions[1]
        )
    )
    cursor = {"line": py_positions[1].line, "character": py_positions[1].character}
    markdown = await command(
        client, "codesaga.explain", {"uri": py_uri, "range": {"start": cursor, "end": cursor}}
    )
    assert isinstance(markdown, str)

    served = (await command(client, "codesaga.stats"))["usage"]
    assert served["enabled"] is True
    summary = cli_stats()
    groups = by_group(summary)
    assert by_group(served).keys() == groups.keys()
    assert set(groups) == {
        ("inline", "python"),
        ("inline", "typescript"),
        ("completion", "python"),
        ("action.explain", "python"),
    }
    inline_py = groups[("inline", "python")]
    assert inline_py["requests"] == 2
    assert inline_py["accepted"] == 1 and inline_py["accepted_chars"] == accept.arguments[1]
    assert (inline_py["displayed"], inline_py["dismissed"]) == (2, 1)
    assert inline_py["acceptance_rate"] == 0.5  # one taken of two shown
    assert inline_py["sources"].get("model") == 1  # the first asked the model
    assert inline_py["cache_hit_rate"] == 0.5  # the second was answered without it
    assert inline_py["prompt_tokens"] > 0 and inline_py["generated_tokens"] > 0
    assert inline_py["models"] == [bundled_model().name]
    assert groups[("inline", "typescript")]["requests"] == 1
    explain = groups[("action.explain", "python")]
    assert explain["requests"] == 1 and explain["prompt_tokens"] > 0
    assert explain["latency_p50_ms"] is not None and explain["latency_p50_ms"] > 0
    assert summary["total"]["requests"] == 5


async def test_the_usage_file_is_private_and_holds_no_code(client: LanguageClient) -> None:
    path = CACHE_DIR / USAGE_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    await command(client, "codesaga.stats")  # everything queued is written
    data = b"".join(p.read_bytes() for p in path.parent.iterdir())
    for fixture in ("inventory.py", "cart.ts"):
        assert fixture.encode() not in data  # no file names
        for line in (FIXTURES / fixture).read_text(encoding="utf-8").splitlines():
            if len(line.strip()) >= 12:  # any distinctive line of code
                assert line.strip().encode() not in data, line
