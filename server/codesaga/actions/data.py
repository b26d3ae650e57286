"""What a listed code action carries until it runs: ids, kinds, :class:`ActionData`, offers.

:class:`ActionData` travels through the client as ``CodeAction.data`` and as command
arguments; the protocol layer encodes it as JSON with LSP ranges and decodes it back
(:mod:`codesaga.lsp.action_data`). :class:`Problem` is what an action needs of a diagnostic
(the protocol layer converts diagnostics to problems). Spans are str offsets (code points)
into the document's text (:class:`~codesaga.documents.span.TextSpan`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from codesaga.documents.span import TextSpan
from codesaga.errors import CodeSagaError, InvalidParams

__all__ = [
    "ACTION_IDS",
    "CODE_ACTION_KINDS",
    "EXPLAIN_COMMAND",
    "KINDS",
    "REVIEW_COMMAND",
    "RUN_COMMAND",
    "ActionData",
    "ActionError",
    "ActionId",
    "ActionRefused",
    "Offer",
    "Problem",
]

ActionId = Literal["refactor", "fix", "explain", "docstring", "review", "apply"]
ACTION_IDS: tuple[ActionId, ...] = ("refactor", "fix", "explain", "docstring", "review", "apply")
KINDS: dict[str, str] = {
    "refactor": "refactor.rewrite",
    "fix": "quickfix",
    "apply": "quickfix",
    "docstring": "refactor.rewrite",
    "explain": "source.codesaga.explain",
    "review": "source.codesaga.review",
}
"""The LSP ``CodeActionKind`` of each action."""
CODE_ACTION_KINDS = [
    "quickfix",
    "refactor.rewrite",
    "source.codesaga.explain",
    "source.codesaga.review",
]
"""The kinds announced in ``CodeActionOptions``."""
RUN_COMMAND = "codesaga.runAction"
"""Runs an edit action for clients without ``codeAction/resolve``; sends workspace/applyEdit."""
EXPLAIN_COMMAND = "codesaga.explain"
REVIEW_COMMAND = "codesaga.review"


class ActionError(InvalidParams, ValueError):
    """``CodeAction.data`` or command arguments that are not a CodeSaga action."""


class ActionRefused(CodeSagaError):
    """The action produced no edit; ``str(exc)`` tells the user why (in their language)."""


@dataclass(frozen=True)
class Problem:
    """What an action needs of a diagnostic: where (``span``, str offsets into the document),
    what it says, its ``code`` and ``source`` (``""`` when it has none), and for one of
    CodeSaga's review findings the one-line ``fix`` and the ``line_text`` it replaces
    (``None`` otherwise)."""

    span: TextSpan
    message: str
    code: str = ""
    source: str = ""
    fix: str | None = None
    line_text: str | None = None


@dataclass(frozen=True)
class ActionData:
    """What a listed action needs to run later. ``span`` is the request's selection or cursor
    (for ``fix``/``apply`` the diagnostic's), in str offsets into version ``version`` of the
    document, the version it was listed for; ``problem`` the diagnostic a ``fix`` fixes;
    ``fix`` and ``line_text`` a review finding's fix and the line it replaces (``apply``
    only). An edit action whose document moved past ``version`` is refused before anything
    reads its spans (:func:`codesaga.actions.run.produce_edit`)."""

    uri: str
    version: int
    action: ActionId
    span: TextSpan
    problem: Problem | None = None
    fix: str | None = None
    line_text: str | None = None


@dataclass(frozen=True)
class Offer:
    """One action to list: title, LSP kind, its data, and the problem it fixes (the protocol
    layer lists the client's diagnostic it came from)."""

    title: str
    action: ActionId
    kind: str
    data: ActionData
    problem: Problem | None = None
    preferred: bool = False
