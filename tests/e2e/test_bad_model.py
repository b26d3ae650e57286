"""A corrupt model file: the user is told, and the server keeps serving."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient, client_capabilities

from .conftest import config, inline_params, open_fixture, start

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="module")]
CORRUPT = Path(tempfile.mkdtemp()) / "corrupt.gguf"
CORRUPT.write_bytes(b"GGUF" + b"\x00" * 1024)  # right magic, truncated body


@pytest_lsp.fixture(config=config(CODESAGA_MODEL=str(CORRUPT)), scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, client_capabilities("neovim@v0.11.0"))
    yield
    await lsp_client.shutdown_session()


async def test_corrupt_model_reported_and_server_alive(client: LanguageClient) -> None:
    for _ in range(100):
        if client.messages:
            break
        await asyncio.sleep(0.1)
    assert any("model failed to load" in m.message for m in client.messages)
    assert client.messages[0].type == types.MessageType.Error
    uri, _text, positions = open_fixture(client, "cart.ts", "typescript")
    with pytest.raises(JsonRpcException) as exc:
        await client.text_document_inline_completion_async(inline_params(uri, positions[0]))
    assert exc.value.code == -32803  # RequestFailed, with the reason
    assert "corrupt.gguf" in exc.value.message
    # still alive and answering
    with pytest.raises(JsonRpcException):
        await client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=positions[0]
            )
        )
