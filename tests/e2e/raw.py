"""A `codesaga serve` spoken to in raw bytes over stdio, for framing and protocol-error tests
(pytest-lsp's client cannot send a malformed frame). No model is loaded: the setting points at
a file that does not exist, which the server reports only when a feature needs the model."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SERVER = [sys.executable, "-m", "codesaga", "serve"]
ANSWER_SECONDS = 10.0
"""How long a test waits for one answer (generous: the machine may be busy)."""


def frame(message: Any, *, header: str = "Content-Length") -> bytes:
    """``message`` as JSON in one LSP frame, with ``header`` as the length header's name."""
    body = json.dumps(message).encode()
    return f"{header}: {len(body)}\r\n\r\n".encode() + body


def request(msg_id: int, method: str, params: Any = None) -> dict[str, Any]:
    """A JSON-RPC 2.0 request (``params`` left out when None)."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification(method: str, params: Any = None) -> dict[str, Any]:
    """A JSON-RPC 2.0 notification (``params`` left out when None)."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def initialize_params(process_id: int | None = None) -> dict[str, Any]:
    """Minimal ``initialize`` params, no workspace."""
    return {"processId": process_id, "rootUri": None, "capabilities": {}, "locale": "en"}


class RawServer:
    """`codesaga serve` as a subprocess: bytes in, parsed messages out (a reader thread
    splits stdout into frames, each put on :attr:`messages`)."""

    def __init__(self, **env: str) -> None:
        self.cache_dir = Path(tempfile.mkdtemp(prefix="codesaga-raw-"))
        full_env = dict(os.environ)
        full_env.update(
            CODESAGA_CACHE_DIR=str(self.cache_dir),
            CODESAGA_CONFIG=str(self.cache_dir / "no-config.toml"),
            CODESAGA_MODEL=str(self.cache_dir / "nonexistent.gguf"),
        )
        full_env.update(env)
        self.log_file = self.cache_dir / "server.log"
        self.process = subprocess.Popen(
            [*SERVER, "--log-file", str(self.log_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=full_env,
        )
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.received: list[dict[str, Any]] = []
        """Every message received so far, in order (appended by the reader thread)."""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            length = None
            while (line := stdout.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if not line or length is None:
                return
            message = json.loads(stdout.read(length))
            self.received.append(message)
            self.messages.put(message)

    def send(self, data: bytes) -> None:
        """Write ``data`` to the server's stdin as it is."""
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def next_message(self, timeout: float = ANSWER_SECONDS) -> dict[str, Any]:
        """The next message the server sends; ``queue.Empty`` if none comes in time."""
        return self.messages.get(timeout=timeout)

    def answer(self, msg_id: int | None, timeout: float = ANSWER_SECONDS) -> dict[str, Any]:
        """The server's answer to ``msg_id`` (None: the next error with a null id), skipping
        its notifications and other answers; AssertionError if none comes in time."""

        def wanted(message: dict[str, Any]) -> bool:
            return message.get("id") == msg_id and (msg_id is not None or "error" in message)

        return self._next_answer(wanted, timeout, f"no answer to id {msg_id!r}")

    def answer_any(self, timeout: float = ANSWER_SECONDS) -> dict[str, Any]:
        """The next answer the server sends (skipping its notifications and requests);
        AssertionError if none comes in time."""
        return self._next_answer(lambda message: True, timeout, "no answer")

    def _next_answer(
        self, wanted: Callable[[dict[str, Any]], bool], timeout: float, failure: str
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self.next_message(left)
            except queue.Empty:
                break
            if "method" not in message and wanted(message):
                return message
        raise AssertionError(f"{failure} within {timeout} s")

    def initialize(self, process_id: int | None = None) -> None:
        """``initialize`` (answered) and ``initialized``."""
        self.send(frame(request(0, "initialize", initialize_params(process_id))))
        assert "result" in self.answer(0)
        self.send(frame(notification("initialized", {})))

    def notifications(self, method: str) -> list[Any]:
        """The params of every ``method`` notification received so far."""
        return [m.get("params") for m in list(self.received) if m.get("method") == method]

    def close(self, timeout: float = ANSWER_SECONDS) -> int:
        """Close stdin and wait for the server to exit (killed after ``timeout``); returns
        its exit code."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
