"""LSP base-protocol framing (``Content-Length: N\\r\\n\\r\\n`` + N bytes of JSON), without I/O.

pygls's reader matches the exact bytes ``Content-Length: N\\r\\n`` at the start of a line, so
a header written in another case, a missing or non-numeric length, or a wrong length left it
out of step with the stream: every later header then sits after the previous body on the
same line and never matches again, and the server answers nothing, ever. A :class:`Framer`
reads header names case-insensitively (as HTTP does; the LSP specification borrows its
header format) and, after a bad frame, finds its feet again at the next ``Content-Length``
header wherever it appears, so that one bad frame costs only itself.

Bytes go in with :meth:`Framer.feed`; :meth:`Framer.next` hands out each complete body, or a
:class:`Skipped` for a frame it had to drop. Three things only the caller can tell: a body
whose JSON value ends before it does (too long a ``Content-Length``: :meth:`Framer.unread`
gives the rest back to the stream), a body that is not JSON at all (:meth:`Framer.reread`
looks inside it for a next header that it swallowed), and a frame that stays incomplete
because the client sent a length longer than its body and then waited
(:meth:`Framer.give_up`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest body accepted (bytes). A longer ``Content-Length`` is treated as a broken frame
(and skipped) rather than buffered: no editor sends a 64 MiB message."""
MAX_HEADER_BYTES = 64 * 1024
"""Longest header block (bytes) waited for before its bytes count as garbage."""
_HEADER_START = re.compile(rb"content-length[ \t]*:", re.IGNORECASE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LINE_BREAK = re.compile(rb"\r?\n")
_HEADER_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:[ \t]*(.*?)[ \t]*")
"""``name: value`` with an HTTP token as the name (RFC 9110 §5.1)."""
_WHITESPACE = b" \t\r\n"
_KEEP = len(b"content-length") + 8
"""Bytes kept at the end of the buffer while looking for a header: one may be cut in two."""


@dataclass(frozen=True)
class Skipped:
    """Bytes dropped instead of a message: ``size`` in bytes, ``reason`` in words (metadata
    only, never the bytes themselves). ``answer``: whether the client may be waiting for a
    reply (a frame with a header was dropped), so a JSON-RPC ParseError should be sent."""

    size: int
    reason: str
    answer: bool = True


class Framer:
    """Splits a byte stream into LSP message bodies; see the module docstring."""

    def __init__(self, max_body: int = MAX_BODY_BYTES) -> None:
        self.max_body = max_body
        self._buffer = bytearray()
        self._body_length: int | None = None
        """The length of the body being waited for; None while reading headers."""
        self._resyncing = False
        """True after a bad frame, until the next ``Content-Length`` header is found."""
        self.dropped = 0
        """Bytes dropped while resynchronising, in all (for logs and tests)."""

    def feed(self, data: bytes) -> None:
        """Append bytes read from the stream."""
        self._buffer += data

    def pending(self) -> bool:
        """Whether part of a frame is waiting for more bytes (whitespace does not count)."""
        if self._body_length is not None:
            return True
        return bool(self._buffer.strip(_WHITESPACE))

    def next(self) -> bytes | Skipped | None:
        """The next complete body, a :class:`Skipped` for a dropped frame, or None until
        more bytes are fed."""
        while True:
            if self._body_length is not None:
                if len(self._buffer) < self._body_length:
                    return None
                body = bytes(self._buffer[: self._body_length])
                del self._buffer[: self._body_length]
                self._body_length = None
                return body
            if self._resyncing and not self._find_header(0):
                return None
            start = len(self._buffer) - len(self._buffer.lstrip(_WHITESPACE))
            del self._buffer[:start]
            if not self._buffer:
                return None
            end = _HEADER_END.search(self._buffer)
            if end is None:
                if len(self._buffer) <= MAX_HEADER_BYTES:
                    return None
                size = len(self._buffer)
                self._resyncing = True
                self._find_header(1)
                return Skipped(size - len(self._buffer), "no end of headers", answer=False)
            length, reason = self._parse_headers(bytes(self._buffer[: end.start()]))
            if reason is None:
                del self._buffer[: end.end()]
                self._body_length = length
                continue
            if reason == "garbage":
                # bytes that are not a header at all: the rest of a body sent with too short a
                # length, or noise. Skip to the next header, even one on the same line.
                size = len(self._buffer)
                self._resyncing = True
                self._find_header(1)
                dropped = size - len(self._buffer)
                return Skipped(dropped, "bytes that are not an LSP header", answer=False)
            del self._buffer[: end.end()]
            self._resyncing = True
            return Skipped(end.end(), reason)

    def reread(self, body: bytes) -> bool:
        """``body`` (from :meth:`next`) is not JSON: if a header starts inside it, most likely
        the next message swallowed by too long a ``Content-Length``, put the bytes from
        there back in front of the stream. Returns whether any were put back."""
        found = _HEADER_START.search(body, 1)
        if found is None:
            return False
        self._buffer[:0] = body[found.start() :]
        self._resyncing = False
        return True

    def unread(self, data: bytes) -> None:
        """Put ``data`` back in front of the stream: bytes after the end of a body's JSON
        value, which belong to the next message (too long a ``Content-Length``)."""
        self._buffer[:0] = data
        self._resyncing = False

    def give_up(self) -> bytes | Skipped | None:
        """Stop waiting for the incomplete frame (the stream stalled in the middle of it).
        Returns the partial body, to be read like a whole one (too long a ``Content-Length``
        on a message the client then waits on: the JSON may well be complete); a
        :class:`Skipped` for a partial header; None when nothing was pending."""
        if self._body_length is not None:
            partial = bytes(self._buffer)
            self._buffer.clear()
            self._body_length = None
            return partial
        if not self.pending():
            return None
        size = len(self._buffer)
        self._buffer.clear()
        self._resyncing = True
        return Skipped(size, "incomplete header", answer=False)

    # ----- internals ------------------------------------------------------------------------

    def _find_header(self, start: int) -> bool:
        """Drop bytes up to the next ``Content-Length`` header at or after ``start``; False
        (keeping only a tail that may hold the start of one) when there is none yet."""
        found = _HEADER_START.search(self._buffer, start)
        if found is not None:
            cut = found.start()
            self._resyncing = False
        else:
            cut = max(start, len(self._buffer) - _KEEP)
        self.dropped += cut
        del self._buffer[:cut]
        return found is not None

    def _parse_headers(self, block: bytes) -> tuple[int, str | None]:
        """The body length a header block gives, and None; or 0 and why the frame is bad
        (``"garbage"`` when the block is not made of headers at all)."""
        length: int | None = None
        for line in _LINE_BREAK.split(block):
            match = _HEADER_LINE.fullmatch(line)
            if match is None:
                return 0, "garbage"
            name, value = match.group(1).lower(), match.group(2)
            if name != b"content-length":
                continue  # Content-Type: only utf-8 exists in practice
            if not value.isdigit():
                return 0, "Content-Length is not a number"
            if length is not None and int(value) != length:
                return 0, "two different Content-Length headers"
            length = int(value)
        if length is None:
            return 0, "no Content-Length header"
        if length > self.max_body:
            return 0, f"Content-Length {length} over the limit of {self.max_body} bytes"
        return length, None
