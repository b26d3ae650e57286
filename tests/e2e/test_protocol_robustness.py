"""A real `codesaga serve` spoken to in raw bytes (issue 17, items 5, 6 and 9): a bad frame
costs only itself, every request is answered, ``exit`` gives the exit code LSP asks for, and
the server does not outlive the editor whose processId it was given."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from codesaga.usage import USAGE_FILE
from codesaga.usage.store import read_rows
from tests.e2e.raw import RawServer, frame, notification, request

INLINE = "textDocument/inlineCompletion"
URI = "file:///never-opened.py"
EXIT_SECONDS = 15.0
"""How long the server may take to exit once its editor is gone (it polls every 3 s)."""


def inline(line: object) -> dict[str, object]:
    return {
        "textDocument": {"uri": URI},
        "position": {"line": line, "character": 0},
        "context": {"triggerKind": 1},
    }


@pytest.fixture
def server() -> RawServer:
    raw = RawServer()
    raw.initialize()
    yield raw  # type: ignore[misc]
    if raw.process.poll() is None:
        raw.process.kill()
        raw.process.wait()


def test_lower_case_header_is_read(server: RawServer) -> None:
    server.send(frame(request(1, INLINE, inline(0)), header="content-length"))
    assert server.answer(1)["error"]["code"] == -32602  # the document is not open
    server.send(frame(request(2, "shutdown"), header="CONTENT-LENGTH"))
    assert server.answer(2)["result"] is None


@pytest.mark.parametrize(
    "bad",
    [
        b"Content-Length: abc\r\n\r\n" + json.dumps(request(1, "shutdown")).encode(),
        b"Content-Length: 10\r\n\r\n" + json.dumps(request(1, "shutdown")).encode(),
        b"Content-Length: 99999999999\r\n\r\n" + json.dumps(request(1, "shutdown")).encode(),
    ],
    ids=["not-a-number", "too-short", "huge"],
)
def test_after_a_bad_frame_the_server_answers_and_exits(server: RawServer, bad: bytes) -> None:
    server.send(bad)
    assert server.answer(None)["error"]["code"] == -32700
    server.send(frame(request(2, INLINE, inline(0))))
    assert server.answer(2)["error"]["code"] == -32602
    server.send(frame(request(3, "shutdown")))
    assert server.answer(3)["result"] is None
    server.send(frame(notification("exit")))
    assert server.process.wait(EXIT_SECONDS) == 0


def test_too_long_a_length_then_silence_is_answered(server: RawServer) -> None:
    body = json.dumps(request(1, INLINE, inline(0))).encode()
    server.send(b"Content-Length: %d\r\n\r\n" % (len(body) + 40) + body)
    assert server.answer(1, timeout=15.0)["error"]["code"] == -32602  # after the stall
    server.send(frame(request(2, "shutdown")))
    assert server.answer(2)["result"] is None


def test_too_long_a_length_then_the_next_message(server: RawServer) -> None:
    body = json.dumps(request(1, INLINE, inline(0))).encode()
    server.send(b"Content-Length: %d\r\n\r\n" % (len(body) + 7) + body)
    server.send(frame(request(2, INLINE, inline(0))))  # its header cut by the length above
    assert server.answer(1)["error"]["code"] == -32602
    assert server.answer(2)["error"]["code"] == -32602


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (request(1, INLINE, inline(-1)), -32602),
        (request(1, INLINE, inline("3x")), -32602),
        (request(1, INLINE, inline(2**40)), -32602),
        (request(1, INLINE, [1, 2]), -32602),
        (request(1, INLINE, {"position": {"line": 0, "character": 0}}), -32602),
        (request(1, "codesaga/noSuchMethod", {}), -32601),
    ],
    ids=["negative", "string", "2**40", "array", "no-uri", "unknown-method"],
)
def test_invalid_requests_are_answered_without_popups(
    server: RawServer, message: dict[str, object], code: int
) -> None:
    server.send(frame(message))
    assert server.answer(1)["error"]["code"] == code
    server.send(frame(notification("textDocument/didChange", {"textDocument": {"uri": URI}})))
    change = {"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"text": "x"}]}
    server.send(frame(notification("textDocument/didChange", change)))
    server.send(frame(request(2, "shutdown")))
    assert server.answer(2)["result"] is None
    popups = server.notifications("window/showMessage")
    assert not [p for p in popups if "Error in server" in p["message"] or URI in p["message"]]
    server.send(frame(request(3, INLINE, inline(0))))
    assert server.answer(3)["error"]["code"] == -32600  # after shutdown


def test_malformed_json_is_answered_with_a_null_id(server: RawServer) -> None:
    server.send(b'Content-Length: 12\r\n\r\n{"jsonrpc": ')
    answer = server.answer(None)
    assert answer["id"] is None and answer["error"]["code"] == -32700


def test_exit_without_shutdown_exits_1(server: RawServer) -> None:
    server.send(frame(notification("exit")))
    assert server.process.wait(EXIT_SECONDS) == 1


def test_exit_after_shutdown_exits_0(server: RawServer) -> None:
    server.send(frame(request(1, "shutdown")))
    assert server.answer(1)["result"] is None
    server.send(frame(notification("exit")))
    assert server.process.wait(EXIT_SECONDS) == 0


def test_server_exits_when_its_editor_is_gone() -> None:
    """The "editor" is a child process whose pid goes in processId; the test itself holds
    the server's stdin open, as a wrapper or a shell would after the editor died."""
    editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    raw = RawServer()
    try:
        raw.initialize(process_id=editor.pid)
        server_alive_after = time.monotonic() + 4.0  # more than one poll while it lives
        while time.monotonic() < server_alive_after:
            assert raw.process.poll() is None
            time.sleep(0.5)
        editor.kill()
        editor.wait()  # reaped: the pid is gone
        gone = time.monotonic()
        assert raw.process.wait(EXIT_SECONDS) == 1  # stdin still open
        assert time.monotonic() - gone < EXIT_SECONDS
        assert "is gone" in raw.log_file.read_text()
    finally:
        if editor.poll() is None:
            editor.kill()
        if raw.process.poll() is None:
            raw.process.kill()
            raw.process.wait()


def test_sigterm_exits_cleanly_and_keeps_the_usage_rows(server: RawServer) -> None:
    """An editor that quits without ``shutdown`` ends its server with SIGTERM (Neovim does):
    the server exits 0, having written the usage row of the request it just answered."""
    uri = "file:///opened.py"
    opened = {"uri": uri, "languageId": "python", "version": 1, "text": "def f(x):\n    return "}
    server.send(frame(notification("textDocument/didOpen", {"textDocument": opened})))
    params = inline(1)
    params["textDocument"] = {"uri": uri}
    params["position"] = {"line": 1, "character": 11}
    server.send(frame(request(1, INLINE, params)))
    server.answer(1)  # the model file is missing: an error, and a usage row with source error
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(EXIT_SECONDS) == 0
    rows = read_rows(server.cache_dir / USAGE_FILE)
    assert [(r.feature, r.language) for r in rows] == [("inline", "python")]
    assert "SIGTERM" in server.log_file.read_text()
