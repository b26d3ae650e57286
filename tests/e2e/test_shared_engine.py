"""``backend: openai`` end to end: a real engine (``codesaga engine``, which starts
llama-cpp-python's ``llama_cpp.server`` with the bundled Gemma 3 270M on 127.0.0.1, a free
port and an API key) and real ``codesaga serve`` processes driven by pytest-lsp's client.

Through it: ``codesaga doctor``, an inline completion, a code action, a streamed chat,
cancellation mid-stream; then the faults that can be made real — a wrong model name, a
wrong API key, the engine stopped — each said once however many requests fail, and the
recovery when the engine is started again. Assertions are on what the client receives, not
on the tiny model's wording.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES

from codesaga.bench.shared import free_port
from codesaga.bench.shared import start_engine as bench_engine
from codesaga.lsp.chat import plain

from .conftest import SERVER, bundled_model, inline_params, open_fixture, server_env, start
from .test_actions import by_action, cursor, list_actions, make_client

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="module")]


PORT = free_port()
URL = f"http://127.0.0.1:{PORT}/v1"
KEY = f"e2e-{uuid.uuid4().hex}"
ALIAS = bundled_model().stem
DELTAS: dict[str, list[str]] = {}
LOG = Path(tempfile.mkdtemp(prefix="codesaga-engine-")) / "engine.log"


def _env(**extra: str) -> dict[str, str]:
    settings = {
        "CODESAGA_BACKEND": "openai",
        "CODESAGA_OPENAI__BASE_URL": URL,
        "CODESAGA_OPENAI__MODEL": ALIAS,
        "CODESAGA_OPENAI_API_KEY": KEY,
    }
    return server_env(**{**settings, **extra})


def start_engine() -> subprocess.Popen[bytes]:
    """``codesaga engine`` for the bundled model on PORT, ready to answer (or a failure)."""
    env = {**os.environ, "CODESAGA_OPENAI_API_KEY": KEY, "CODESAGA_CACHE_DIR": "/nonexistent"}
    process, url = bench_engine(
        bundled_model(), LOG, port=PORT, args=("--context-size", "2048"), env=env
    )
    assert httpx.get(f"{url}/models", timeout=5.0).status_code == 401  # up, key required
    return process


def stop_engine(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


ENGINE: dict[str, subprocess.Popen[bytes]] = {}


@pytest.fixture(scope="module", autouse=True)
def engine() -> Iterator[None]:
    ENGINE["process"] = start_engine()
    yield
    stop_engine(ENGINE["process"])


def _progress(client: LanguageClient, params: types.ProgressParams) -> None:
    value = params.value
    if isinstance(value, dict) and "delta" in value:  # a chat partial result
        DELTAS.setdefault(str(params.token), []).append(value["delta"])
        return
    DEFAULT_CLIENT_FEATURES[types.PROGRESS](client, params)


def _client() -> LanguageClient:
    return make_client({types.PROGRESS: _progress})


def _config(**extra: str) -> ClientServerConfig:
    return ClientServerConfig(
        server_command=SERVER, server_env=_env(**extra), client_factory=_client
    )


@pytest_lsp.fixture(config=_config(), scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, client_capabilities("visual-studio-code"), maxTokens=16, temperature=0)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=_config(CODESAGA_OPENAI__MODEL="no-such-model"), scope="module")
async def wrong_model(lsp_client: LanguageClient):
    await start(lsp_client, client_capabilities("visual-studio-code"))
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=_config(CODESAGA_OPENAI_API_KEY="wrong-key"), scope="module")
async def wrong_key(lsp_client: LanguageClient):
    await start(lsp_client, client_capabilities("visual-studio-code"))
    yield
    await lsp_client.shutdown_session()


# ----- helpers ---------------------------------------------------------------------------


def open_text(client: LanguageClient, text: str) -> str:
    uri = f"file:///tmp/shared-engine-{uuid.uuid4().hex}.py"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    return uri


async def suggest(client: LanguageClient, uri: str, line: int, character: int) -> list[str]:
    """An invoked inline completion's texts."""
    params = inline_params(uri, types.Position(line=line, character=character))
    params.context.trigger_kind = types.InlineCompletionTriggerKind.Invoked
    result = await client.text_document_inline_completion_async(params)
    assert isinstance(result, types.InlineCompletionList)
    return [str(item.insert_text) for item in result.items]


def said(client: LanguageClient, part: str) -> list[str]:
    return [m.message for m in client.messages if part in m.message]


async def wait_said(client: LanguageClient, part: str) -> list[str]:
    for _ in range(100):
        if said(client, part):
            break
        await asyncio.sleep(0.05)
    return said(client, part)


async def command(client: LanguageClient, name: str, *arguments: Any) -> Any:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(arguments))
    )
    return plain(result)


ADD = "def add(a, b):\n    return \n\n\nprint(add(2, 3))\n"


# ----- tests -----------------------------------------------------------------------------


@pytest.mark.asyncio  # sync, but in the module's loop scope like the others
async def test_doctor_checks_the_engine() -> None:
    env = {**os.environ, "CODESAGA_OPENAI_API_KEY": KEY, "CODESAGA_OPENAI__MODEL": ALIAS}
    env["CODESAGA_CONFIG"] = "/nonexistent/config.toml"
    done = subprocess.run(
        [sys.executable, "-m", "codesaga", "doctor", "--engine", URL],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "llama-cpp-python" in done.stdout and ALIAS in done.stdout
    assert "round trip" in done.stdout
    env["CODESAGA_OPENAI_API_KEY"] = "wrong-key"
    refused = subprocess.run(
        [sys.executable, "-m", "codesaga", "doctor", "--engine", URL],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "refused the API key" in refused.stdout


async def test_inline_completion(client: LanguageClient) -> None:
    uri = open_text(client, ADD)
    texts = await suggest(client, uri, 1, len("    return "))
    print(f"\n[inline] {texts}")
    assert texts and texts[0].strip(), "no suggestion through the engine"
    assert "a" in texts[0] and "b" in texts[0]


async def test_code_action(client: LanguageClient) -> None:
    uri, _text, positions = open_fixture(client, "orders.py", "python")
    action = by_action(await list_actions(client, uri, cursor(positions[0])), "explain")
    assert action.command is not None
    markdown = await command(client, action.command.command, *(action.command.arguments or []))
    print(f"\n[explain] {markdown!r}")
    assert isinstance(markdown, str)


async def test_streamed_chat(client: LanguageClient) -> None:
    token = f"stream-{uuid.uuid4().hex}"
    result = plain(
        await client.protocol.send_request_async(
            "codesaga/chat", {"message": "Say hello.", "partialResultToken": token}
        )
    )
    assert isinstance(result, dict) and result["reply"].strip()
    assert DELTAS.get(token), "no partial result streamed"
    assert "".join(DELTAS[token]).strip() == result["reply"].strip()


async def test_cancel_mid_stream_frees_the_engine(client: LanguageClient) -> None:
    client.set_configuration({"maxTokens": 512}, section="codesaga")
    token, msg_id = f"stream-{uuid.uuid4().hex}", f"chat-{uuid.uuid4().hex}"
    numbers = ", ".join(str(i) for i in range(1, 41))
    pending = asyncio.wrap_future(
        client.protocol.send_request(
            "codesaga/chat",
            {"message": f"Continue up to 500: {numbers},", "partialResultToken": token},
            msg_id=msg_id,
        )
    )
    for _ in range(600):
        if DELTAS.get(token) or pending.done():
            break
        await asyncio.sleep(0.05)
    assert DELTAS.get(token) and not pending.done(), "the chat did not stream"
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as caught:
        await pending
    assert caught.value.code == -32800  # RequestCancelled
    streamed = len(DELTAS[token])
    uri = open_text(client, ADD)
    assert await suggest(client, uri, 1, len("    return "))  # the engine answers again
    assert len(DELTAS[token]) == streamed  # nothing more of the cancelled answer


async def test_a_wrong_model_is_said_once(wrong_model: LanguageClient) -> None:
    uri = open_text(wrong_model, ADD)
    for _ in range(3):
        assert await suggest(wrong_model, uri, 1, len("    return ")) == []
    messages = await wait_said(wrong_model, "does not serve the model 'no-such-model'")
    assert len(messages) == 1 and ALIAS in messages[0]


async def test_a_wrong_api_key_is_said_once(wrong_key: LanguageClient) -> None:
    uri = open_text(wrong_key, ADD)
    for _ in range(3):
        assert await suggest(wrong_key, uri, 1, len("    return ")) == []
    assert len(await wait_said(wrong_key, "refused the API key")) == 1


async def test_engine_stopped_then_started_again(client: LanguageClient) -> None:
    uri = open_text(client, ADD)
    assert await suggest(client, uri, 1, len("    return "))
    stop_engine(ENGINE["process"])
    for _ in range(3):  # completions go quiet; the user is told once
        assert await suggest(client, uri, 1, len("    return ")) == []
    assert len(await wait_said(client, "nothing answers at")) == 1
    with pytest.raises(JsonRpcException, match="nothing answers at"):  # an asked-for action
        await command(client, "codesaga.chat", {"message": "hello?"})
    ENGINE["process"] = start_engine()
    assert await suggest(client, uri, 1, len("    return "))
    assert len(await wait_said(client, "the engine answers again")) == 1
    assert len(said(client, "nothing answers at")) == 1
