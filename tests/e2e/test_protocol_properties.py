"""Property-based: protocol messages with wrong types, out-of-range positions and odd framing
against one running `codesaga serve` (issue 17, property test (a)). After each generated
message, a well-formed probe request must be answered with its own id (the server is alive
and in step with the stream), and a generated request must have been answered too: with its
id, or, when its frame was broken, with a null-id ParseError."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.raw import RawServer, frame, notification, request

URI = "file:///work/props.py"
TEXT = "def f(x):\n    return x  # 한글 😀\n"
PROBE_METHOD = "workspace/executeCommand"
PROBE_PARAMS = {"command": "codesaga.stats", "arguments": ["counts"]}
ANSWER_SECONDS = 20.0

# JSON values of any type, for fields that expect something else
odd = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
line = st.integers(-5, 5) | st.sampled_from([2**31 - 1, 2**31, 2**40, -(2**40)]) | odd
position = st.fixed_dictionaries({"line": line, "character": line}) | odd
document = st.fixed_dictionaries({"uri": st.sampled_from([URI, "file:///nope.py"]) | odd}) | odd
inline_params = (
    st.fixed_dictionaries(
        {
            "textDocument": document,
            "position": position,
            "context": st.fixed_dictionaries({"triggerKind": st.integers(-1, 3) | odd}) | odd,
        }
    )
    | odd
)
change_params = st.fixed_dictionaries(
    {
        "textDocument": st.fixed_dictionaries({"uri": st.just(URI) | odd, "version": line}),
        "contentChanges": st.lists(
            st.fixed_dictionaries(
                {
                    "range": st.fixed_dictionaries({"start": position, "end": position}),
                    "text": st.text(max_size=5),
                }
            )
            | odd,
            max_size=2,
        ),
    }
)
methods = st.sampled_from(
    ["textDocument/inlineCompletion", "textDocument/completion", "textDocument/codeAction"]
)
requests = st.builds(lambda m, p: {"method": m, "params": p}, methods, inline_params)
notifications = st.builds(
    lambda p: {"method": "textDocument/didChange", "params": p}, change_params | odd
)
framings = st.sampled_from(["ok", "lower", "no-length", "short", "long", "garbage", "not-json"])


def encode(message: dict[str, Any], framing: str) -> bytes:
    body = json.dumps(message).encode()
    if framing == "lower":
        return frame(message, header="content-length")
    if framing == "no-length":
        return b"Content-Type: x\r\n\r\n" + body
    if framing == "short":
        return b"Content-Length: %d\r\n\r\n" % max(len(body) // 2, 1) + body
    if framing == "long":  # followed at once by the probe, whose header it cuts
        return b"Content-Length: %d\r\n\r\n" % (len(body) + 7) + body
    if framing == "garbage":
        return b"}{garbage\r\n" + frame(message)
    if framing == "not-json":
        return b"Content-Length: %d\r\n\r\n" % (len(body) - 1) + body[1:]
    return frame(message)


@pytest.fixture(scope="module")
def server() -> Iterator[RawServer]:
    raw = RawServer()
    raw.initialize()
    item = {"uri": URI, "languageId": "python", "version": 1, "text": TEXT}
    raw.send(frame(notification("textDocument/didOpen", {"textDocument": item})))
    yield raw
    raw.send(frame(request(-1, "shutdown")))
    raw.answer(-1, ANSWER_SECONDS)
    raw.send(frame(notification("exit")))
    assert raw.process.wait(ANSWER_SECONDS) == 0
    # no popups for anything the client got wrong
    popups = raw.notifications("window/showMessage")
    assert not [p for p in popups if "Error in server" in str(p)]


ids = iter(range(1000, 10**9))


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(message=requests | notifications, framing=framings, as_request=st.booleans())
def test_every_request_is_answered_and_the_server_stays_alive(
    server: RawServer, message: dict[str, Any], framing: str, as_request: bool
) -> None:
    msg_id = next(ids)
    sent: dict[str, Any] = {"jsonrpc": "2.0", **message}
    if as_request or message["method"] != "textDocument/didChange":
        sent["id"] = msg_id
    server.send(encode(sent, framing))
    probe = next(ids)
    server.send(frame(request(probe, PROBE_METHOD, PROBE_PARAMS)))
    got: dict[Any, dict[str, Any]] = {}
    while probe not in got:
        answer = server.answer_any(ANSWER_SECONDS)
        got[answer.get("id")] = answer
    assert "result" in got[probe], got[probe]
    assert server.process.poll() is None
    if "id" in sent and framing in ("ok", "lower", "garbage", "long"):
        assert msg_id in got  # answered with its own id (a result or an error)
    elif "id" in sent:  # a broken frame: a ParseError with a null id
        assert None in got and got[None]["error"]["code"] == -32700
