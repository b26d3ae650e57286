"""Review findings as LSP diagnostics, and diagnostics as the problems actions work on.

Findings become ``Information`` (or ``Hint``) diagnostics with source ``codesaga``; a finding's
suggested one-line fix travels in the diagnostic's ``data`` (``{"fix", "lineText"}``), so a
later ``textDocument/codeAction`` at that diagnostic can offer it as a quickfix without the
model. Some clients drop ``Diagnostic.data``: :class:`ReviewMemory` keeps what was published
and gives it back. Lines are 1-based in findings, 0-based in LSP ranges; problems hold str
offsets (:func:`problem_of` decodes a diagnostic's range in its document).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lsprotocol.types import Diagnostic, DiagnosticSeverity, Range

from codesaga.actions.data import Problem
from codesaga.answers import Finding
from codesaga.documents import Document
from codesaga.documents.span import TextSpan
from codesaga.lsp.spans import range_of, span_of

__all__ = [
    "DIAGNOSTIC_SOURCE",
    "MAX_REVIEWS_KEPT",
    "ReviewMemory",
    "diagnostic_fix",
    "findings_to_diagnostics",
    "problem_of",
]

DIAGNOSTIC_SOURCE = "codesaga"
MAX_REVIEWS_KEPT = 100
"""Documents whose last review diagnostics are remembered."""


def _line_range(doc: Document, line: int) -> Range:
    """The non-blank part of 0-based ``line`` (the whole line when it is blank)."""
    text = doc.line_text(line)
    lead = len(text) - len(text.lstrip())
    line_start = doc.line_start(line)
    start = line_start + (lead if text.strip() else 0)
    end = line_start + len(text.rstrip()) if text.strip() else doc.line_end(line)
    return range_of(doc, TextSpan(start, end))


def findings_to_diagnostics(doc: Document, findings: Sequence[Finding]) -> list[Diagnostic]:
    """One diagnostic per finding, on its line of ``doc`` (the version the review read)."""
    diagnostics = []
    for finding in findings:
        line = finding.line - 1
        if not 0 <= line < doc.line_count:
            continue
        data: dict[str, Any] = {"lineText": doc.line_text(line)}
        if finding.fix:
            data["fix"] = finding.fix
        diagnostics.append(
            Diagnostic(
                range=_line_range(doc, line),
                message=finding.message,
                severity=(
                    DiagnosticSeverity.Hint
                    if finding.severity == "hint"
                    else DiagnosticSeverity.Information
                ),
                source=DIAGNOSTIC_SOURCE,
                code="review",
                data=data,
            )
        )
    return diagnostics


def diagnostic_fix(diagnostic: Diagnostic) -> tuple[str, str] | None:
    """``(fix, line text at review time)`` carried by one of our review diagnostics."""
    if diagnostic.source != DIAGNOSTIC_SOURCE or not isinstance(diagnostic.data, dict):
        return None
    fix = diagnostic.data.get("fix")
    line_text = diagnostic.data.get("lineText")
    if isinstance(fix, str) and fix.strip() and isinstance(line_text, str):
        return fix, line_text
    return None


def problem_of(doc: Document, diagnostic: Diagnostic) -> Problem:
    """What the actions need of ``diagnostic`` on ``doc``: its range as str offsets, its
    message, code and source, a review finding's fix if it has one. Raises PositionError for
    a range outside ``doc``."""
    carried = diagnostic_fix(diagnostic)
    return Problem(
        span=span_of(doc, diagnostic.range),
        message=diagnostic.message,
        code=str(diagnostic.code) if diagnostic.code else "",
        source=diagnostic.source or "",
        fix=carried[0] if carried else None,
        line_text=carried[1] if carried else None,
    )


class ReviewMemory:
    """The review diagnostics last published per document (the last MAX_REVIEWS_KEPT
    documents), for clients that send them back without their ``data``."""

    def __init__(self, limit: int = MAX_REVIEWS_KEPT) -> None:
        self._limit = limit
        self._published: dict[str, list[Diagnostic]] = {}

    def remember(self, uri: str, diagnostics: list[Diagnostic]) -> None:
        """Keep ``diagnostics`` as ``uri``'s review (forgetting the oldest document)."""
        if len(self._published) >= self._limit and uri not in self._published:
            self._published.pop(next(iter(self._published)))
        self._published[uri] = diagnostics

    def restore(self, uri: str, diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
        """``diagnostics`` with each of ours that lost its data replaced by the one
        published on the same line with the same message."""
        published = self._published.get(uri, [])
        out = []
        for diagnostic in diagnostics:
            if diagnostic.source == DIAGNOSTIC_SOURCE and diagnostic.data is None:
                match = next(
                    (
                        p
                        for p in published
                        if p.range.start.line == diagnostic.range.start.line
                        and p.message == diagnostic.message
                    ),
                    None,
                )
                if match is not None:
                    diagnostic = match
            out.append(diagnostic)
        return out
