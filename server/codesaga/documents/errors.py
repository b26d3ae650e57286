"""The errors of the document store: all are ``InvalidParams`` (a client sent a bad URI or
position), so a request that raises one is answered with that JSON-RPC error."""

from __future__ import annotations

from codesaga.errors import InvalidParams

__all__ = ["DocumentError", "PositionError", "UnknownDocumentError"]


class DocumentError(InvalidParams):
    """Base class for document store errors."""


class UnknownDocumentError(DocumentError, KeyError):
    """The URI is not open in the store."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class PositionError(DocumentError, ValueError):
    """A position, offset or line outside the document."""
