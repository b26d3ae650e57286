"""One text as UTF-8 bytes, what tree-sitter counts: byte offsets and points.

Hangul is 3 UTF-8 bytes and an emoji 4, but one str offset (code point) each. The bytes and
the byte offset of each line start are made on first use and kept; ASCII text (one byte per
code point) needs neither for its conversions.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate

from tree_sitter import Point

from codesaga.documents.encoding import decode, encode
from codesaga.documents.errors import PositionError
from codesaga.documents.lines import LineIndex, Rescan

__all__ = ["Utf8Index"]

_BREAK = re.compile(rb"\r\n?|\n")


def _byte_breaks(data: bytes, base: int) -> list[int]:
    """``base`` + the byte offset just after each line terminator in UTF-8 ``data`` (as
    :func:`codesaga.documents.lines.line_breaks`; terminators are single ASCII bytes)."""
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return [base + m.end() for m in _BREAK.finditer(data)]
    pieces = data.split(b"\n")
    pieces.pop()
    return list(accumulate((len(p) + 1 for p in pieces), initial=base))[1:]


class Utf8Index:
    """The UTF-8 form of the text of ``lines`` and the conversions between its byte offsets
    and str offsets (a snapshot: the cached bytes and line starts never change).

    ``ascii``: the text is ASCII, so byte offsets are str offsets. ``starts``, if given, are
    the byte offsets of the line starts of a non-ASCII text (else computed when needed).
    """

    __slots__ = ("_data", "_starts", "ascii", "lines")

    def __init__(
        self, lines: LineIndex, starts: list[int] | None = None, *, ascii: bool | None = None
    ) -> None:
        self.lines = lines
        self.ascii = lines.text.isascii() if ascii is None else ascii
        self._data: bytes | None = None
        # the same list as the str line starts for ASCII text
        self._starts: list[int] | None = lines.starts if self.ascii else starts

    def data(self) -> bytes:
        """The text as UTF-8 (lone surrogates via ``surrogatepass``), encoded once."""
        if self._data is None:
            self._data = encode(self.lines.text)
        return self._data

    def line_starts(self) -> list[int]:
        """The UTF-8 byte offset of each line start (lines as in :class:`LineIndex`)."""
        if self._starts is None:
            self._starts = [0, *_byte_breaks(self.data(), 0)]
        return self._starts

    def byte_at(self, offset: int) -> int:
        """The UTF-8 byte offset of str ``offset`` (code points; ``0..len(text)``, else
        :class:`PositionError`)."""
        lines = self.lines
        text = lines.text
        if not 0 <= offset <= len(text):
            raise PositionError(f"offset {offset} outside {lines.name} ({len(text)} chars)")
        if self.ascii:
            return offset
        line = lines.line_at(offset)
        return self.line_starts()[line] + len(encode(text[lines.starts[line] : offset]))

    def offset_of_byte(self, byte_offset: int) -> int:
        """The str offset (code points) of UTF-8 ``byte_offset`` (``0..len(data)``, else
        :class:`PositionError`).

        A byte offset inside a multi-byte character rounds down to that character's start.
        """
        lines = self.lines
        if self.ascii:
            if not 0 <= byte_offset <= len(lines.text):
                raise PositionError(f"byte {byte_offset} outside {lines.name}")
            return byte_offset
        byte_starts = self.line_starts()
        data = self.data()
        if not 0 <= byte_offset <= len(data):
            raise PositionError(f"byte {byte_offset} outside {lines.name} ({len(data)} bytes)")
        line = bisect_right(byte_starts, byte_offset) - 1
        line_byte = byte_starts[line]
        while line_byte < byte_offset < len(data) and data[byte_offset] & 0xC0 == 0x80:
            byte_offset -= 1  # continuation byte: back up to the character's lead byte
        return lines.starts[line] + len(decode(data[line_byte:byte_offset]))

    def point(self, offset: int, byte_offset: int) -> Point:
        """The tree-sitter point (row counted at ``\\n``, column in bytes) of str ``offset``,
        whose byte offset is ``byte_offset``."""
        if self.lines.lone_cr:  # rows differ from the lines: count in the bytes
            data = self.data()
            row = data.count(b"\n", 0, byte_offset)
            return Point(row, byte_offset - (data.rfind(b"\n", 0, byte_offset) + 1))
        line = self.lines.line_at(offset)
        return Point(line, byte_offset - self.line_starts()[line])

    def replaced(self, lines: LineIndex, rescan: Rescan) -> Utf8Index:
        """The index of ``lines``, the text after the edit that ``rescan`` describes (from
        :meth:`LineIndex.replaced`). Byte line starts already known are updated as the str
        ones were; the bytes themselves are encoded again only when asked for."""
        ascii = lines.text.isascii()
        old = self._starts
        if ascii or old is None:
            return Utf8Index(lines, ascii=ascii)
        first, last, region = rescan
        region_start = old[first]
        region_bytes = encode(region)
        starts = old[: first + 1] + _byte_breaks(region_bytes, region_start)
        if last + 2 < len(old):
            delta = len(region_bytes) - (old[last + 1] - region_start)
            starts += [b + delta for b in old[last + 2 :]]
        return Utf8Index(lines, starts, ascii=False)
