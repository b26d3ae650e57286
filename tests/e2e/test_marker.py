"""Issue 17: code typed into a buffer reaches no log and no file of the cache directory but
those that hold code by design.

A marker string is typed as code (identifiers) into a buffer; every feature runs on it
(inline completion, completion, each code action listed and resolved or run, explain, review,
chat as a request and as a command) with a client that cannot show documents, so replies and
explanations come back as messages — the path where they used to be logged. Then the marker
is looked for in the server's ``--log-file``, its stderr, the client's ``window/logMessage``
notifications and every file under the cache directory. Only the completion cache, the chat
sessions and the explanation documents (which quote the code they explain) may hold it, and
those files must be 0600 (the completion cache's own modes are tested beside cache.py).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import stat
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from codesaga.lsp.chat import plain

from .conftest import inline_params, server_env, start
from .test_actions import by_action, list_actions, make_client

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="module")]

MARKER = f"zq_marker_{uuid.uuid4().hex[:12]}"
ENV = server_env()
CACHE = Path(ENV["CODESAGA_CACHE_DIR"])
LOG_FILE = CACHE.parent / f"{CACHE.name}-server.log"
STDERR = CACHE.parent / f"{CACHE.name}-stderr.txt"
CODE_HOLDERS = ("completions", "chat", "explain")
"""Top-level folders of the cache dir that hold code by design."""
URI = "file:///work/marker/orders.py"
BEFORE = (
    "import json\n\n\n"
    "def skus(items):\n"
    "    result = []\n"
    "    for item in items:\n"
    "        result.append(item.sku)\n"
    "    return result\n\n\n"
    "def order_total(order):\n"
    "    total = 0\n"
    "    for line in order.lines:\n"
    "        total += line.price\n"
    "    return totl\n"
)


def _config() -> ClientServerConfig:
    serve = [sys.executable, "-m", "codesaga", "serve", "--log-file", str(LOG_FILE)]
    command = f"exec {shlex.join(serve)} 2>>{shlex.quote(str(STDERR))}"
    return ClientServerConfig(
        server_command=["/bin/sh", "-c", command], server_env=ENV, client_factory=make_client
    )


@pytest_lsp.fixture(config=_config(), scope="module")
async def client(lsp_client: LanguageClient):
    capabilities = client_capabilities("visual-studio-code")
    assert capabilities.window is not None
    capabilities.window.show_document = None  # replies and explanations come as messages
    await start(lsp_client, capabilities, language="en", maxTokens=32, temperature=0)
    yield
    await lsp_client.shutdown_session()


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def type_marker(client: LanguageClient) -> tuple[str, list[str]]:
    """Open BEFORE, then type the marker into it as code (version 2); returns the text and
    its lines."""
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=URI, language_id="python", version=1, text=BEFORE
            )
        )
    )
    typed = f"    {MARKER} = len(items)\n"
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=pos(4, 0), end=pos(4, 0)), text=typed
                )
            ],
        )
    )
    text = BEFORE.replace("def skus(items):\n", "def skus(items):\n" + typed)
    return text, text.split("\n")


async def run_command(client: LanguageClient, command: types.Command | None) -> Any:
    assert command is not None
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
    )


async def test_the_marker_stays_out_of_logs_and_the_cache(client: LanguageClient) -> None:
    text, lines = type_marker(client)
    marker_line = next(n for n, line in enumerate(lines) if MARKER in line)
    end_of_marker = pos(marker_line, len(lines[marker_line]))
    inside = pos(marker_line + 1, 8)

    # completion, inline and classic
    await client.text_document_inline_completion_async(inline_params(URI, end_of_marker))
    await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=URI), position=end_of_marker
        )
    )

    # every code action: listed, then resolved (edits) or run (explain, review)
    totl = next(n for n, line in enumerate(lines) if "return totl" in line)
    problem = types.Diagnostic(
        range=types.Range(start=pos(totl, 11), end=pos(totl, 15)),
        message=f"undefined name 'totl' (did you mean {MARKER}?)",
        source="pyflakes",
    )
    listed = await list_actions(client, URI, types.Range(start=inside, end=inside))
    fix = by_action(await list_actions(client, URI, problem.range, [problem]), "fix")
    for action in [by_action(listed, "refactor"), by_action(listed, "docstring"), fix]:
        await client.code_action_resolve_async(action)
    await run_command(client, by_action(listed, "explain").command)
    await run_command(client, by_action(listed, "review").command)

    # chat, as a request and as a command (its reply shown as a message)
    document = {"uri": URI}
    selection = {
        "start": {"line": marker_line, "character": 0},
        "end": {"line": totl, "character": 0},
    }
    future = client.protocol.send_request(
        "codesaga/chat",
        {"message": f"What does {MARKER} count?", "textDocument": document, "range": selection},
    )
    reply = plain(await asyncio.wrap_future(future))
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="codesaga.chat",
            arguments=[{"sessionId": reply["sessionId"], "message": f"Rename {MARKER}."}],
        )
    )
    assert any(MARKER in m.message for m in client.messages) or reply["reply"]

    # the logs: the server's log file, its stderr, the client's log
    logged = LOG_FILE.read_text(encoding="utf-8")
    assert "action " in logged or "chat:" in logged, "the log file is the server's"
    assert MARKER not in logged, [line for line in logged.splitlines() if MARKER in line]
    stderr = STDERR.read_text(encoding="utf-8") if STDERR.exists() else ""
    assert MARKER not in stderr, [line for line in stderr.splitlines() if MARKER in line]
    assert not [m.message for m in client.log_messages if MARKER in m.message]

    # the cache dir: only the code holders have the marker, in private files
    holders: list[Path] = []
    for root, _dirs, files in os.walk(CACHE):
        for name in files:
            path = Path(root, name)
            if MARKER.encode() not in path.read_bytes() and MARKER not in name:
                continue
            relative = path.relative_to(CACHE)
            assert relative.parts[0] in CODE_HOLDERS, f"code in {relative}"
            holders.append(relative)
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{relative} not 0600"
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert any(p.parts[0] == "chat" for p in holders), "the chat session holds the code"
    print(f"\n[marker] {MARKER} found only in: {sorted(map(str, holders))}")
