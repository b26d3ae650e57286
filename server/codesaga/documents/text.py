"""Document: one snapshot of an open text, its line index and its position conversions.

Units. Three ways of counting characters meet here, and every conversion between them
lives in this module:

* LSP positions (``Position.character``) count **UTF-16 code units** (the default
  ``positionEncoding``): an emoji outside the BMP is 2 units, Hangul is 1.
* tree-sitter counts **UTF-8 bytes** (Hangul 3 bytes, an emoji 4).
* Python ``str`` indices, called *offsets* here, count **code points** (both are 1).

LSP ``Position`` appears only at the edge, in :meth:`Document.offset_at` and
:meth:`Document.position_at`; the rest of the code counts lines and offsets
(:meth:`Document.line_start`, :meth:`Document.line_end`, :meth:`Document.line_at`).

Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` (as in the LSP spec); a text ending in a line
terminator has a final empty line, so ``"a\\n"`` has 2 lines and ``""`` has 1.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate

from lsprotocol.types import Position
from tree_sitter import Point, Tree

from codesaga.errors import InvalidParams
from codesaga.syntax.languages import grammar_name

__all__ = [
    "ENCODINGS",
    "UTF8",
    "UTF16",
    "UTF32",
    "Document",
    "DocumentError",
    "PositionError",
    "UnknownDocumentError",
]

# Lone surrogates can arrive from clients (JSON "\ud800"); keep them round-trippable.
_UTF8_ERRORS = "surrogatepass"

_BREAK_STR = re.compile(r"\r\n?|\n")
_BREAK_BYTES = re.compile(rb"\r\n?|\n")


class DocumentError(InvalidParams):
    """Base class for document store errors."""


class UnknownDocumentError(DocumentError, KeyError):
    """The URI is not open in the store."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class PositionError(DocumentError, ValueError):
    """A position, offset or line outside the document."""


def _encode(text: str) -> bytes:
    return text.encode("utf-8", _UTF8_ERRORS)


def _has_lone_cr(text: str) -> bool:
    return "\r" in text and text.count("\r") != text.count("\r\n")


def _breaks(text: str, base: int) -> list[int]:
    """``base`` + the str index just after each line terminator in ``text``.

    Splitting on ``\\n`` and summing the piece lengths (all in C) takes ~0.6 ms for a
    5,000-line/350 KB text, about 5x faster than ``re.finditer``; the regex is used only
    when lone ``\\r`` terminators exist (``\\r\\n`` ends where ``\\n`` does).
    """
    if _has_lone_cr(text):
        return [base + m.end() for m in _BREAK_STR.finditer(text)]
    pieces = text.split("\n")
    pieces.pop()
    return list(accumulate((len(p) + 1 for p in pieces), initial=base))[1:]


def _byte_breaks(data: bytes, base: int) -> list[int]:
    """Like :func:`_breaks`, for UTF-8 ``data`` (terminators are single ASCII bytes)."""
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return [base + m.end() for m in _BREAK_BYTES.finditer(data)]
    pieces = data.split(b"\n")
    pieces.pop()
    return list(accumulate((len(p) + 1 for p in pieces), initial=base))[1:]


UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"
ENCODINGS = (UTF8, UTF16, UTF32)
"""LSP position encodings (``PositionEncodingKind``): what one ``character`` unit counts."""


def _utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", _UTF8_ERRORS)) // 2


def _units(text: str, encoding: str) -> int:
    """Length of ``text`` in ``encoding`` units (UTF-8 bytes, UTF-16 code units, code points)."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF8:
        return len(_encode(text))
    return _utf16_len(text)


def _index_of_utf8(line: str, units: int) -> int:
    """The str index in ``line`` that is ``units`` UTF-8 bytes from its start (clamped; a
    count inside a multi-byte character rounds down to the start of that character)."""
    seen = 0
    for index, char in enumerate(line):
        code = ord(char)
        seen += 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
        if seen > units:
            return index
    return len(line)


def _index_of_units(line: str, units: int, encoding: str) -> int:
    """The str index in ``line`` that is ``units`` ``encoding`` units from its start."""
    if encoding == UTF32 or line.isascii():
        return min(units, len(line))
    if encoding == UTF8:
        return _index_of_utf8(line, units)
    return _index_of_utf16(line, units)


def _index_of_utf16(line: str, units: int) -> int:
    """The str index in ``line`` that is ``units`` UTF-16 code units from its start.

    Clamps to ``len(line)``; a count that falls inside a surrogate pair rounds down to the
    start of that character.
    """
    if units >= len(line) * 2:
        return len(line)
    if line.isascii():
        return min(units, len(line))
    total = _utf16_len(line)
    if total == len(line):  # BMP only: one unit per code point
        return min(units, len(line))
    if units >= total:
        return len(line)
    seen = 0
    for index, char in enumerate(line):
        seen += 2 if char > "\uffff" else 1
        if seen > units:
            return index
    return len(line)


class Document:
    """One open text document (a snapshot: treat every attribute as read-only).

    ``text`` is the current text; ``grammar`` the tree-sitter grammar name (``None`` for
    languages without one); ``tree`` the syntax tree of ``text`` encoded as UTF-8 (see
    :meth:`utf8`), or ``None`` when there is no grammar or the text is binary (contains
    NUL) or larger than the store's ``max_bytes``.

    ``tree_stale`` is True while the store's background re-parse of this version is pending:
    ``tree`` is then the previous version's tree edited with ``Tree.edit`` (byte ranges and
    points match ``text``, but the nodes around the edits are the old ones, and
    ``Node.text`` is ``None``: read text by byte range from :meth:`utf8`), or ``None`` after
    a whole-document change. :meth:`DocumentStore.parsed` returns the document with a fresh
    tree.
    """

    __slots__ = (
        "_ascii",
        "_byte_starts",
        "_data",
        "_lone_cr",
        "_nul",
        "_starts",
        "encoding",
        "grammar",
        "language_id",
        "text",
        "tree",
        "tree_stale",
        "uri",
        "version",
    )

    def __init__(
        self,
        uri: str,
        language_id: str,
        version: int,
        text: str,
        tree: Tree | None = None,
        *,
        _starts: list[int] | None = None,
        _byte_starts: list[int] | None = None,
        _nul: bool | None = None,
        encoding: str = UTF16,
    ) -> None:
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown position encoding {encoding!r}")
        self.encoding = encoding
        self.uri = uri
        self.language_id = language_id
        self.version = version
        self.grammar: str | None = grammar_name(language_id, uri)
        self.text = text
        self.tree = tree
        self.tree_stale = False
        self._ascii = text.isascii()
        self._lone_cr = _has_lone_cr(text)
        # a NUL character (binary text, not parsed); searching a non-Latin-1 str for it
        # takes ~0.15 ms per 150,000 characters, so edits carry it over when they can
        self._nul = "\x00" in text if _nul is None else _nul
        self._data: bytes | None = None
        # str index of the first character of each line; always starts with 0
        self._starts = _starts if _starts is not None else [0, *_breaks(text, 0)]
        # UTF-8 byte offset of each line start; the same list for ASCII text, else lazy
        self._byte_starts: list[int] | None = self._starts if self._ascii else _byte_starts

    def __repr__(self) -> str:
        return (
            f"Document(uri={self.uri!r}, language_id={self.language_id!r}, "
            f"version={self.version}, grammar={self.grammar!r}, chars={len(self.text)}, "
            f"parsed={self.tree is not None}, stale={self.tree_stale})"
        )

    # ----------------------------------------------------------------- lines

    @property
    def line_count(self) -> int:
        """Number of lines, counting the empty line after a final line terminator."""
        return len(self._starts)

    def line_start(self, line: int) -> int:
        """The str offset (code points) where the 0-based ``line`` starts; ``line_count``
        (one past the last line) gives ``len(text)``. Raises :class:`PositionError` for a
        line outside ``0 <= line <= line_count``."""
        if 0 <= line < len(self._starts):
            return self._starts[line]
        if line == len(self._starts):
            return len(self.text)
        raise PositionError(f"line {line} outside {self.uri} ({len(self._starts)} lines)")

    def line_end(self, line: int) -> int:
        """The str offset (code points) where the 0-based ``line`` ends, before its
        terminator. Raises :class:`PositionError` for a line outside
        ``0 <= line < line_count``."""
        starts = self._starts
        if not 0 <= line < len(starts):
            raise PositionError(f"line {line} outside {self.uri} ({len(starts)} lines)")
        if line + 1 == len(starts):
            return len(self.text)
        end = starts[line + 1] - 1  # the terminator's last character
        if end > starts[line] and self.text[end] == "\n" and self.text[end - 1] == "\r":
            end -= 1
        return end

    def line_at(self, offset: int) -> int:
        """The 0-based line that holds str ``offset`` (``0..len(text)``; the offset of a
        terminator belongs to the line it ends). Raises :class:`PositionError` outside."""
        if not 0 <= offset <= len(self.text):
            raise PositionError(f"offset {offset} outside {self.uri} ({len(self.text)} chars)")
        return bisect_right(self._starts, offset) - 1

    def line_text(self, line: int) -> str:
        """Text of the 0-based ``line`` without its terminator (:class:`PositionError` if
        ``line`` is not in ``0 <= line < line_count``)."""
        end = self.line_end(line)
        return self.text[self.line_start(line) : end]

    # ----------------------------------------------------------- conversions

    def offset_at(self, position: Position) -> int:
        """The str offset (code points) of an LSP ``position`` (``character`` counted in the
        document's position ``encoding``: UTF-16 code units unless the client negotiated
        UTF-8 bytes or UTF-32 code points).

        A ``character`` past the end of its line clamps to the line end (before the
        terminator). ``line == line_count`` (one past the last line) means the end of the
        text, whatever the character. A negative line or character, or a line beyond
        that, raises :class:`PositionError`.
        """
        line, character = position.line, position.character
        if line < 0 or character < 0:
            raise PositionError(f"negative position {line}:{character} in {self.uri}")
        start = self.line_start(line)
        if character == 0 or line == self.line_count:
            return start
        end = self.line_end(line)
        return start + _index_of_units(self.text[start:end], character, self.encoding)

    def position_at(self, offset: int) -> Position:
        """The LSP position (line, ``encoding`` units) of str ``offset`` (code points).

        ``0 <= offset <= len(text)``, else :class:`PositionError`. An offset between the
        ``\\r`` and ``\\n`` of a CRLF maps to one unit past the line end.
        """
        line = self.line_at(offset)
        start = self.line_start(line)
        return Position(line=line, character=_units(self.text[start:offset], self.encoding))

    def _byte_line_starts(self) -> list[int]:
        if self._byte_starts is None:
            self._byte_starts = [0, *_byte_breaks(self.utf8(), 0)]
        return self._byte_starts

    def byte_at(self, offset: int) -> int:
        """The UTF-8 byte offset of str ``offset`` (code points; ``0..len(text)``)."""
        if not 0 <= offset <= len(self.text):
            raise PositionError(f"offset {offset} outside {self.uri} ({len(self.text)} chars)")
        if self._ascii:
            return offset
        line = self.line_at(offset)
        start = self.line_start(line)
        return self._byte_line_starts()[line] + len(_encode(self.text[start:offset]))

    def offset_of_byte(self, byte_offset: int) -> int:
        """The str offset (code points) of UTF-8 ``byte_offset`` (``0..len(utf8)``).

        A byte offset inside a multi-byte character rounds down to that character's start.
        """
        if self._ascii:
            if not 0 <= byte_offset <= len(self.text):
                raise PositionError(f"byte {byte_offset} outside {self.uri}")
            return byte_offset
        byte_starts = self._byte_line_starts()
        data = self.utf8()
        if not 0 <= byte_offset <= len(data):
            raise PositionError(f"byte {byte_offset} outside {self.uri} ({len(data)} bytes)")
        line = bisect_right(byte_starts, byte_offset) - 1
        line_byte = byte_starts[line]
        while line_byte < byte_offset < len(data) and data[byte_offset] & 0xC0 == 0x80:
            byte_offset -= 1  # continuation byte: back up to the character's lead byte
        chunk = data[line_byte:byte_offset].decode("utf-8", _UTF8_ERRORS)
        return self.line_start(line) + len(chunk)

    def utf8(self) -> bytes:
        """The text as UTF-8 (lone surrogates via ``surrogatepass``), cached: the bytes that
        ``tree``'s byte ranges index, also while the tree is stale (see :attr:`tree_stale`)."""
        if self._data is None:
            self._data = _encode(self.text)
        return self._data

    # ------------------------------------------------------------- internals

    def _point(self, offset: int, byte_offset: int) -> Point:
        """tree-sitter point (row counted at ``\\n``, column in bytes) of str ``offset``."""
        if self._lone_cr:  # rows differ from LSP lines: count in the bytes
            data = self.utf8()
            row = data.count(b"\n", 0, byte_offset)
            return Point(row, byte_offset - (data.rfind(b"\n", 0, byte_offset) + 1))
        line = self.line_at(offset)
        return Point(line, byte_offset - self._byte_line_starts()[line])

    def _derived(self, version: int, tree: Tree | None, *, stale: bool) -> Document:
        """A new snapshot of the same text (sharing the line indexes) with another version
        or tree."""
        document = Document(
            self.uri,
            self.language_id,
            version,
            self.text,
            tree,
            _starts=self._starts,
            _byte_starts=self._byte_starts,
            _nul=self._nul,
            encoding=self.encoding,
        )
        document._data = self._data
        document.tree_stale = stale
        return document

    def _replaced(self, start: int, end: int, new_text: str, version: int) -> Document:
        """A new document (without tree) with ``text[start:end]`` replaced by ``new_text``.

        Line starts are updated incrementally: the lines the edit touches are re-scanned
        and the later ones shifted, which is O(lines) integer work but far cheaper than a
        full re-scan.
        """
        text = self.text[:start] + new_text + self.text[end:]
        starts = self._starts
        first = self.line_at(start)
        # A "\r" just before the first line may pair with an inserted "\n": re-scan it too.
        if first > 0 and self.text[self.line_start(first) - 1] == "\r":
            first -= 1
        last = self.line_at(end)
        region_start = self.line_start(first)
        region_end = self.line_start(last + 1)  # keeps the old terminator of `last` in the region
        tail = starts[last + 2 :]
        delta = len(new_text) - (end - start)
        # The region ends with the old terminator of `last` (if any), so its breaks include
        # the start of the first line after it.
        region = text[region_start : region_end + delta]
        new_starts = starts[: first + 1] + _breaks(region, region_start)
        new_starts += [s + delta for s in tail] if delta else tail

        new_byte_starts: list[int] | None = None
        old_bytes = self._byte_starts
        if old_bytes is not None and not text.isascii():
            byte_region_start = old_bytes[first]
            region_bytes = _encode(region)
            new_byte_starts = old_bytes[: first + 1] + _byte_breaks(region_bytes, byte_region_start)
            if tail:
                byte_delta = len(region_bytes) - (old_bytes[last + 1] - byte_region_start)
                new_byte_starts += [b + byte_delta for b in old_bytes[last + 2 :]]
        return Document(
            self.uri,
            self.language_id,
            version,
            text,
            _starts=new_starts,
            _byte_starts=new_byte_starts,
            # no NUL before and none inserted: none after; else search the new text
            _nul=None if self._nul or "\x00" in new_text else False,
            encoding=self.encoding,
        )
