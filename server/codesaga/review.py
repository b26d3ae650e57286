"""Style-guide reviews: the code shown with line numbers, findings mapped to diagnostics.

Findings become ``Information`` (or ``Hint``) diagnostics with source ``codesaga``; a finding's
suggested one-line fix travels in the diagnostic's ``data`` (``{"fix", "lineText"}``), so a
later ``textDocument/codeAction`` at that diagnostic can offer it as a quickfix without the
model. Lines are 1-based in findings and prompts, 0-based in LSP ranges.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lsprotocol.types import Diagnostic, DiagnosticSeverity, Range

from codesaga.answers import Finding
from codesaga.documents import Document

__all__ = [
    "DIAGNOSTIC_SOURCE",
    "GUIDE_MAX_CHARS",
    "diagnostic_fix",
    "findings_to_diagnostics",
    "load_style_guide",
    "numbered",
]

DIAGNOSTIC_SOURCE = "codesaga"
GUIDE_MAX_CHARS = 6000
"""A longer style guide is cut (at a line break) to keep room for the code in the prompt."""


def load_style_guide(path: str) -> tuple[str, str | None]:
    """The style guide's Markdown (cut to GUIDE_MAX_CHARS) and an error text when ``path``
    is set but cannot be read (then the guide is ``""``: the language's conventions)."""
    if not path.strip():
        return "", None
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return "", exc.strerror or str(exc)
    text = text.strip()
    if len(text) > GUIDE_MAX_CHARS:
        cut = text.rfind("\n", 0, GUIDE_MAX_CHARS)
        text = text[: cut if cut > 0 else GUIDE_MAX_CHARS].rstrip()
    return text, None


def numbered(doc: Document, first_line: int, last_line: int) -> str:
    """Lines ``first_line..last_line`` (0-based, inclusive) as ``N | code`` with N 1-based."""
    width = len(str(last_line + 1))
    return "\n".join(
        f"{line + 1:>{width}} | {doc.line_text(line)}".rstrip()
        for line in range(first_line, last_line + 1)
    )


def _line_range(doc: Document, line: int) -> Range:
    """The non-blank part of 0-based ``line`` (the whole line when it is blank)."""
    text = doc.line_text(line)
    lead = len(text) - len(text.lstrip())
    line_start = doc.line_start(line)
    start = line_start + (lead if text.strip() else 0)
    end = line_start + len(text.rstrip()) if text.strip() else line_start + len(text)
    return Range(start=doc.position_at(start), end=doc.position_at(end))


def findings_to_diagnostics(doc: Document, findings: list[Finding]) -> list[Diagnostic]:
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
