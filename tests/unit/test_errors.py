"""One error type, one place that turns it into a protocol answer (codesaga.lsp.errors)."""

from __future__ import annotations

import logging

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from codesaga.actions import ActionError, ActionRefused
from codesaga.chat import ChatError
from codesaga.documents import DocumentError, PositionError, UnknownDocumentError
from codesaga.engine import EngineError
from codesaga.errors import CodeSagaError, ErrorCode, InvalidParams, Superseded
from codesaga.lsp import create_server
from codesaga.lsp.errors import answers, notices
from codesaga.lsp.model import ModelUnavailable
from codesaga.lsp.server import is_notification
from codesaga.models import ModelError
from codesaga.prompts import PromptError


class Client:
    """What the wrappers need from CodeSagaServer: the language and window/showMessage."""

    def __init__(self, language: str = "en") -> None:
        self.language = language
        self.shown: list[tuple[str, bool]] = []

    def show(self, message: str, *, error: bool = False) -> None:
        self.shown.append((message, error))


KINDS: list[tuple[CodeSagaError, ErrorCode]] = [
    (DocumentError("bad document"), ErrorCode.INVALID_PARAMS),
    (UnknownDocumentError("document not open: file:///x.py"), ErrorCode.INVALID_PARAMS),
    (PositionError("line 9 outside"), ErrorCode.INVALID_PARAMS),
    (ChatError("too long"), ErrorCode.INVALID_PARAMS),
    (ActionError("not an action"), ErrorCode.INVALID_PARAMS),
    (EngineError("engine failed"), ErrorCode.REQUEST_FAILED),
    (ModelError("model missing"), ErrorCode.REQUEST_FAILED),
    (ModelUnavailable("no model"), ErrorCode.REQUEST_FAILED),
    (PromptError("template broken"), ErrorCode.REQUEST_FAILED),
    (ActionRefused("nothing to do"), ErrorCode.REQUEST_FAILED),
    (Superseded(), ErrorCode.REQUEST_CANCELLED),
]


@pytest.mark.parametrize(("error", "code"), KINDS, ids=lambda v: type(v).__name__)
async def test_request_error_becomes_one_json_rpc_error(error: CodeSagaError, code: int) -> None:
    @answers
    async def handler(ls: Client, params: object) -> str:
        raise error

    with pytest.raises(JsonRpcException) as raised:
        await handler(Client(), None)
    assert raised.value.code == code
    assert raised.value.message == f"CodeSaga: {error.message}"


@pytest.mark.parametrize(("error", "code"), KINDS, ids=lambda v: type(v).__name__)
def test_notification_error_is_shown_once_unless_the_client_erred(
    error: CodeSagaError, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    @notices
    def handler(ls: Client, params: object) -> None:
        raise error

    client = Client()
    with caplog.at_level(logging.INFO, logger="codesaga"):
        assert handler(client, None) is None
    if code == ErrorCode.INVALID_PARAMS:  # the client's mistake: logged once, no popup
        assert client.shown == []
        assert [r.getMessage() for r in caplog.records] == [
            f"{type(error).__name__} ignored: {error.message}"
        ]
    else:
        assert client.shown == [(f"CodeSaga: {error.message}", True)]


async def test_message_follows_the_language() -> None:
    @answers
    def handler(ls: Client) -> None:
        raise InvalidParams("bad range", ko="잘못된 범위")

    with pytest.raises(JsonRpcException) as korean:
        handler(Client("ko"))
    assert korean.value.message == "CodeSaga: 잘못된 범위"
    with pytest.raises(JsonRpcException) as english:
        handler(Client("en"))
    assert english.value.message == "CodeSaga: bad range"
    assert Superseded().text("ko") != Superseded().text("en")
    assert EngineError("only English").text("ko") == "only English"


async def test_other_exceptions_and_results_pass_through() -> None:
    @answers
    async def failing(ls: Client) -> None:
        raise KeyError("a bug")

    @answers
    async def fine(ls: Client, value: int) -> int:
        return value + 1

    with pytest.raises(KeyError):
        await failing(Client())
    assert await fine(Client(), 1) == 2


def test_notifications_are_told_apart_from_requests() -> None:
    assert is_notification(types.TEXT_DOCUMENT_DID_OPEN)
    assert is_notification(types.TEXT_DOCUMENT_DID_CHANGE)
    assert not is_notification(types.SHUTDOWN)
    assert not is_notification(types.TEXT_DOCUMENT_INLINE_COMPLETION)
    assert not is_notification("codesaga/chat")


async def test_every_registered_handler_is_wrapped(caplog: pytest.LogCaptureFixture) -> None:
    """Each feature and command of the real server answers a CodeSagaError the same way: an
    unknown document gives InvalidParams for a request and one log line (no popup: the
    client's mistake) for a notification."""
    server = create_server()
    shown: list[str] = []
    server.show = lambda message, *, error=False: shown.append(message)  # type: ignore[method-assign]
    features = server.protocol.fm.features
    uri = "file:///never-opened.py"
    change = types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text="x")],
    )
    with caplog.at_level(logging.WARNING, logger="codesaga"):
        features[types.TEXT_DOCUMENT_DID_CHANGE](change)
    assert shown == []
    assert [uri in r.getMessage() for r in caplog.records] == [True]
    action = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(
            start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
        ),
        context=types.CodeActionContext(diagnostics=[]),
    )
    with pytest.raises(JsonRpcException) as raised:
        features[types.TEXT_DOCUMENT_CODE_ACTION](action)
    assert raised.value.code == ErrorCode.INVALID_PARAMS
    assert uri in raised.value.message
