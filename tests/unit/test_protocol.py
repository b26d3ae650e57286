"""CodeSagaProtocol: one copy of each text (the DocumentStore's), none in pygls's workspace."""

from __future__ import annotations

import json
from typing import Any

from codesaga.lsp import create_server
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
