"""``CodeAction.data`` and action command arguments: :class:`ActionData` as JSON and back.

The JSON (what clients store and send back, unchanged by CodeSaga's own units)::

    {"codesaga": 1, "uri": str, "version": int, "action": ActionId, "range": Range,
     "diagnostic"?: {"range": Range, "message": str, "code"?: str, "source"?: str},
     "fix"?: str, "lineText"?: str | null}

Ranges are LSP ranges (0-based lines, ``character`` in the document's position encoding) of
the document version ``version``; :class:`ActionData` holds str offsets (code points). Commands
run by hand take ``{"uri": str, "range"?: Range}`` instead (see :meth:`WireAction.by_hand`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lsprotocol.converters import get_converter
from lsprotocol.types import Range

from codesaga.actions.data import ACTION_IDS, ActionData, ActionError, ActionId, Problem
from codesaga.documents import Document
from codesaga.documents.span import TextSpan
from codesaga.lsp.spans import range_of, span_of

__all__ = ["WireAction", "WireProblem", "encode", "is_listed"]

_DATA_TAG = "codesaga"
_CONVERTER = get_converter()


def _problem_json(doc: Document, problem: Problem) -> dict[str, Any]:
    """The diagnostic's JSON (LSP ``Diagnostic`` fields) kept in the data; the review fix
    travels beside it."""
    out: dict[str, Any] = {
        "range": _CONVERTER.unstructure(range_of(doc, problem.span)),
        "message": problem.message,
    }
    if problem.code:
        out["code"] = problem.code
    if problem.source:
        out["source"] = problem.source
    return out


def encode(data: ActionData, doc: Document) -> dict[str, Any]:
    """``data`` as the JSON value stored in ``CodeAction.data`` and command arguments, its
    spans as LSP ranges of ``doc`` (the version the action is listed for)."""
    out: dict[str, Any] = {
        _DATA_TAG: 1,
        "uri": data.uri,
        "version": data.version,
        "action": data.action,
        "range": _CONVERTER.unstructure(range_of(doc, data.span)),
    }
    if data.problem is not None:
        out["diagnostic"] = _problem_json(doc, data.problem)
    if data.fix is not None:
        out["fix"] = data.fix
        out["lineText"] = data.line_text
    return out


def is_listed(value: object) -> bool:
    """Whether ``value`` is a listed action's data (not ``{"uri": ...}`` typed by hand)."""
    return isinstance(value, dict) and _DATA_TAG in value


@dataclass(frozen=True)
class WireProblem:
    """The diagnostic kept in a ``fix`` action's JSON, its range not yet decoded."""

    range: Range
    message: str
    code: str = ""
    source: str = ""

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> WireProblem:
        """Parse :func:`encode`'s ``diagnostic`` (or a whole LSP ``Diagnostic``)."""
        code = value.get("code")
        return cls(
            range=_CONVERTER.structure(value["range"], Range),
            message=str(value["message"]),
            code=str(code) if code else "",
            source=str(value.get("source") or ""),
        )

    def decode(self, doc: Document) -> Problem:
        """The problem in ``doc``'s str offsets (PositionError when outside)."""
        return Problem(span_of(doc, self.range), self.message, self.code, self.source)


@dataclass(frozen=True)
class WireAction:
    """An action's JSON as a client sent it back: checked, its ranges not yet decoded (they
    mean something only in the document they came from)."""

    uri: str
    version: int
    action: ActionId
    range: Range
    problem: WireProblem | None = None
    fix: str | None = None
    line_text: str | None = None

    @classmethod
    def from_json(cls, value: object) -> WireAction:
        """Parse :func:`encode`'s value; raises ActionError when it is not one."""
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
                problem=WireProblem.from_json(diagnostic) if diagnostic else None,
                fix=fix if isinstance(fix, str) else None,
                line_text=line_text if isinstance(line_text, str) else None,
            )
        except Exception as exc:  # KeyError, ValueError, TypeError, cattrs errors
            raise ActionError(f"malformed CodeSaga action data: {exc}") from exc

    @classmethod
    def by_hand(cls, uri: str, version: int, action: ActionId, value: dict[str, Any]) -> WireAction:
        """The action of a command run by hand with ``{"uri": ..., "range"?: ...}`` on version
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

    def decode(self, doc: Document) -> ActionData:
        """The action's data with its ranges decoded in ``doc`` (explain and review run on
        the current text, whatever version they were listed for). Raises PositionError for
        a range outside ``doc``."""
        return ActionData(
            self.uri,
            self.version,
            self.action,
            span_of(doc, self.range),
            self.problem.decode(doc) if self.problem is not None else None,
            self.fix,
            self.line_text,
        )

    def decode_listed(self, doc: Document) -> ActionData:
        """The data of an edit action (refactor, fix, docstring, apply) to run on ``doc``,
        the current version. On the version it was listed for, as :meth:`decode`; a document
        that moved on may no longer hold the ranges, and the action is refused as stale
        before anything reads its spans (:func:`codesaga.actions.run.produce_edit`), so they
        are left empty at the start."""
        if doc.version == self.version:
            return self.decode(doc)
        return ActionData(
            self.uri, self.version, self.action, TextSpan.at(0), None, self.fix, self.line_text
        )
