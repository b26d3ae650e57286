"""What a listed code action carries until it runs: ids, kinds, :class:`ActionData`, offers.

:class:`ActionData` travels as ``CodeAction.data`` and as command arguments (JSON, see
:meth:`ActionData.to_json`); :class:`Problem` is what an action needs of a diagnostic (the
protocol layer converts diagnostics to problems and back). Ranges are LSP ranges (0-based
lines, UTF-16 code units).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from lsprotocol.converters import get_converter
from lsprotocol.types import Range

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
_DATA_TAG = "codesaga"

_CONVERTER = get_converter()


class ActionError(InvalidParams, ValueError):
    """``CodeAction.data`` or command arguments that are not a CodeSaga action."""


class ActionRefused(CodeSagaError):
    """The action produced no edit; ``str(exc)`` tells the user why (in their language)."""


@dataclass(frozen=True)
class Problem:
    """What an action needs of a diagnostic: where, what it says, its ``code`` and ``source``
    (``""`` when it has none), and for one of CodeSaga's review findings the one-line ``fix``
    and the ``line_text`` it replaces (``None`` otherwise)."""

    range: Range
    message: str
    code: str = ""
    source: str = ""
    fix: str | None = None
    line_text: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The diagnostic's JSON (LSP ``Diagnostic`` fields) kept in :class:`ActionData`;
        the review fix travels beside it."""
        out: dict[str, Any] = {"range": _CONVERTER.unstructure(self.range), "message": self.message}
        if self.code:
            out["code"] = self.code
        if self.source:
            out["source"] = self.source
        return out

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Problem:
        """Parse :meth:`to_json`'s value (or a whole LSP ``Diagnostic``)."""
        code = value.get("code")
        return cls(
            range=_CONVERTER.structure(value["range"], Range),
            message=str(value["message"]),
            code=str(code) if code else "",
            source=str(value.get("source") or ""),
        )


@dataclass(frozen=True)
class ActionData:
    """What a listed action needs to run later. ``range`` is the request's range (the
    selection or cursor; for ``fix``/``apply`` the diagnostic's); ``version`` the document
    version it was listed for; ``problem`` the diagnostic a ``fix`` fixes; ``fix`` and
    ``line_text`` a review finding's fix and the line it replaces (``apply`` only)."""

    uri: str
    version: int
    action: ActionId
    range: Range
    problem: Problem | None = None
    fix: str | None = None
    line_text: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON value stored in ``CodeAction.data`` and command arguments."""
        out: dict[str, Any] = {
            _DATA_TAG: 1,
            "uri": self.uri,
            "version": self.version,
            "action": self.action,
            "range": _CONVERTER.unstructure(self.range),
        }
        if self.problem is not None:
            out["diagnostic"] = self.problem.to_json()
        if self.fix is not None:
            out["fix"] = self.fix
            out["lineText"] = self.line_text
        return out

    @classmethod
    def from_json(cls, value: object) -> ActionData:
        """Parse :meth:`to_json`'s value; raises ActionError when it is not one."""
        if not isinstance(value, dict) or value.get(_DATA_TAG) != 1:
            raise ActionError("not a CodeSaga code action")
        action = value.get("action")
        if action not in ACTION_IDS:
            raise ActionError(f"unknown action {action!r}")
        try:
            diagnostic = value.get("diagnostic")
            fix = value.get("fix")
            line_text = value.get("lineText")
            return cls(
                uri=str(value["uri"]),
                version=int(value["version"]),
                action=action,
                range=_CONVERTER.structure(value["range"], Range),
                problem=Problem.from_json(diagnostic) if diagnostic else None,
                fix=fix if isinstance(fix, str) else None,
                line_text=line_text if isinstance(line_text, str) else None,
            )
        except Exception as exc:  # KeyError, ValueError, TypeError, cattrs errors
            raise ActionError(f"malformed CodeSaga action data: {exc}") from exc

    @classmethod
    def by_hand(cls, uri: str, version: int, action: ActionId, value: dict[str, Any]) -> ActionData:
        """The data of a command run by hand with ``{"uri": ..., "range"?: ...}`` on version
        ``version`` of the document (no range: the cursor at the start, meaning the whole
        file for review). Raises ActionError for a malformed range."""
        empty = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}
        return cls.from_json(
            {
                _DATA_TAG: 1,
                "uri": uri,
                "version": version,
                "action": action,
                "range": value.get("range") or empty,
            }
        )

    @staticmethod
    def is_listed(value: object) -> bool:
        """Whether ``value`` is a listed action's data (not ``{"uri": ...}`` typed by hand)."""
        return isinstance(value, dict) and _DATA_TAG in value


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
