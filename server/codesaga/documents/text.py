"""Document: one snapshot of an open text, with its identity, syntax tree and line API.

Units. Three ways of counting characters meet in a document:

* LSP positions (``Position.character``) count **UTF-16 code units** (the default
  ``positionEncoding``): an emoji outside the BMP is 2 units, Hangul is 1.
* tree-sitter counts **UTF-8 bytes** (Hangul 3 bytes, an emoji 4).
* Python ``str`` indices, called *offsets* here, count **code points** (both are 1).

LSP ``Position`` appears only at the edge, in :meth:`Document.offset_at` and
:meth:`Document.position_at`; the rest of the code counts lines and offsets
(:meth:`Document.line_start`, :meth:`Document.line_end`, :meth:`Document.line_at`).
A document delegates each conversion to the piece that owns it:
:mod:`codesaga.documents.lines` (line starts in str offsets),
:mod:`codesaga.documents.utf8` (UTF-8 bytes and tree-sitter points) and
:mod:`codesaga.documents.encoding` (one line counted in a position encoding).

Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` (as in the LSP spec); a text ending in a line
terminator has a final empty line, so ``"a\\n"`` has 2 lines and ``""`` has 1.
"""

from __future__ import annotations

from lsprotocol.types import Position
from tree_sitter import Point, Tree

from codesaga.documents.encoding import (
    ENCODINGS,
    UTF8,
    UTF16,
    UTF32,
    index_of_units,
    units,
)
from codesaga.documents.errors import DocumentError, PositionError, UnknownDocumentError
from codesaga.documents.lines import LineIndex
from codesaga.documents.utf8 import Utf8Index
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


class Document:
    """One open text document (a snapshot: treat every attribute as read-only).

    ``text`` is the current text; ``grammar`` the tree-sitter grammar name (``None`` for
    languages without one); ``tree`` the syntax tree of ``text`` encoded as UTF-8 (see
    :meth:`utf8`), or ``None`` when there is no grammar or the text is binary (contains
    NUL) or larger than the store's ``max_bytes``; ``encoding`` the position encoding of
    LSP positions (:data:`UTF16` unless the client negotiated another).

    ``tree_stale`` is True while the store's background re-parse of this version is pending:
    ``tree`` is then the previous version's tree edited with ``Tree.edit`` (byte ranges and
    points match ``text``, but the nodes around the edits are the old ones, and
    ``Node.text`` is ``None``: read text by byte range from :meth:`utf8`), or ``None`` after
    a whole-document change. :meth:`DocumentStore.parsed` returns the document with a fresh
    tree.

    Raises ``ValueError`` for an unknown ``encoding``.
    """

    __slots__ = (
        "_bytes",
        "_lines",
        "_nul",
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
        encoding: str = UTF16,
        _lines: LineIndex | None = None,
        _bytes: Utf8Index | None = None,
        _nul: bool | None = None,
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
        # a NUL character (binary text, not parsed); searching a non-Latin-1 str for it
        # takes ~0.15 ms per 150,000 characters, so edits carry it over when they can
        self._nul = "\x00" in text if _nul is None else _nul
        # given together, for this very text (edits and new versions of it)
        self._lines = _lines if _lines is not None else LineIndex(text, uri)
        self._bytes = _bytes if _bytes is not None else Utf8Index(self._lines)

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
        return len(self._lines.starts)

    def line_start(self, line: int) -> int:
        """The str offset (code points) where the 0-based ``line`` starts; ``line_count``
        (one past the last line) gives ``len(text)``. Raises :class:`PositionError` for a
        line outside ``0 <= line <= line_count``."""
        return self._lines.line_start(line)

    def line_end(self, line: int) -> int:
        """The str offset (code points) where the 0-based ``line`` ends, before its
        terminator. Raises :class:`PositionError` for a line outside
        ``0 <= line < line_count``."""
        return self._lines.line_end(line)

    def line_at(self, offset: int) -> int:
        """The 0-based line that holds str ``offset`` (``0..len(text)``; the offset of a
        terminator belongs to the line it ends). Raises :class:`PositionError` outside."""
        return self._lines.line_at(offset)

    def line_text(self, line: int) -> str:
        """Text of the 0-based ``line`` without its terminator (:class:`PositionError` if
        ``line`` is not in ``0 <= line < line_count``)."""
        return self._lines.line_text(line)

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
        lines = self._lines
        start = lines.line_start(line)
        if character == 0 or line == len(lines.starts):
            return start
        end = lines.line_end(line)
        return start + index_of_units(self.text[start:end], character, self.encoding)

    def position_at(self, offset: int) -> Position:
        """The LSP position (line, ``encoding`` units) of str ``offset`` (code points).

        ``0 <= offset <= len(text)``, else :class:`PositionError`. An offset between the
        ``\\r`` and ``\\n`` of a CRLF maps to one unit past the line end.
        """
        lines = self._lines
        line = lines.line_at(offset)
        start = lines.starts[line]
        return Position(line=line, character=units(self.text[start:offset], self.encoding))

    def byte_at(self, offset: int) -> int:
        """The UTF-8 byte offset of str ``offset`` (code points; ``0..len(text)``, else
        :class:`PositionError`)."""
        return self._bytes.byte_at(offset)

    def offset_of_byte(self, byte_offset: int) -> int:
        """The str offset (code points) of UTF-8 ``byte_offset`` (``0..len(utf8)``, else
        :class:`PositionError`).

        A byte offset inside a multi-byte character rounds down to that character's start.
        """
        return self._bytes.offset_of_byte(byte_offset)

    def utf8(self) -> bytes:
        """The text as UTF-8 (lone surrogates via ``surrogatepass``), cached: the bytes that
        ``tree``'s byte ranges index, also while the tree is stale (see :attr:`tree_stale`)."""
        return self._bytes.data()

    # ------------------------------------------------------------- internals

    def _point(self, offset: int, byte_offset: int) -> Point:
        """tree-sitter point (row counted at ``\\n``, column in bytes) of str ``offset``."""
        return self._bytes.point(offset, byte_offset)

    def _derived(self, version: int, tree: Tree | None, *, stale: bool) -> Document:
        """A new snapshot of the same text (sharing the line indexes and the UTF-8 bytes)
        with another version or tree."""
        document = Document(
            self.uri,
            self.language_id,
            version,
            self.text,
            tree,
            encoding=self.encoding,
            _lines=self._lines,
            _bytes=self._bytes,
            _nul=self._nul,
        )
        document.tree_stale = stale
        return document

    def _replaced(self, start: int, end: int, new_text: str, version: int) -> Document:
        """A new document (without tree) with ``text[start:end]`` replaced by ``new_text``
        (str offsets, ``start <= end``; :class:`PositionError` outside the text).

        The line indexes are updated incrementally (see :meth:`LineIndex.replaced`).
        """
        lines, rescan = self._lines.replaced(start, end, new_text)
        return Document(
            self.uri,
            self.language_id,
            version,
            lines.text,
            encoding=self.encoding,
            _lines=lines,
            _bytes=self._bytes.replaced(lines, rescan),
            # no NUL before and none inserted: none after; else search the new text
            _nul=None if self._nul or "\x00" in new_text else False,
        )
