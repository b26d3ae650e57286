"""Framer: case-insensitive headers, and one bad frame costs only itself (issue 17, item 5)."""

from __future__ import annotations

import json

import pytest

from codesaga.lsp.framing import Framer, Skipped


def body(msg_id: int) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": "shutdown"}).encode()


def frame(data: bytes, header: str = "Content-Length", length: int | None = None) -> bytes:
    return f"{header}: {len(data) if length is None else length}\r\n\r\n".encode() + data


def drain(framer: Framer) -> list[bytes | Skipped]:
    out: list[bytes | Skipped] = []
    while (item := framer.next()) is not None:
        out.append(item)
    return out


@pytest.mark.parametrize("header", ["Content-Length", "content-length", "CONTENT-LENGTH"])
def test_header_names_in_any_case(header: str) -> None:
    framer = Framer()
    framer.feed(frame(body(1), header) + frame(body(2), header))
    assert drain(framer) == [body(1), body(2)]


def test_bytes_fed_one_at_a_time_with_a_content_type() -> None:
    framer = Framer()
    data = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" + frame(body(7))
    out: list[bytes | Skipped] = []
    for byte in data + frame(body(8)):
        framer.feed(bytes([byte]))
        out += drain(framer)
    assert out == [body(7), body(8)]


@pytest.mark.parametrize(
    "bad",
    [
        b"Content-Length: abc\r\n\r\n" + body(1),
        b"Content-Length: -5\r\n\r\n" + body(1),
        b"Content-Length: 99999999999999\r\n\r\n" + body(1),  # over the cap: not buffered
        b"Content-Type: x\r\n\r\n" + body(1),  # no length
    ],
    ids=["not-a-number", "negative", "huge", "missing"],
)
def test_a_bad_length_is_reported_and_the_next_message_still_read(bad: bytes) -> None:
    framer = Framer()
    framer.feed(bad + frame(body(2)))
    out = drain(framer)
    assert isinstance(out[0], Skipped) and out[0].answer
    assert out[1:] == [body(2)]


def test_too_short_a_length_costs_only_that_message() -> None:
    framer = Framer()
    framer.feed(frame(body(1), length=10) + frame(body(2)))
    out = drain(framer)
    assert out[0] == body(1)[:10]  # not JSON: the caller answers ParseError
    assert isinstance(out[1], Skipped) and not out[1].answer  # the rest of the body
    assert out[2:] == [body(2)]


def test_too_long_a_length_gives_back_the_swallowed_message() -> None:
    framer = Framer()
    framer.feed(frame(body(1), length=len(body(1)) + 30) + frame(body(2)))
    (swallowing,) = drain(framer)
    assert isinstance(swallowing, bytes) and swallowing.startswith(body(1))
    assert framer.reread(swallowing)  # a header inside the body that was not JSON
    framer.feed(frame(body(3)))
    assert drain(framer) == [body(2), body(3)]


def test_a_body_that_never_completes_is_handed_out_as_it_is() -> None:
    framer = Framer()
    framer.feed(frame(body(1), length=len(body(1)) + 30))
    assert framer.next() is None and framer.pending()
    assert framer.give_up() == body(1)  # the caller reads it: it may be whole JSON
    assert not framer.pending() and framer.give_up() is None
    framer.feed(frame(body(2)))
    assert drain(framer) == [body(2)]


def test_bytes_after_a_json_value_go_back_to_the_stream() -> None:
    framer = Framer()
    framer.feed(frame(body(1), length=len(body(1)) + 7) + frame(body(2)))
    swallowing = framer.next()  # body(1) + "Content": the next header cut in two
    assert isinstance(swallowing, bytes)
    framer.unread(swallowing[len(body(1)) :])
    assert drain(framer) == [body(2)]


def test_garbage_between_messages_is_skipped_without_an_answer() -> None:
    framer = Framer()
    framer.feed(b"\r\n" + frame(body(1)) + b"garbage}{" + frame(body(2)) + b"\r\n")
    out = drain(framer)
    assert out[0] == body(1) and out[2] == body(2)
    assert isinstance(out[1], Skipped) and not out[1].answer and out[1].size == 9
    assert not framer.pending()
