"""Info, warnings and errors of the ``codesaga`` logger reach the client as
window/logMessage, each with its own type; debug records do not."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from lsprotocol import types

from codesaga.lsp import client_log
from codesaga.lsp.server import CodeSagaServer

log = logging.getLogger("codesaga.test")


class Recorder:
    """Stands in for the protocol: records what is sent, optionally failing or logging."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.threads: list[str] = []
        self.fail = False
        self.log_while_sending = False

    def notify(self, method: str, params: Any = None) -> None:
        self.sent.append((method, params))
        self.threads.append(threading.current_thread().name)
        if self.log_while_sending:
            log.warning("sending failed")  # e.g. a writer that logs its own failure
        if self.fail:
            raise BrokenPipeError("client gone")


@pytest.fixture
def sent() -> Iterator[Recorder]:
    server = CodeSagaServer()
    recorder = Recorder()
    server.protocol.notify = recorder.notify  # type: ignore[method-assign]
    logger = logging.getLogger("codesaga")
    level = logger.level
    logger.setLevel(logging.INFO)
    handler = client_log.install(server)
    yield recorder
    logger.removeHandler(handler)
    logger.setLevel(level)


def messages(recorder: Recorder) -> list[tuple[types.MessageType, str]]:
    return [
        (params.type, params.message)
        for method, params in recorder.sent
        if method == types.WINDOW_LOG_MESSAGE
    ]


async def test_info_warnings_and_errors_reach_the_client(sent: Recorder) -> None:
    log.debug("may hold code")
    log.info("routine: %d tokens", 12)
    log.warning("slow: %d ms", 900)
    log.error("engine failed")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("with a traceback")
    assert messages(sent) == [
        (types.MessageType.Info, "codesaga.test: routine: 12 tokens"),  # not tagged an error
        (types.MessageType.Warning, "codesaga.test: slow: 900 ms"),
        (types.MessageType.Error, "codesaga.test: engine failed"),
        (types.MessageType.Error, "codesaga.test: with a traceback"),  # no traceback sent
    ]


async def test_records_of_other_threads_are_sent_on_the_loop(sent: Recorder) -> None:
    log.warning("first, on the loop")
    await asyncio.to_thread(log.warning, "from the model thread")
    await asyncio.sleep(0)
    assert [m for _t, m in messages(sent)] == [
        "codesaga.test: first, on the loop",
        "codesaga.test: from the model thread",
    ]
    assert sent.threads == [threading.current_thread().name] * 2


async def test_records_of_other_threads_are_sent_once_attached(sent: Recorder) -> None:
    client_log.attach()  # as initialize does, before anything was logged on the loop
    await asyncio.to_thread(log.info, "model loaded in 1.00 s")
    await asyncio.sleep(0)
    assert messages(sent) == [(types.MessageType.Info, "codesaga.test: model loaded in 1.00 s")]


def test_nothing_is_sent_before_a_loop_was_seen(sent: Recorder) -> None:
    log.warning("no loop yet")
    assert messages(sent) == []


async def test_a_failing_send_neither_raises_nor_recurses(sent: Recorder) -> None:
    sent.fail = True
    sent.log_while_sending = True
    log.warning("first")
    log.error("second")
    assert [m for _t, m in messages(sent)] == ["codesaga.test: first", "codesaga.test: second"]


def test_install_replaces_the_previous_handler(sent: Recorder) -> None:
    handlers = logging.getLogger("codesaga").handlers
    assert sum(isinstance(h, client_log.ClientLogHandler) for h in handlers) == 1
    other = client_log.install(CodeSagaServer())
    try:
        assert [h for h in handlers if isinstance(h, client_log.ClientLogHandler)] == [other]
    finally:
        logging.getLogger("codesaga").removeHandler(other)
