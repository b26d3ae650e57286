"""A client with a Korean locale hears Korean through the protocol: the model load's and the
chat's progress, the invalid-settings message, and a model that cannot load (a real server,
the real Gemma 3 270M model, pytest-lsp's client; initialize's ``locale`` is ``ko`` and the
``language`` setting stays ``auto``)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient, client_capabilities

from .conftest import bundled_model, config, inline_params, open_fixture, start

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="module")]
MISSING = Path(tempfile.mkdtemp()) / "missing.gguf"


def hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


async def until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def progress(client: LanguageClient) -> list[list[object]]:
    """Each progress token's reports, begin first."""
    return [list(reports) for reports in client.progress_reports.values() if reports]


@pytest_lsp.fixture(config=config(), scope="module")
async def client(lsp_client: LanguageClient):
    lsp_client.set_configuration({"maxTokens": 8, "temperature": 0}, section="codesaga")
    await start(
        lsp_client,
        client_capabilities("visual-studio-code"),
        locale="ko",
        maxTokens=8,
        temperature=0,
    )
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=config(CODESAGA_MODEL=str(MISSING)), scope="module")
async def no_model(lsp_client: LanguageClient):
    await start(lsp_client, client_capabilities("neovim@v0.11.0"), locale="ko-KR")
    yield
    await lsp_client.shutdown_session()


async def test_model_load_progress_is_korean(client: LanguageClient) -> None:
    def ended() -> bool:
        return any(isinstance(r[-1], types.WorkDoneProgressEnd) for r in progress(client))

    await until(ended, 60)
    load = next(r for r in progress(client) if isinstance(r[-1], types.WorkDoneProgressEnd))
    begin, end = load[0], load[-1]
    assert isinstance(begin, types.WorkDoneProgressBegin)
    assert isinstance(end, types.WorkDoneProgressEnd)
    assert begin.message == f"모델 {bundled_model()} 불러오는 중"
    assert end.message == "모델 준비 완료 (none 프롬프트)"


async def test_invalid_settings_are_said_in_korean(client: LanguageClient) -> None:
    shown = len(client.messages)
    client.set_configuration({"maxTokens": -5}, section="codesaga")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await until(lambda: len(client.messages) > shown)
    message = client.messages[shown]
    assert message.type == types.MessageType.Error
    assert message.message.startswith("CodeSaga: 잘못된 설정을 무시했습니다: maxTokens")
    client.set_configuration({"maxTokens": 8, "temperature": 0}, section="codesaga")


async def test_chat_progress_is_korean(client: LanguageClient) -> None:
    uri, _text, _positions = open_fixture(client, "orders.py", "python")
    before = set(client.progress_reports)
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="codesaga.chat", arguments=[{"message": "Hi", "textDocument": {"uri": uri}}]
        )
    )
    assert result is not None
    await until(
        lambda: any(
            isinstance(reports[-1], types.WorkDoneProgressEnd)
            for token, reports in client.progress_reports.items()
            if token not in before and reports
        )
    )
    chat = [r for t, r in client.progress_reports.items() if t not in before and r]
    begin, end = chat[0][0], chat[0][-1]
    assert isinstance(begin, types.WorkDoneProgressBegin)
    assert isinstance(end, types.WorkDoneProgressEnd)
    assert (begin.title, begin.message, end.message) == ("CodeSaga 채팅", "생각하는 중…", "완료")


async def test_a_model_that_cannot_load_is_reported_in_korean(no_model: LanguageClient) -> None:
    await until(lambda: bool(no_model.messages))
    shown = no_model.messages[0]
    assert shown.type == types.MessageType.Error
    assert shown.message == f"CodeSaga: 모델을 불러오지 못했습니다: 파일이 없습니다: {MISSING}"
    uri, _text, positions = open_fixture(no_model, "cart.ts", "typescript")
    with pytest.raises(JsonRpcException) as caught:
        await no_model.text_document_inline_completion_async(inline_params(uri, positions[0]))
    assert caught.value.message == f"CodeSaga: 모델이 없습니다: 파일이 없습니다: {MISSING}"
    assert hangul(caught.value.message)
