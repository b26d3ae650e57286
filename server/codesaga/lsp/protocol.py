"""CodeSagaProtocol: pygls's LSP protocol without its own copy of each document, and with an
answer for every message a client gets wrong.

pygls's built-in handlers for ``didOpen``/``didChange``/``didClose``
(``LanguageServerProtocol.lsp_text_document__did_*``) keep a second copy of every open text
in ``ls.workspace``, and apply each ``didChange`` edit to it before calling ours (in Python,
a line at a time: ``TextDocument._apply_incremental_change``). CodeSaga reads its texts only
from its own :class:`codesaga.documents.DocumentStore`, so those built-ins are left out:
the three notifications go straight to the handlers in :mod:`codesaga.lsp.lifecycle`.
``ls.workspace`` itself stays (it holds the negotiated position encoding), without documents.

Client mistakes (JSON-RPC 2.0 §5.1 codes): pygls answers nothing when a request's params do
not fit their lsprotocol type (it raises from ``structure_message``, which its reader reports
as an "Error in server" popup), nor a request after ``shutdown``. Here
:meth:`CodeSagaProtocol.structure_message` turns such a message into a :class:`Rejected`,
and :meth:`CodeSagaProtocol.handle_message` answers it: InvalidParams (-32602) for params of
the wrong shape, InvalidRequest (-32600) for what is not a request at all and for requests
after ``shutdown``; :meth:`CodeSagaProtocol.reject_unparsable` answers ParseError (-32700)
with a null id for a body that is not JSON. Each is logged once, with metadata only (the
method, the id, where in the params: never their values); notifications get no answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import attrs
import cattrs
from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage, RPCRequest

log = logging.getLogger(__name__)

TEXT_SYNC = (
    types.TEXT_DOCUMENT_DID_OPEN,
    types.TEXT_DOCUMENT_DID_CHANGE,
    types.TEXT_DOCUMENT_DID_CLOSE,
)
"""The notifications whose pygls built-in handler would update the workspace copy."""

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
"""JSON-RPC 2.0 error codes (jsonrpc.org/specification §5.1)."""
MAX_REASONS = 3
"""How many of cattrs's complaints about one message go into the log and the answer."""

MsgId = int | str | None


@dataclass(frozen=True)
class Rejected:
    """A message that cannot be handled: its id (None when it has none usable), method (None
    when missing), the JSON-RPC error ``code`` and why, in words (metadata only).
    ``request``: whether it expects an answer (it has an ``id``)."""

    msg_id: MsgId
    method: str | None
    code: int
    reason: str
    request: bool


def _usable_id(value: object) -> bool:
    """A JSON-RPC id this server can answer with: an integer or a string (JSON-RPC 2.0 §4)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def message_id(message: object) -> MsgId:
    """The id to answer ``message`` (a pygls message, a :class:`Rejected` or a decoded JSON
    value) with: None when it has none usable."""
    if isinstance(message, Rejected):
        return message.msg_id
    raw = message.get("id") if isinstance(message, dict) else getattr(message, "id", None)
    return raw if _usable_id(raw) else None


def why(exc: Exception) -> str:
    """What cattrs found wrong, as ``"invalid value for type, expected int @
    $.params.position.line"`` lines joined by ``"; "`` (at most MAX_REASONS): paths and
    expected types, never the values sent."""
    if isinstance(exc, cattrs.BaseValidationError):
        reasons = cattrs.transform_error(exc)
        return "; ".join(reasons[:MAX_REASONS]) or type(exc).__name__
    return type(exc).__name__


class CodeSagaProtocol(LanguageServerProtocol):
    """pygls's protocol minus the built-in text-sync handlers, answering client mistakes (see
    the module docstring)."""

    def __init__(self, server: Any, converter: Any) -> None:
        super().__init__(server, converter)
        for method in TEXT_SYNC:
            del self.fm.builtin_features[method]

    def structure_message(self, data: Any) -> Any:
        """A decoded JSON value as pygls's message type for its method, or a
        :class:`Rejected` for a request or notification that does not fit it. Values that are
        not JSON-RPC objects are returned as they are (pygls also calls this for every nested
        object); responses to the server's own requests are left to pygls."""
        if not isinstance(data, dict) or "jsonrpc" not in data or "method" not in data:
            return super().structure_message(data) if isinstance(data, dict) else data
        method, request = data["method"], "id" in data
        msg_id = data.get("id") if _usable_id(data.get("id")) else None
        if not isinstance(method, str):
            return Rejected(msg_id, None, INVALID_REQUEST, "method is not a string", request)
        if request and msg_id is None:
            return Rejected(None, method, INVALID_REQUEST, "id is not a number or string", True)
        if data["jsonrpc"] != self.VERSION:
            return Rejected(msg_id, method, INVALID_REQUEST, "not JSON-RPC 2.0", request)
        kind = self.get_message_type(method)
        if request and kind is not None and "id" not in attrs.fields_dict(kind):
            reason = "a notification sent as a request (with an id)"
            return Rejected(msg_id, method, INVALID_REQUEST, reason, True)
        fallback = JsonRPCRequestMessage if request else JsonRPCNotification
        try:
            return self._converter.structure(data, kind or fallback)
        except Exception as exc:  # whatever the params hold, the client hears why
            return Rejected(msg_id, method, INVALID_PARAMS, why(exc), request)

    def handle_message(self, message: Any) -> None:
        """pygls's dispatch, after answering (or, for notifications, logging) a
        :class:`Rejected` message, a value that is no JSON-RPC message, or a request after
        ``shutdown``."""
        method = getattr(message, "method", None)
        if self._shutdown and method != types.EXIT:
            if (isinstance(message, Rejected) and message.request) or isinstance(
                message, RPCRequest
            ):
                reason = "the server is shutting down"
                self._reject(Rejected(message_id(message), method, INVALID_REQUEST, reason, True))
            else:
                log.debug("%s after shutdown: ignored", method)
            return
        if isinstance(message, Rejected):
            self._reject(message)
            return
        if not hasattr(message, "jsonrpc"):  # a JSON array, number, or object without jsonrpc
            reason = f"a JSON {type(message).__name__} is not a JSON-RPC 2.0 message"
            self._reject(Rejected(message_id(message), None, INVALID_REQUEST, reason, True))
            return
        super().handle_message(message)

    def reject_unparsable(self, reason: str) -> None:
        """Answer a message body that could not be read as JSON (or framed): ParseError with
        a null id, as JSON-RPC 2.0 §5 asks."""
        self._reject(Rejected(None, None, PARSE_ERROR, reason, True))

    def _reject(self, rejected: Rejected) -> None:
        what = rejected.method or "message"
        if not rejected.request:
            log.warning("%s ignored: %s", what, rejected.reason)
            return
        log.warning(
            "%s (id %r) answered %d: %s", what, rejected.msg_id, rejected.code, rejected.reason
        )
        # a plain object: lsprotocol's ResponseErrorMessage would leave out a null id
        error = {"code": rejected.code, "message": f"CodeSaga: {rejected.reason}"}
        self._send_data({"jsonrpc": self.VERSION, "id": rejected.msg_id, "error": error})
