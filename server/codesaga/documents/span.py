"""TextSpan: a stretch of one document's text, in the core's own units.

The core (targets, actions, chat) counts in str offsets (code points) into
:attr:`codesaga.documents.Document.text`; LSP ranges (lines and UTF-16 code units) are turned
into spans, and spans back into ranges, only at the protocol edge (:mod:`codesaga.lsp.spans`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TextSpan"]


@dataclass(frozen=True)
class TextSpan:
    """``text[start:end]`` of one version of a document: ``start`` and ``end`` are str
    offsets (code points, ``0..len(text)``); ``start == end`` is a cursor. The span is kept as
    the client gave it: ``start > end`` only for a reversed range (see :meth:`ordered`)."""

    start: int
    end: int

    @classmethod
    def at(cls, offset: int) -> TextSpan:
        """The empty span (a cursor) at str ``offset``."""
        return cls(offset, offset)

    def ordered(self) -> TextSpan:
        """The same text with ``start <= end``."""
        return self if self.start <= self.end else TextSpan(self.end, self.start)
