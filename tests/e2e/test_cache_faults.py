"""Completion-cache faults at start (a real server, the real Gemma 3 model): a corrupt cache
is moved aside and the model answers; a ``cacheDir`` that is a file leaves completion without a
cache. Either way the user gets one message, and the model never hangs in "loading"."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from .conftest import SERVER, inline_params, open_fixture, server_env, start

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="module")]

CORRUPT_ENV = server_env()
CORRUPT_CACHE = Path(CORRUPT_ENV["CODESAGA_CACHE_DIR"]) / "completions"
CORRUPT_CACHE.mkdir(parents=True)
(CORRUPT_CACHE / "cache.db").write_bytes(b"not a database" * 1000)

FILE_ENV = server_env()
A_FILE = Path(FILE_ENV["CODESAGA_CACHE_DIR"]) / "cache-dir-is-a-file"
A_FILE.write_text("not a directory")
FILE_ENV["CODESAGA_CACHE_DIR"] = str(A_FILE)
CORRUPT_CONFIG = ClientServerConfig(server_command=SERVER, server_env=CORRUPT_ENV)
FILE_CONFIG = ClientServerConfig(server_command=SERVER, server_env=FILE_ENV)


async def answers(client: LanguageClient) -> list[types.InlineCompletionItem]:
    uri, _text, positions = open_fixture(client, "inventory.py", "python")
    params = inline_params(uri, positions[1])
    result = await asyncio.wait_for(client.text_document_inline_completion_async(params), 200)
    assert isinstance(result, types.InlineCompletionList)
    return result.items


@pytest_lsp.fixture(config=CORRUPT_CONFIG, scope="module")
async def corrupt(lsp_client: LanguageClient):
    await start(lsp_client, client_capabilities("neovim@v0.11.0"))
    yield
    await lsp_client.shutdown_session()


async def test_a_corrupt_cache_is_moved_aside_and_the_model_answers(
    corrupt: LanguageClient,
) -> None:
    assert await answers(corrupt), "the real model gave no suggestion"
    messages = [m.message for m in corrupt.messages if "completion cache" in m.message]
    assert len(messages) == 1 and "completions.corrupt" in messages[0]
    assert (CORRUPT_CACHE.parent / "completions.corrupt" / "cache.db").exists()
    assert (CORRUPT_CACHE / "cache.db").stat().st_mode & 0o777 == 0o600


@pytest_lsp.fixture(config=FILE_CONFIG, scope="module")
async def cache_dir_is_a_file(lsp_client: LanguageClient):
    await start(lsp_client, client_capabilities("neovim@v0.11.0"))
    yield
    await lsp_client.shutdown_session()


async def test_a_cache_dir_that_is_a_file_leaves_completion_working(
    cache_dir_is_a_file: LanguageClient,
) -> None:
    assert await answers(cache_dir_is_a_file), "the real model gave no suggestion"
    messages = [m.message for m in cache_dir_is_a_file.messages if "completion cache" in m.message]
    assert len(messages) == 1 and "completion cache off" in messages[0]
    assert A_FILE.read_text() == "not a directory"
