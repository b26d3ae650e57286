"""What clients say happened to an inline suggestion after it reached them, recorded in the
usage store (:mod:`codesaga.usage`): counts and lengths only, never the text.

- Whole acceptance: the item's ``command`` (:data:`codesaga.lsp.completion.ACCEPT_COMMAND`).
- ``textDocument/didShowCompletion`` ``{item}``: the client drew it.
- ``textDocument/didPartiallyAcceptCompletion`` ``{item, acceptedLength}``: the user took a
  part of it (a word, a line); ``acceptedLength`` is how much of ``item.insertText`` has been
  taken so far, in UTF-16 code units (JavaScript string length), growing with each report.
- ``codesaga/didDismissCompletion`` ``{item}``: it went away with none of it taken.

The first two are the notifications Copilot's language server takes (with the same params),
so a client written for it reports to CodeSaga unchanged; LSP 3.18 has none of them. The
third is CodeSaga's own. ``item`` is the :class:`lsprotocol.types.InlineCompletionItem` as the
server sent it; only its ``insertText`` and its command's request id are read. Notifications
get no answer: one that names no CodeSaga suggestion is logged at debug level and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from codesaga.documents.encoding import UTF16, index_of_units
from codesaga.usage import UsageRecorder

log = logging.getLogger(__name__)

ACCEPT_COMMAND = "codesaga.acceptInlineCompletion"
"""Command attached to every item; the client runs it when the user accepts a suggestion
whole. Arguments: [source, length of the suggestion in characters, document URI, usage
request id]."""
DID_SHOW = "textDocument/didShowCompletion"
DID_PARTIALLY_ACCEPT = "textDocument/didPartiallyAcceptCompletion"
DID_DISMISS = "codesaga/didDismissCompletion"


@dataclass(frozen=True)
class Reported:
    """The suggestion a notification is about: its usage ``request_id`` and ``text`` (the
    item's insert text)."""

    request_id: str
    text: str


def request_id_of(arguments: object) -> str | None:
    """The usage request id in an :data:`ACCEPT_COMMAND`'s ``arguments`` (the fourth), or
    None when they hold none."""
    request_id = (
        arguments[3] if isinstance(arguments, list | tuple) and len(arguments) > 3 else None
    )
    return request_id if isinstance(request_id, str) and request_id else None


def record_accept(usage: UsageRecorder, arguments: Sequence[object]) -> None:
    """Record a whole acceptance from the :data:`ACCEPT_COMMAND`'s ``arguments`` (the
    suggestion's length in characters is the second); nothing when they name no request."""
    request_id = request_id_of(arguments)
    length = arguments[1] if len(arguments) > 1 else None
    if request_id is not None and isinstance(length, int) and length >= 0:
        usage.accept(request_id, length)


def reported_item(params: Any) -> Reported | None:
    """The CodeSaga suggestion ``params["item"]`` names, or None for anything else (another
    server's item, a malformed one). ``params`` is plain JSON data."""
    item = params.get("item") if isinstance(params, dict) else None
    if not isinstance(item, dict):
        return None
    command, text = item.get("command"), item.get("insertText")
    if isinstance(text, dict):  # a StringValue snippet
        text = text.get("value")
    if not isinstance(command, dict) or command.get("command") != ACCEPT_COMMAND:
        return None
    request_id = request_id_of(command.get("arguments"))
    if request_id is None or not isinstance(text, str):
        return None
    return Reported(request_id, text)


def record(usage: UsageRecorder, method: str, params: Any) -> bool:
    """Record one of the notifications above (``method``, plain JSON ``params``) in ``usage``.
    Returns False, after a debug log line, when the params name no CodeSaga suggestion or
    ``acceptedLength`` is not a non-negative integer."""
    reported = reported_item(params)
    length = params.get("acceptedLength") if isinstance(params, dict) else None
    partial = method == DID_PARTIALLY_ACCEPT
    if reported is None or (partial and (type(length) is not int or length < 0)):
        log.debug("%s: not about a CodeSaga suggestion; dropped", method)
        return False
    if method == DID_SHOW:
        usage.displayed(reported.request_id)
    elif method == DID_DISMISS:
        usage.dismissed(reported.request_id)
    else:  # UTF-16 units of the insert text -> characters (str code points)
        assert isinstance(length, int)
        usage.accept(reported.request_id, index_of_units(reported.text, length, UTF16))
    return True
