"""LSP over stdio: stdin read on the event loop, framed by :class:`~codesaga.lsp.framing.Framer`,
with a watch on the editor's process.

pygls's ``start_io`` reads stdin through a thread pool: every header line and every body is
one executor round trip (a thread wake-up and a ``call_soon_threadsafe`` back), several per
message. While the model decodes, those extra threads compete for the GIL and the CPU with
it and with the event loop. Here stdin is an asyncio pipe (``loop.connect_read_pipe``,
epoll, no threads) where the event loop can watch it, else one reader thread; its bytes go
through a :class:`Framer` (case-insensitive headers, resynchronisation after a bad frame)
and each body to the protocol, so that no client mistake leaves the server deaf or silent.

The session ends when stdin closes, at ``exit`` (exit code 0 after ``shutdown``, else 1, as
LSP 3.17 asks), or when the editor whose ``processId`` came with ``initialize`` is gone
(exit code 1): a server whose stdin another process still holds does not outlive its editor.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, BinaryIO

from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer

from codesaga.lsp.framing import Framer, Skipped
from codesaga.lsp.protocol import CodeSagaProtocol
from codesaga.lsp.watchdog import POLL_SECONDS, watch_parent

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
"""Most bytes taken from stdin at a time."""
STALL_SECONDS = 5.0
"""How long a frame may stay incomplete with no byte arriving before it is dropped (an editor
writes each message at once; a ``Content-Length`` longer than the body would otherwise keep
the server waiting for bytes that never come)."""

Read = Callable[[], Awaitable[bytes]]
"""Returns the next bytes of stdin; ``b""`` once it is closed."""


def serve_stdio(server: LanguageServer, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Serve LSP on ``stdin``/``stdout`` until the session ends (see the module docstring);
    returns the process exit code."""
    stop = threading.Event()
    server._stop_event = stop  # LanguageServer.shutdown() sets it
    server.protocol.set_writer(StdoutWriter(stdout))

    async def main() -> int:
        read = await _pipe_reader(stdin) if _watchable(stdin) else _thread_reader(stdin)
        return await serve(server, read, stop)

    try:
        return asyncio.run(main())
    except BrokenPipeError:
        log.error("the connection to the client is lost; shutting down")
        return 1
    except SystemExit as exc:  # pygls's exit handler: 0 after shutdown, else 1
        return exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        return 1
    finally:
        server.shutdown()


async def serve(
    server: LanguageServer,
    read: Read,
    stop: threading.Event,
    *,
    stall_seconds: float = STALL_SECONDS,
    watch_seconds: float = POLL_SECONDS,
) -> int:
    """Read and handle messages until stdin closes (exit code 0), ``stop`` is set (0) or the
    editor's process is gone (1); ``exit`` raises SystemExit through here. ``watch_seconds``:
    how often the editor's process is checked."""
    framer = Framer()
    reading = asyncio.ensure_future(read())
    watchdog = asyncio.ensure_future(watch_parent(lambda: server.process_id, watch_seconds))
    try:
        while not stop.is_set():
            timeout = stall_seconds if framer.pending() else None
            done, _ = await asyncio.wait(
                {reading, watchdog}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if watchdog in done:
                log.warning("the editor (process %s) is gone: exiting", watchdog.result())
                return 1
            if reading in done:
                chunk = reading.result()
                if not chunk:
                    return 0
                framer.feed(chunk)
                reading = asyncio.ensure_future(read())
            else:  # nothing arrived for stall_seconds in the middle of a frame
                _handle(server, framer, framer.give_up())
            _drain(server, framer)
        return 0
    finally:
        for task in (reading, watchdog):
            task.cancel()


def _drain(server: LanguageServer, framer: Framer) -> None:
    """Handle every complete frame in ``framer``."""
    while (frame := framer.next()) is not None:
        _handle(server, framer, frame)


def _handle(server: LanguageServer, framer: Framer, frame: bytes | Skipped | None) -> None:
    """Decode one body and hand it to the protocol; answer what cannot be decoded."""
    if frame is None:
        return
    if isinstance(frame, Skipped):
        _skipped(server, frame)
        return
    data, rest = _decode(frame)
    if rest:
        log.warning("Content-Length was %d bytes too long: the rest goes back", len(rest))
        framer.unread(rest)
    if data is _NOT_JSON:
        reason = f"a {len(frame)}-byte message is not JSON"
        if framer.reread(frame):  # the next message is inside it
            reason += " (a Content-Length too long?)"
        _answer_unparsable(server, reason)
        return
    protocol = server.protocol
    try:
        protocol.handle_message(protocol.structure_message(data))
    except (SystemExit, KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception:  # a bug in pygls or a handler: logged, and the server goes on
        log.exception("a message could not be handled")


_NOT_JSON = object()
_DECODER = json.JSONDecoder()


def _decode(body: bytes) -> tuple[Any, bytes]:
    """The JSON value ``body`` holds, and b""; or, when an object ends before the body does,
    the object and the bytes after it; or ``_NOT_JSON`` and b"" (not UTF-8, not JSON, or
    nested too deep)."""
    try:
        return json.loads(body), b""
    except (ValueError, RecursionError):
        pass
    try:
        text = body.decode("utf-8")
        data, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip()))
    except (ValueError, RecursionError):
        return _NOT_JSON, b""
    if not isinstance(data, dict):  # a message is an object: this was the middle of one
        return _NOT_JSON, b""
    return data, text[end:].encode("utf-8")


def _skipped(server: LanguageServer, skipped: Skipped) -> None:
    reason = f"skipped {skipped.size} bytes of input: {skipped.reason}"
    if skipped.answer:  # the client may wait for an answer to what it sent
        _answer_unparsable(server, reason)
    else:
        log.warning("%s", reason)


def _answer_unparsable(server: LanguageServer, reason: str) -> None:
    """ParseError with a null id (logged once, by the protocol)."""
    if isinstance(server.protocol, CodeSagaProtocol):
        server.protocol.reject_unparsable(reason)
    else:
        log.warning("%s", reason)


def _watchable(stdin: BinaryIO) -> bool:
    """Whether the event loop can watch ``stdin``: a pipe, pty or socket, not a regular file,
    and not on Windows (whose event loop reads only overlapped pipes)."""
    return sys.platform != "win32" and not stat.S_ISREG(os.fstat(stdin.fileno()).st_mode)


async def _pipe_reader(stdin: BinaryIO) -> Read:
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(limit=CHUNK_BYTES)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), stdin)
    return lambda: stream.read(CHUNK_BYTES)


def _thread_reader(stdin: BinaryIO) -> Read:
    """Reads ``stdin`` on one daemon thread (it may block for ever: exiting does not wait)."""
    log.info("stdin cannot be watched by the event loop here: reading it on a thread")
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    read1 = getattr(stdin, "read1", stdin.read)

    def pump() -> None:
        while True:
            try:
                data = read1(CHUNK_BYTES)
            except (OSError, ValueError):  # closed under us
                data = b""
            try:
                loop.call_soon_threadsafe(queue.put_nowait, data)
            except RuntimeError:  # the event loop is closed: the server is gone
                return
            if not data:
                return

    threading.Thread(target=pump, name="codesaga-stdin", daemon=True).start()
    return queue.get
