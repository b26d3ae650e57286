"""Counting one line's characters in an LSP position encoding.

An LSP ``Position.character`` counts units of the negotiated ``positionEncoding``:
**UTF-16 code units** by default (an emoji outside the BMP is 2 units, Hangul 1), or
**UTF-8 bytes** (Hangul 3, an emoji 4), or **UTF-32** code points (both 1). Python ``str``
indices count code points. These plain functions convert between the two within one line
of text; :class:`codesaga.documents.Document` finds the line.
"""

from __future__ import annotations

__all__ = ["ENCODINGS", "UTF8", "UTF16", "UTF32", "decode", "encode", "index_of_units", "units"]

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"
ENCODINGS = (UTF8, UTF16, UTF32)
"""LSP position encodings (``PositionEncodingKind``): what one ``character`` unit counts."""

# Lone surrogates can arrive from clients (JSON "\ud800"); keep them round-trippable.
_ERRORS = "surrogatepass"


def encode(text: str) -> bytes:
    """``text`` as UTF-8, lone surrogates kept (``surrogatepass``) so that it decodes back."""
    return text.encode("utf-8", _ERRORS)


def decode(data: bytes) -> str:
    """The inverse of :func:`encode` (raises ``UnicodeDecodeError`` for bytes that are not
    UTF-8)."""
    return data.decode("utf-8", _ERRORS)


def units(text: str, encoding: str) -> int:
    """Length of ``text`` in ``encoding`` units (UTF-8 bytes, UTF-16 code units, code points)."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF8:
        return len(encode(text))
    return _utf16_len(text)


def index_of_units(line: str, count: int, encoding: str) -> int:
    """The str index in ``line`` that is ``count`` ``encoding`` units from its start.

    Clamps to ``len(line)``; a count that falls inside a character (a UTF-16 surrogate pair,
    a multi-byte UTF-8 sequence) rounds down to the start of that character.
    """
    if encoding == UTF32 or line.isascii():
        return min(count, len(line))
    if encoding == UTF8:
        return _index_of_utf8(line, count)
    return _index_of_utf16(line, count)


def _utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", _ERRORS)) // 2


def _index_of_utf8(line: str, count: int) -> int:
    """:func:`index_of_units` for UTF-8 bytes."""
    seen = 0
    for index, char in enumerate(line):
        code = ord(char)
        seen += 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
        if seen > count:
            return index
    return len(line)


def _index_of_utf16(line: str, count: int) -> int:
    """:func:`index_of_units` for UTF-16 code units."""
    if count >= len(line) * 2:
        return len(line)
    total = _utf16_len(line)
    if total == len(line):  # BMP only: one unit per code point
        return min(count, len(line))
    if count >= total:
        return len(line)
    seen = 0
    for index, char in enumerate(line):
        seen += 2 if char > "\uffff" else 1
        if seen > count:
            return index
    return len(line)
