"""LSP over stdio with stdin read on the event loop.

pygls's ``start_io`` reads stdin through a thread pool: every header line and every body is
one executor round trip (a thread wake-up and a ``call_soon_threadsafe`` back), several per
message. While the model decodes, those extra threads compete for the GIL and the CPU with
it and with the event loop. Here stdin is an asyncio pipe (``loop.connect_read_pipe``,
epoll, no threads) and pygls's own message loop (``pygls.io_.run_async``) does the rest.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
import threading
from typing import BinaryIO

from pygls.io_ import StdoutWriter, run_async
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

READ_LIMIT_BYTES = 64 * 1024 * 1024
"""Longest header line the reader accepts (bodies are read by length, whatever their size)."""


class PipeReader:
    """pygls's ``AsyncReader`` over an asyncio ``StreamReader``: ``b""`` at end of input."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.stream = stream

    async def readline(self) -> bytes:
        """One line, with its ``\\r\\n``; ``b""`` once stdin is closed."""
        return await self.stream.readline()

    async def readexactly(self, n: int) -> bytes:
        """``n`` bytes; ``b""`` if stdin closes first."""
        try:
            return await self.stream.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""


def serve_stdio(server: LanguageServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Serve LSP on ``stdin``/``stdout`` until the client exits or closes stdin.

    Falls back to pygls's ``start_io`` where stdin cannot be watched by the event loop: a
    regular file rather than a pipe, pty or socket, or Windows (whose event loop reads
    only overlapped pipes).
    """
    if sys.platform == "win32" or stat.S_ISREG(os.fstat(stdin.fileno()).st_mode):
        log.info("stdin cannot be watched by the event loop here: reading it on threads")
        server.start_io(stdin, stdout)
        return
    stop = threading.Event()
    server._stop_event = stop  # LanguageServer.shutdown() sets it
    server.protocol.set_writer(StdoutWriter(stdout))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stream = asyncio.StreamReader(limit=READ_LIMIT_BYTES)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), stdin)
        await run_async(
            stop_event=stop,
            reader=PipeReader(stream),
            protocol=server.protocol,
            logger=log,
            error_handler=server.report_server_error,
        )

    try:
        asyncio.run(main())
    except BrokenPipeError:
        log.error("the connection to the client is lost; shutting down")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()
