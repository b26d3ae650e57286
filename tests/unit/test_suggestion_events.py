"""The suggestion events clients send (shown, partly accepted, dismissed): which items they
name and what reaches the usage recorder. No model, no server."""

from __future__ import annotations

from typing import Any

import pytest

from codesaga.lsp.suggestion_events import (
    ACCEPT_COMMAND,
    DID_DISMISS,
    DID_PARTIALLY_ACCEPT,
    DID_SHOW,
    Reported,
    record,
    reported_item,
)


class Recorder:
    """Records the calls :func:`record` makes (a stand-in for UsageRecorder)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def displayed(self, request_id: str) -> None:
        self.calls.append(("displayed", request_id))

    def dismissed(self, request_id: str) -> None:
        self.calls.append(("dismissed", request_id))

    def accept(self, request_id: str, chars: int) -> None:
        self.calls.append(("accept", (request_id, chars)))


def item(text: Any = "total += 1", request_id: Any = "abc", command: str = ACCEPT_COMMAND) -> Any:
    arguments = ["model", 10, "file:///a.py", request_id]
    return {
        "insertText": text,
        "command": {"title": "t", "command": command, "arguments": arguments},
    }


def test_an_item_of_ours_is_named_by_its_request_id() -> None:
    assert reported_item({"item": item()}) == Reported("abc", "total += 1")
    snippet = item({"kind": "snippet", "value": "x = 1"})
    assert reported_item({"item": snippet}) == Reported("abc", "x = 1")


@pytest.mark.parametrize(
    "params",
    [
        None,
        [],
        {},
        {"item": "x"},
        {"item": {"insertText": "x"}},  # no command: another server's item
        {"item": item(command="other.accept")},
        {"item": item(request_id=7)},
        {"item": item(request_id="")},
        {"item": item(text=None)},
        {"item": {**item(), "command": {"command": ACCEPT_COMMAND, "arguments": ["model"]}}},
    ],
)
def test_anything_else_is_dropped(params: Any) -> None:
    assert reported_item(params) is None
    recorder = Recorder()
    assert not record(recorder, DID_SHOW, params)  # type: ignore[arg-type]
    assert recorder.calls == []


def test_each_event_reaches_the_recorder() -> None:
    recorder = Recorder()
    assert record(recorder, DID_SHOW, {"item": item()})  # type: ignore[arg-type]
    assert record(recorder, DID_DISMISS, {"item": item()})  # type: ignore[arg-type]
    assert recorder.calls == [("displayed", "abc"), ("dismissed", "abc")]


@pytest.mark.parametrize(
    ("text", "utf16_length", "chars"),
    [
        ("total += 1", 5, 5),
        ("합계 += 1", 2, 2),  # Hangul: one UTF-16 unit each
        ("x = '😀' + y", 7, 6),  # the emoji is two UTF-16 units, one character
        ("x = '😀' + y", 6, 5),  # inside the emoji: rounds down to its start
        ("ab", 99, 2),  # past the end: the whole text
    ],
)
def test_partial_accept_lengths_are_utf16_units_counted_as_characters(
    text: str, utf16_length: int, chars: int
) -> None:
    recorder = Recorder()
    params = {"item": item(text), "acceptedLength": utf16_length}
    assert record(recorder, DID_PARTIALLY_ACCEPT, params)  # type: ignore[arg-type]
    assert recorder.calls == [("accept", ("abc", chars))]


@pytest.mark.parametrize("length", [None, -1, 2.5, "3", True])
def test_a_partial_accept_without_a_usable_length_is_dropped(length: Any) -> None:
    recorder = Recorder()
    params = {"item": item(), "acceptedLength": length}
    assert not record(recorder, DID_PARTIALLY_ACCEPT, params)  # type: ignore[arg-type]
    assert recorder.calls == []
