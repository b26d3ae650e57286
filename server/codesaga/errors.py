"""One error type for everything CodeSaga tells the user it could not do.

Every error the core raises on purpose is a :class:`CodeSagaError`: it carries the message
meant for the user, in English and, where one exists, in Korean, and the JSON-RPC error code
that the protocol layer answers a request with (``codesaga.lsp.errors`` is the one place that
turns it into a protocol answer). Subclasses only pick the code and a name to catch.

Codes are JSON-RPC 2.0's (``-32602`` InvalidParams) and LSP 3.17's (``-32800``
RequestCancelled, ``-32803`` RequestFailed).
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar, Literal

Language = Literal["en", "ko"]


class ErrorCode(IntEnum):
    """JSON-RPC error codes the server answers with (JSON-RPC 2.0 and LSP 3.17)."""

    INVALID_PARAMS = -32602
    REQUEST_CANCELLED = -32800
    REQUEST_FAILED = -32803


class CodeSagaError(Exception):
    """An error whose message is meant for the user.

    ``message`` is English; ``ko`` the Korean message, where one was written (English is
    shown otherwise). :attr:`code` is the JSON-RPC code a request failing with it gets.
    """

    code: ClassVar[ErrorCode] = ErrorCode.REQUEST_FAILED

    def __init__(self, message: str, *, ko: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.ko = ko

    def text(self, language: Language = "en") -> str:
        """The message in ``language`` (English when no Korean one was written)."""
        return self.ko if language == "ko" and self.ko else self.message


class InvalidParams(CodeSagaError):
    """The client sent something the server cannot use (unknown document, bad position,
    malformed arguments): answered with InvalidParams."""

    code = ErrorCode.INVALID_PARAMS


class Superseded(CodeSagaError):
    """The request was cancelled or replaced by a newer one before it produced an answer."""

    code = ErrorCode.REQUEST_CANCELLED

    def __init__(self) -> None:
        super().__init__("superseded by a newer request", ko="새 요청으로 대체되었습니다")
