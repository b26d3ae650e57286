"""Records of the ``codesaga`` logger at ``info`` and above reach the client's log, as
``window/logMessage`` notifications of their own type (installed by ``codesaga serve``; its
stderr carries warnings and errors only, see :func:`codesaga.cli.setup_logging`, since
editors such as Neovim tag every stderr line of a server as an error). ``debug`` records are
never sent: they may hold code.

What is sent is the record's logger name and message (``codesaga.lsp.server: ...``): log
messages hold metadata only, and tracebacks stay in the server's own log. Sending happens on
the event loop: a record logged on another thread (the model thread) is handed to the loop
the handler last saw (or was given by :func:`attach`, which ``initialize`` calls), and dropped
while it knows none. A record logged while a message is
being sent, or a send that fails, is never sent again: the handler cannot recurse.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from lsprotocol import types
from pygls.lsp.server import LanguageServer

LOGGER = "codesaga"


def message_type(level: int) -> types.MessageType:
    """The LSP message type of a logging level: error and above Error, warning Warning,
    below Info."""
    if level >= logging.ERROR:
        return types.MessageType.Error
    return types.MessageType.Warning if level >= logging.WARNING else types.MessageType.Info


class ClientLogHandler(logging.Handler):
    """Sends each record at ``level`` or above to ``server``'s client as window/logMessage."""

    def __init__(self, server: LanguageServer, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.server = server
        self.loop: asyncio.AbstractEventLoop | None = None
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._local, "sending", False):
            return  # logged by the send itself: sending it would recurse
        try:
            text = f"{record.name}: {record.getMessage()}"
        except Exception:  # a record whose arguments do not fit its format
            return
        params = types.LogMessageParams(type=message_type(record.levelno), message=text)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self.loop = loop
            self._send(params)
        elif self.loop is not None:
            try:
                self.loop.call_soon_threadsafe(self._send, params)
            except RuntimeError:  # the loop is closed: the server is gone
                self.loop = None

    def _send(self, params: types.LogMessageParams) -> None:
        self._local.sending = True
        try:
            self.server.window_log_message(params)
        except Exception:  # the client is gone or the stream is broken: nobody to tell
            pass
        finally:
            self._local.sending = False


def attach(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Give every :class:`ClientLogHandler` of the ``codesaga`` logger the event loop (the
    running one by default) that records of other threads are sent through: the model
    thread's first record (the model load's) may come before any on the loop."""
    loop = loop or asyncio.get_running_loop()
    for handler in logging.getLogger(LOGGER).handlers:
        if isinstance(handler, ClientLogHandler):
            handler.loop = loop


def install(server: LanguageServer, level: int = logging.INFO) -> ClientLogHandler:
    """Attach a :class:`ClientLogHandler` for ``server`` to the ``codesaga`` logger, in place
    of any earlier one; returns it."""
    logger = logging.getLogger(LOGGER)
    for old in [h for h in logger.handlers if isinstance(h, ClientLogHandler)]:
        logger.removeHandler(old)
    handler = ClientLogHandler(server, level)
    logger.addHandler(handler)
    return handler
