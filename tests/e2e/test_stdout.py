"""stdout belongs to the protocol: across start-up and a model load, `codesaga serve` writes
nothing but well-formed LSP frames to stdout (llama.cpp's own logging goes to the debug log)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import SERVER, server_env

pytestmark = pytest.mark.model


def frame(message: dict[str, object]) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def parse_frames(data: bytes) -> list[dict[str, object]]:
    """Split stdout into LSP messages; fail on any byte outside a frame."""
    messages = []
    while data:
        header, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"stray bytes on stdout: {data[:80]!r}"
        fields = dict(line.split(b": ", 1) for line in header.split(b"\r\n"))
        length = int(fields[b"Content-Length"])
        messages.append(json.loads(rest[:length]))
        data = rest[length:]
    return messages


def test_stdout_holds_only_protocol_frames() -> None:
    proc = subprocess.Popen(
        SERVER,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(),
    )
    assert proc.stdin is not None
    capabilities: dict[str, object] = {}
    proc.stdin.write(
        frame(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"capabilities": capabilities},
            }
        )
        + frame({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    )
    proc.stdin.flush()
    time.sleep(4)  # the model loads meanwhile (llama.cpp logs then)
    proc.stdin.write(
        frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        + frame({"jsonrpc": "2.0", "method": "exit"})
    )
    proc.stdin.flush()
    stdout, stderr = proc.communicate(timeout=60)
    messages = parse_frames(stdout)
    assert any(m.get("id") == 1 and "result" in m for m in messages)
    assert any(m.get("id") == 2 for m in messages)
    # the model loaded: its info line reached the client's log, as info, not stderr (editors
    # tag every stderr line an error); llama.cpp's own log reached neither
    logged = [m["params"] for m in messages if m.get("method") == "window/logMessage"]
    assert any("loaded in" in p["message"] and p["type"] == 3 for p in logged), logged
    assert b"loaded in" not in stderr and b" INFO " not in stderr
    for native in (b"llama_kv_cache", b"llama_context", b"load_tensors"):
        assert native not in stderr and native not in stdout


def test_stdin_from_a_regular_file_is_served_too(tmp_path: Path) -> None:
    # a file cannot be watched by the event loop: the server reads it on threads instead
    script = tmp_path / "session.lsp"
    script.write_bytes(
        frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
        + frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        + frame({"jsonrpc": "2.0", "method": "exit"})
    )
    with script.open("rb") as stdin:
        proc = subprocess.run(
            SERVER, stdin=stdin, capture_output=True, env=server_env(), timeout=60
        )
    messages = parse_frames(proc.stdout)
    assert any(m.get("id") == 1 and "result" in m for m in messages)
    assert any(m.get("id") == 2 for m in messages)
