"""Open documents: the one copy of each text, its line index and its syntax tree.

* :mod:`codesaga.documents.text`: :class:`Document`, a snapshot of one text with its line
  index and every conversion between LSP positions, str offsets and UTF-8 bytes; the errors.
* :mod:`codesaga.documents.store`: :class:`DocumentStore`, the open documents, ``didChange``
  edits applied to the text and to the syntax tree, re-parses in the background.

Read texts from the store, never from pygls's ``ls.workspace`` (it keeps none:
:mod:`codesaga.lsp.protocol`).
"""

from codesaga.documents.store import PARSE_IDLE_SECONDS, DocumentStore
from codesaga.documents.text import (
    ENCODINGS,
    UTF8,
    UTF16,
    UTF32,
    Document,
    DocumentError,
    PositionError,
    UnknownDocumentError,
)

__all__ = [
    "ENCODINGS",
    "PARSE_IDLE_SECONDS",
    "UTF8",
    "UTF16",
    "UTF32",
    "Document",
    "DocumentError",
    "DocumentStore",
    "PositionError",
    "UnknownDocumentError",
]
