"""LSP ranges <-> the core's :class:`~codesaga.documents.span.TextSpan` (str offsets).

A range counts lines and ``character`` units in the document's position encoding (UTF-16 code
units by default); a span counts code points. The document the range belongs to does the
conversion (:meth:`Document.offset_at` / :meth:`Document.position_at`).
"""

from __future__ import annotations

from lsprotocol.types import Range

from codesaga.documents import Document
from codesaga.documents.span import TextSpan

__all__ = ["range_of", "span_of"]


def span_of(doc: Document, rng: Range) -> TextSpan:
    """``rng`` of ``doc`` as str offsets (a ``character`` past its line's end clamps to that
    end). Raises PositionError for a position outside ``doc``."""
    return TextSpan(doc.offset_at(rng.start), doc.offset_at(rng.end))


def range_of(doc: Document, span: TextSpan) -> Range:
    """``span`` of ``doc`` as an LSP range. Raises PositionError for an offset outside ``doc``."""
    return Range(start=doc.position_at(span.start), end=doc.position_at(span.end))
