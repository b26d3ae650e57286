"""Repository context with the real code model and a real server: the workspace is indexed in
the background after ``initialized``, and a completion uses what another file defines."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from codesaga.demo import FIXTURES, strip_markers

from .conftest import code_model, config

pytestmark = pytest.mark.model

WORKSPACE = Path(tempfile.mkdtemp(prefix="codesaga-ledger-")) / "ledger-app"
shutil.copytree(FIXTURES / "workspaces" / "ledger", WORKSPACE)
REPORT = WORKSPACE / "ledger" / "report.py"
TEXT, (CURSOR,) = strip_markers(REPORT.read_text(encoding="utf-8"))
REPORT.write_text(TEXT, encoding="utf-8")  # on disk as in the editor, marker removed


@pytest_lsp.fixture(config=config(CODESAGA_MODEL=str(code_model())), scope="module")
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("neovim@v0.11.0"),
            initialization_options={"temperature": 0.0},
            locale="en",
            root_uri=WORKSPACE.as_uri(),
        )
    )
    yield
    await lsp_client.shutdown_session()


async def index_status(client: LanguageClient) -> dict[str, Any]:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codesaga.stats")
    )
    return result["index"]


@pytest.mark.asyncio(loop_scope="module")
async def test_the_workspace_is_indexed_in_the_background(client: LanguageClient) -> None:
    deadline = time.monotonic() + 120
    status = await index_status(client)
    while status["state"] in ("idle", "indexing") and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        status = await index_status(client)
    assert status["state"] == "ready", status
    assert status["files"] == 3 and status["chunks"] >= 3
    assert status["db_bytes"] > 0 and status["peak_rss_bytes"] > 0


@pytest.mark.asyncio(loop_scope="module")
async def test_a_call_gets_the_parameters_defined_in_another_file(
    client: LanguageClient,
) -> None:
    uri = REPORT.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=TEXT
            )
        )
    )
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=CURSOR,
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        )
    )
    assert isinstance(result, types.InlineCompletionList) and result.items
    suggestion = result.items[0].insert_text
    # `fiscal_calendar` is written only in ledger/reconcile.py: the model knows it from the
    # signature the server put in the prompt
    assert isinstance(suggestion, str) and "fiscal_calendar" in suggestion, suggestion
