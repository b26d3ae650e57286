"""Chat end to end: a real server with the real Gemma 3 270M model and pytest-lsp's client.

Assertions are on the prompt and the history (what the server sends the model and keeps),
never on the tiny base model's wording. Two servers share one cache dir: ``client`` (locale
``en``, short answers) and ``restarted`` (a second process on the same cache dir, locale
``ko``, long answers for the cancellation test).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from codesaga.chat import system_prompt
from codesaga.lsp.chat import plain

from .conftest import SERVER, open_fixture, server_env, start

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="module")]

ENV = server_env()
"""Both servers use this environment, hence the same cache dir."""
DELTAS: dict[str, list[str]] = {}
"""Streamed chat deltas by partial-result token."""
EVENTS: list[str] = []
"""Arrival order of deltas and final replies."""
INIT: dict[str, types.InitializeResult] = {}


def _progress(client: LanguageClient, params: types.ProgressParams) -> None:
    value = params.value
    if isinstance(value, dict) and "delta" in value:  # a chat partial result
        DELTAS.setdefault(str(params.token), []).append(value["delta"])
        EVENTS.append(f"delta:{params.token}")
        return
    DEFAULT_CLIENT_FEATURES[types.PROGRESS](client, params)


def _chat_client() -> LanguageClient:
    """pytest-lsp's client, with a $/progress handler that also records chat deltas (its
    own handler accepts only work-done progress values)."""
    client = LanguageClient(converter_factory=default_converter)
    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES, types.PROGRESS: _progress})
    return client


def _config() -> ClientServerConfig:
    return ClientServerConfig(server_command=SERVER, server_env=ENV, client_factory=_chat_client)


@pytest_lsp.fixture(config=_config(), scope="module")
async def client(lsp_client: LanguageClient):
    INIT["en"] = await start(
        lsp_client, client_capabilities("visual-studio-code"), maxTokens=8, temperature=0
    )
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=_config(), scope="module")
async def restarted(lsp_client: LanguageClient):
    lsp_client.set_configuration({"maxTokens": 128, "temperature": 0}, section="codesaga")
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            initialization_options={"maxTokens": 128, "temperature": 0},
            locale="ko",  # language "auto" follows it
        )
    )
    yield
    await lsp_client.shutdown_session()


async def chat(client: LanguageClient, **params: Any) -> dict[str, Any]:
    """``codesaga/chat``; records in EVENTS when the reply arrived."""
    future = client.protocol.send_request("codesaga/chat", params)
    future.add_done_callback(lambda _f: EVENTS.append("reply"))
    result = plain(await asyncio.wrap_future(future))
    assert isinstance(result, dict)
    return result


async def command(client: LanguageClient, name: str, *arguments: Any) -> Any:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(arguments))
    )
    return plain(result)


async def test_commands_advertised(client: LanguageClient) -> None:
    provider = INIT["en"].capabilities.execute_command_provider
    assert provider is not None
    for name in ("codesaga.chat", "codesaga.chat.reset", "codesaga.chat.history"):
        assert name in provider.commands


async def test_two_turns_second_depends_on_first(client: LanguageClient) -> None:
    first = await chat(client, message="My name is Mina. Please remember my name.")
    sid = first["sessionId"]
    assert isinstance(sid, str) and len(sid) == 32
    assert first["reply"].strip()
    # what turn 2 sends the model: the English system prompt, then turn 1, then the question
    preview = await command(
        client, "codesaga.chat.prompt", {"sessionId": sid, "message": "What is my name?"}
    )
    assert preview["language"] == "en"
    assert preview["messages"] == [
        {"role": "system", "content": system_prompt("en")},
        {"role": "user", "content": "My name is Mina. Please remember my name."},
        {"role": "assistant", "content": first["reply"]},
        {"role": "user", "content": "What is my name?"},
    ]
    assert preview["droppedTurns"] == 0
    second = await chat(client, sessionId=sid, message="What is my name?")
    assert second["sessionId"] == sid
    history = await command(client, "codesaga.chat.history", sid)
    assert history == [
        {"role": "user", "content": "My name is Mina. Please remember my name."},
        {"role": "assistant", "content": first["reply"]},
        {"role": "user", "content": "What is my name?"},
        {"role": "assistant", "content": second["reply"]},
    ]
    # the same conversation through the command, for clients without custom requests
    third = await command(client, "codesaga.chat", {"sessionId": sid, "message": "Thanks!"})
    assert third["sessionId"] == sid
    assert len(await command(client, "codesaga.chat.history", sid)) == 6
    # clients that drop command results (Helix) are shown the reply as a document or message
    shown = [d.uri for d in client.shown_documents] + [m.message for m in client.messages]
    assert any(f"{sid}.md" in s or s == third["reply"] for s in shown)
    single = await command(client, "codesaga.chat", "Hello?")
    assert single["sessionId"] != sid
    assert len(await command(client, "codesaga.chat.history", single["sessionId"])) == 2


async def test_streamed_deltas_arrive_before_the_reply(client: LanguageClient) -> None:
    uri, _text, positions = open_fixture(client, "inventory.py", "python")
    cursor = {"line": positions[0].line, "character": 0}
    where = {"textDocument": {"uri": uri}, "range": {"start": cursor, "end": cursor}}
    # the code context: the enclosing method, with file name and language
    preview = await command(client, "codesaga.chat.prompt", {"message": "Explain.", **where})
    question = preview["messages"][-1]["content"]
    assert question.startswith("Current code: inventory.py (python, lines ")
    assert "def total_value_cents(self) -> int:" in question
    assert question.endswith("\n\nExplain.")

    token, work = f"stream-{uuid.uuid4().hex}", f"work-{uuid.uuid4().hex}"
    client.progress_reports.setdefault(work, [])
    EVENTS.clear()
    result = await chat(
        client, message="Explain.", partialResultToken=token, workDoneToken=work, **where
    )
    deltas = DELTAS.get(token, [])
    assert deltas, "no partial result streamed"
    assert EVENTS[0] == f"delta:{token}" and EVENTS[-1] == "reply"
    assert EVENTS.count("reply") == 1
    assert "".join(deltas).strip() == result["reply"]
    kinds = [type(v).__name__ for v in client.progress_reports[work]]
    assert kinds == ["WorkDoneProgressBegin", "WorkDoneProgressEnd"]
    # the stored user turn is the question alone, not the code
    history = await command(client, "codesaga.chat.history", result["sessionId"])
    assert history[0] == {"role": "user", "content": "Explain."}


async def test_bad_chat_requests(client: LanguageClient) -> None:
    for params in (
        {"message": ""},
        {"sessionId": "s"},
        {"message": "hi", "textDocument": {"uri": "file:///never/opened.py"}},
    ):
        with pytest.raises(JsonRpcException) as excinfo:
            await chat(client, **params)
        assert excinfo.value.code == -32602  # InvalidParams
    with pytest.raises(JsonRpcException) as bad_command:
        await command(client, "codesaga.chat", {"message": 42})
    assert bad_command.value.code == -32602
    unknown = uuid.uuid4().hex
    reset = await command(client, "codesaga.chat.reset", unknown)
    assert reset == {"sessionId": unknown, "removedTurns": 0}
    assert await command(client, "codesaga.chat.history", unknown) == []
    for bad in ("/tmp/x", "../../../../tmp/x", "no-such-session"):  # ids the server never issues
        for name in ("codesaga.chat.reset", "codesaga.chat.history"):
            with pytest.raises(JsonRpcException) as bad_id:
                await command(client, name, bad)
            assert bad_id.value.code == -32602
        with pytest.raises(JsonRpcException) as bad_chat:
            await command(client, "codesaga.chat", {"sessionId": bad, "message": "hi"})
        assert bad_chat.value.code == -32602


async def test_restart_keeps_the_session_and_korean_is_selected(
    client: LanguageClient, restarted: LanguageClient
) -> None:
    first = await chat(client, message="Remember the number 7.")
    sid = first["sessionId"]
    # a second server process on the same cache dir reads the stored session
    history = await command(restarted, "codesaga.chat.history", sid)
    assert history == [
        {"role": "user", "content": "Remember the number 7."},
        {"role": "assistant", "content": first["reply"]},
    ]
    # locale "ko": the Korean system prompt, with the reloaded turns after it
    preview = await command(
        restarted, "codesaga.chat.prompt", {"sessionId": sid, "message": "몇 번이었죠?"}
    )
    assert preview["language"] == "ko"
    assert preview["messages"][0] == {"role": "system", "content": system_prompt("ko")}
    assert "한국어로" in preview["messages"][0]["content"]
    assert preview["messages"][1:] == [*history, {"role": "user", "content": "몇 번이었죠?"}]
    # the English server still uses the English prompt for the same session
    english = await command(client, "codesaga.chat.prompt", {"sessionId": sid, "message": "?"})
    assert english["messages"][0]["content"] == system_prompt("en")


async def test_cancel_stops_generation_and_session_stays_usable(
    restarted: LanguageClient,
) -> None:
    sid = uuid.uuid4().hex  # a session id of the form the server issues
    token, msg_id = f"stream-{uuid.uuid4().hex}", f"chat-{uuid.uuid4().hex}"
    numbers = ", ".join(str(i) for i in range(1, 41))
    # a prompt the model continues for its whole answer budget (512 tokens, several seconds)
    pending = asyncio.wrap_future(
        restarted.protocol.send_request(
            "codesaga/chat",
            {
                "sessionId": sid,
                "message": f"Continue this sequence up to 500 without stopping: {numbers},",
                "partialResultToken": token,
            },
            msg_id=msg_id,
        )
    )
    for _ in range(300):
        if DELTAS.get(token) or pending.done():
            break
        await asyncio.sleep(0.05)
    assert DELTAS.get(token), "generation did not start streaming"
    assert not pending.done()
    cancelled_at = time.monotonic()
    restarted.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as excinfo:
        await pending
    assert excinfo.value.code == -32800  # RequestCancelled
    assert time.monotonic() - cancelled_at < 3.0

    # the same through workspace/executeCommand (server-initiated progress shows it started)
    seen = set(restarted.progress_reports)
    msg_id = f"command-{uuid.uuid4().hex}"
    pending = asyncio.wrap_future(
        restarted.protocol.send_request(
            types.WORKSPACE_EXECUTE_COMMAND,
            types.ExecuteCommandParams(
                command="codesaga.chat",
                arguments=[{"sessionId": sid, "message": f"Continue: {numbers},"}],
            ),
            msg_id=msg_id,
        )
    )
    for _ in range(300):
        if any(
            isinstance(report, types.WorkDoneProgressBegin) and report.title == "CodeSaga 채팅"
            for key, reports in restarted.progress_reports.items()
            if key not in seen
            for report in reports
        ):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # into the generation
    assert not pending.done()
    cancelled_at = time.monotonic()
    restarted.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException) as excinfo:
        await pending
    assert excinfo.value.code == -32800

    # the model thread is free at once (either uncancelled answer would take seconds more):
    # the preview runs on that same thread
    restarted.set_configuration({"maxTokens": 4, "temperature": 0}, section="codesaga")
    restarted.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={}))
    preview: dict[str, Any] = {}
    for _ in range(50):
        preview = await command(
            restarted, "codesaga.chat.prompt", {"sessionId": sid, "message": "Hi"}
        )
        if preview["answerTokens"] == 16:
            break
    assert time.monotonic() - cancelled_at < 5.0
    assert preview["answerTokens"] == 16
    # nothing of the cancelled turn was stored; the session goes on
    assert await command(restarted, "codesaga.chat.history", sid) == []
    after = await chat(restarted, sessionId=sid, message="Hi")
    assert after["sessionId"] == sid
    history = await command(restarted, "codesaga.chat.history", sid)
    assert [turn["role"] for turn in history] == ["user", "assistant"]
    assert history[0]["content"] == "Hi"
