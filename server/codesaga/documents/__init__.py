"""Open documents: the one copy of each text, its line index and its syntax tree.

* :mod:`codesaga.documents.text`: :class:`Document`, a snapshot of one text: its URI,
  version, syntax tree and line API, the conversions from and to LSP positions.
* :mod:`codesaga.documents.lines`: the line index of a text in str offsets, updated
  incrementally by an edit.
* :mod:`codesaga.documents.utf8`: the text's UTF-8 bytes, byte offsets and tree-sitter points.
* :mod:`codesaga.documents.encoding`: one line counted in an LSP position encoding (UTF-16
  code units, UTF-8 bytes, code points).
* :mod:`codesaga.documents.errors`: the errors (all ``InvalidParams``).
* :mod:`codesaga.documents.span`: :class:`TextSpan`, a span of text in str offsets.
* :mod:`codesaga.documents.store`: :class:`DocumentStore`, the open documents, ``didChange``
  edits applied to the text and to the syntax tree, re-parses in the background.

Read texts from the store, never from pygls's ``ls.workspace`` (it keeps none:
:mod:`codesaga.lsp.protocol`).
"""

from codesaga.documents.encoding import ENCODINGS, UTF8, UTF16, UTF32
from codesaga.documents.errors import DocumentError, PositionError, UnknownDocumentError
from codesaga.documents.span import TextSpan
from codesaga.documents.store import PARSE_IDLE_SECONDS, DocumentStore
from codesaga.documents.text import Document

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
    "TextSpan",
    "UnknownDocumentError",
]
