"""CodeSagaProtocol: pygls's LSP protocol without its own copy of each document.

pygls's built-in handlers for ``didOpen``/``didChange``/``didClose``
(``LanguageServerProtocol.lsp_text_document__did_*``) keep a second copy of every open text
in ``ls.workspace``, and apply each ``didChange`` edit to it before calling ours (in Python,
a line at a time: ``TextDocument._apply_incremental_change``). CodeSaga reads its texts only
from its own :class:`codesaga.documents.DocumentStore`, so those built-ins are left out:
the three notifications go straight to the handlers in :mod:`codesaga.lsp.lifecycle`.
``ls.workspace`` itself stays (it holds the negotiated position encoding), without documents.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol

TEXT_SYNC = (
    types.TEXT_DOCUMENT_DID_OPEN,
    types.TEXT_DOCUMENT_DID_CHANGE,
    types.TEXT_DOCUMENT_DID_CLOSE,
)
"""The notifications whose pygls built-in handler would update the workspace copy."""


class CodeSagaProtocol(LanguageServerProtocol):
    """pygls's protocol minus the built-in text-sync handlers (see the module docstring)."""

    def __init__(self, server: Any, converter: Any) -> None:
        super().__init__(server, converter)
        for method in TEXT_SYNC:
            del self.fm.builtin_features[method]
