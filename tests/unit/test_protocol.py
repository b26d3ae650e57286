"""CodeSagaProtocol: one copy of each text (the DocumentStore's), none in pygls's workspace."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from codesaga.lsp import create_server
from codesaga.lsp.protocol import CodeSagaProtocol
from codesaga.lsp.server import CodeSagaServer

URI = "file:///work/한글.py"


class Collect:
    """A pygls writer that keeps what the server sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.sent.append(json.loads(data))

    def close(self) -> None:
        pass


def _send(server: CodeSagaServer, method: str, params: dict[str, Any], msg_id: int | None) -> None:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if msg_id is not None:
        message["id"] = msg_id
    server.protocol.handle_message(server.protocol.structure_message(message))


def _initialized_server(encodings: list[str]) -> tuple[CodeSagaServer, dict[str, Any]]:
    server = create_server()
    out = Collect()
    server.protocol.set_writer(out, include_headers=False)
    capabilities = {"general": {"positionEncodings": encodings}}
    _send(
        server, "initialize", {"processId": None, "rootUri": None, "capabilities": capabilities}, 1
    )
    (reply,) = [m for m in out.sent if m.get("id") == 1]
    return server, reply["result"]


def _range(line: int, start: int, end: int) -> dict[str, Any]:
    return {"start": {"line": line, "character": start}, "end": {"line": line, "character": end}}


async def test_text_sync_reaches_the_store_and_not_the_workspace() -> None:
    server, _ = _initialized_server(["utf-16"])
    item = {"uri": URI, "languageId": "python", "version": 1, "text": "x = '가😀'\ny = 1\n"}
    _send(server, "textDocument/didOpen", {"textDocument": item}, None)
    change = {
        "textDocument": {"uri": URI, "version": 2},
        # after the emoji (2 UTF-16 units): '가' is column 5, the emoji 6-7, the quote 8
        "contentChanges": [
            {"range": _range(0, 8, 8), "text": "!"},
            {"range": _range(1, 4, 5), "text": "2"},
        ],
    }
    _send(server, "textDocument/didChange", change, None)
    document = server.store.get(URI)
    assert document.version == 2 and document.text == "x = '가😀!'\ny = 2\n"
    assert server.workspace.text_documents == {}  # pygls kept no copy
    _send(server, "textDocument/didClose", {"textDocument": {"uri": URI}}, None)
    assert URI not in server.store and server.workspace.text_documents == {}


async def test_initialize_still_negotiates_the_position_encoding() -> None:
    server, result = _initialized_server(["utf-8", "utf-16"])
    assert result["capabilities"]["positionEncoding"] == "utf-8"
    assert server.store.encoding == "utf-8"
    sync = result["capabilities"]["textDocumentSync"]
    assert sync["openClose"] is True and sync["change"] == 2  # incremental
    server, result = _initialized_server([])
    assert result["capabilities"]["positionEncoding"] == "utf-16"
    assert server.store.encoding == "utf-16"


# ----- client mistakes: every request answered, no popup (issue 17, items 6 and 7) -----------

INLINE = "textDocument/inlineCompletion"


def _inline(line: object, character: object = 0) -> dict[str, Any]:
    return {
        "textDocument": {"uri": URI},
        "position": {"line": line, "character": character},
        "context": {"triggerKind": 1},
    }


def _receive(server: CodeSagaServer, data: object) -> None:
    """What the stdio reader does with one decoded body."""
    server.protocol.handle_message(server.protocol.structure_message(data))


def _popups(out: Collect) -> list[dict[str, Any]]:
    return [m for m in out.sent if m.get("method") == "window/showMessage"]


def _answer(out: Collect, msg_id: object) -> dict[str, Any]:
    (answer,) = [m for m in out.sent if "method" not in m and m.get("id") == msg_id]
    return answer


@pytest.mark.parametrize(
    "params",
    [
        _inline(-1),
        _inline("three"),
        _inline(2**40),
        _inline(0, 2**40),
        [1, 2],
        {"position": {"line": 0, "character": 0}, "context": {"triggerKind": 1}},  # no uri
        None,
    ],
    ids=["negative", "string", "line-2**40", "character-2**40", "array", "no-uri", "none"],
)
async def test_invalid_params_are_answered_invalid_params(params: object) -> None:
    server, _ = _initialized_server(["utf-16"])
    out = server.protocol.writer
    assert isinstance(out, Collect)
    _receive(server, {"jsonrpc": "2.0", "id": 7, "method": INLINE, "params": params})
    answer = _answer(out, 7)
    assert answer["error"]["code"] == -32602
    assert "$.params" in answer["error"]["message"]  # where, never the values
    assert _popups(out) == []


@pytest.mark.parametrize(
    ("message", "msg_id"),
    [
        ([{"jsonrpc": "2.0", "id": 1, "method": "shutdown"}], None),  # a batch
        ({"id": 3, "method": "shutdown"}, 3),  # no jsonrpc member
        ({"jsonrpc": "1.0", "id": 4, "method": "shutdown"}, 4),
        ({"jsonrpc": "2.0", "id": 5, "method": 42}, 5),
        ({"jsonrpc": "2.0", "id": [6], "method": "shutdown"}, None),
        (17, None),
    ],
    ids=["batch", "no-jsonrpc", "jsonrpc-1.0", "method-number", "id-list", "number"],
)
async def test_what_is_not_a_request_is_answered_invalid_request(
    message: object, msg_id: object
) -> None:
    server, _ = _initialized_server(["utf-16"])
    out = server.protocol.writer
    assert isinstance(out, Collect)
    _receive(server, message)
    answer = _answer(out, msg_id)
    assert answer["error"]["code"] == -32600 and "id" in answer and answer["jsonrpc"] == "2.0"
    assert _popups(out) == []


async def test_unparsable_is_answered_parse_error_with_a_null_id() -> None:
    server, _ = _initialized_server(["utf-16"])
    out = server.protocol.writer
    assert isinstance(out, Collect) and isinstance(server.protocol, CodeSagaProtocol)
    server.protocol.reject_unparsable("a 3-byte message is not JSON")
    answer = out.sent[-1]
    assert answer["id"] is None and answer["error"]["code"] == -32700


async def test_requests_after_shutdown_are_answered_invalid_request() -> None:
    server, _ = _initialized_server(["utf-16"])
    out = server.protocol.writer
    assert isinstance(out, Collect)
    _send(server, "shutdown", None, 2)  # type: ignore[arg-type]
    assert _answer(out, 2)["result"] is None
    _receive(server, {"jsonrpc": "2.0", "id": 3, "method": INLINE, "params": _inline(0)})
    _receive(server, {"jsonrpc": "2.0", "id": 4, "method": INLINE, "params": [1]})
    for msg_id in (3, 4):
        assert _answer(out, msg_id)["error"]["code"] == -32600


async def test_bad_notifications_get_no_answer_and_no_popup(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, _ = _initialized_server(["utf-16"])
    out = server.protocol.writer
    assert isinstance(out, Collect)
    sent = len(out.sent)
    with caplog.at_level(logging.INFO, logger="codesaga"):
        _receive(server, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": [1]})
        change = {"textDocument": {"uri": "file:///never-opened.py", "version": 2}}
        change["contentChanges"] = [{"text": "x = 1\n"}]  # type: ignore[assignment]
        _receive(server, {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": change})
    assert out.sent[sent:] == []  # no answer, no "KeyError" or "Error in server" popup
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("codesaga")]
    assert len(logged) == 2 and "file:///never-opened.py" in logged[1]
    assert "file:///never-opened.py" not in server.store
