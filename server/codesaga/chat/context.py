"""The code a chat question is about: the selection, else the function or class around the
cursor, else lines around it, clipped to a token budget.

Token counts are model tokens, given by a ``count(text) -> int`` function (the engine's
``count_tokens``); lines are 0-based; the selection is str offsets (code points) into the
document's text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from codesaga.documents import Document
from codesaga.documents.span import TextSpan
from codesaga.prompts import RepoFile
from codesaga.syntax.scopes import Span, enclosing_scopes

TokenCounter = Callable[[str], int]

WINDOW_LINES = 20
"""Lines taken above and below the cursor when no function or class encloses it."""
MIN_SCOPE_LINES = 3
"""A scope shorter than this (a one-line lambda) is skipped for the next enclosing one."""


@dataclass(frozen=True)
class CodeContext:
    """The code a question is about.

    ``first_line``/``last_line`` are 0-based document lines (inclusive) of ``code``;
    ``source`` says how it was chosen: ``selection``, a tree-sitter scope type such as
    ``function_definition``, ``lines`` (a window around the cursor) or ``file``;
    ``truncated`` is True when the chosen code was clipped to the token budget.
    """

    path: str
    language: str
    first_line: int
    last_line: int
    code: str
    source: str
    truncated: bool = False
    definitions: tuple[RepoFile, ...] = ()
    """Signatures, from other files of the repository, of what ``code`` uses."""


def file_name(uri: str) -> str:
    """The last path segment of a document URI, for the prompt (``untitled`` when none)."""
    name = unquote(urlparse(uri).path).rstrip("/").rsplit("/", 1)[-1]
    return name or uri or "untitled"


def code_context(
    doc: Document, selection: TextSpan | None, *, budget: int, count: TokenCounter
) -> CodeContext:
    """The code to show the model for a question about ``doc``.

    * a non-empty ``selection``: the whole lines it covers (a selection ending at the start
      of a line leaves that line out);
    * an empty one (a cursor): the innermost function/class around it of at least
      MIN_SCOPE_LINES lines (tree-sitter), else WINDOW_LINES lines either side;
    * none: the file from its top.

    Trailing blank lines are left out. The result is clipped to ``budget`` tokens, keeping
    the lines nearest the cursor (the selection's start). An offset outside the document
    (``0..len(doc.text)``) raises codesaga.documents.PositionError.
    """
    last_doc_line = max(0, doc.line_count - 1)
    if selection is None:
        first, last, anchor, source = 0, last_doc_line, 0, "file"
    else:
        ordered = selection.ordered()
        start, end = ordered.start, ordered.end
        start_line = doc.line_at(start)
        end_line = doc.line_at(end)
        if end > start:
            if doc.line_start(end_line) == end:
                end_line -= 1
            first, last, anchor, source = (
                start_line,
                max(start_line, end_line),
                start_line,
                "selection",
            )
        else:
            first, last, anchor, source = _around_cursor(doc, start, start_line)
    last = min(last, last_doc_line)
    while last > first and not doc.line_text(last).strip():
        last -= 1  # no trailing blank lines
    anchor = min(max(anchor, first), last)
    lines = [doc.line_text(i) for i in range(first, last + 1)]
    lo, hi, clipped_line = clip_lines(lines, anchor - first, budget, count)
    kept = lines[lo : hi + 1]
    if clipped_line is not None:
        kept[anchor - first - lo] = clipped_line
    return CodeContext(
        path=file_name(doc.uri),
        language=doc.language_id,
        first_line=first + lo,
        last_line=first + hi,
        code="\n".join(kept),
        source=source,
        truncated=(lo, hi) != (0, len(lines) - 1) or clipped_line is not None,
    )


def _around_cursor(doc: Document, offset: int, line: int) -> tuple[int, int, int, str]:
    """(first line, last line, anchor line, source) of the code around a cursor."""
    if doc.tree is not None and doc.grammar is not None:
        scopes = enclosing_scopes(doc.tree, doc.grammar, doc.byte_at(offset))
        scope = _pick_scope(scopes)
        if scope is not None:
            return scope.start_line, scope.end_line, line, scope.kind
    return (
        max(0, line - WINDOW_LINES),
        min(doc.line_count - 1, line + WINDOW_LINES),
        line,
        "lines",
    )


def _pick_scope(scopes: Sequence[Span]) -> Span | None:
    for span in scopes:  # innermost first
        if span.end_line - span.start_line + 1 >= MIN_SCOPE_LINES:
            return span
    return scopes[0] if scopes else None


def clip_lines(
    lines: Sequence[str], anchor: int, budget: int, count: TokenCounter
) -> tuple[int, int, str | None]:
    """The widest run of ``lines`` around index ``anchor`` whose tokens fit ``budget``.

    Each line costs ``count(line + "\\n")`` tokens. Lines are added below and above the
    anchor in turn while they fit. Returns ``(lo, hi, clipped)``: indexes of the first and
    last kept line (inclusive) and, when the anchor line alone exceeds the budget, that line
    cut short (else None). ``lines`` must not be empty.
    """
    anchor = min(max(anchor, 0), len(lines) - 1)
    cost = count(lines[anchor] + "\n")
    clipped: str | None = None
    if cost > budget:
        line = lines[anchor]
        keep = max(0, len(line) * max(budget, 0) // max(cost, 1))
        while keep > 0 and count(line[:keep] + "\n") > budget:
            keep = keep * 3 // 4
        return anchor, anchor, line[:keep]
    lo = hi = anchor
    total = cost
    below_open = above_open = True
    while below_open or above_open:
        if below_open:
            if hi + 1 < len(lines) and total + (c := count(lines[hi + 1] + "\n")) <= budget:
                hi += 1
                total += c
            else:
                below_open = False
        if above_open:
            if lo > 0 and total + (c := count(lines[lo - 1] + "\n")) <= budget:
                lo -= 1
                total += c
            else:
                above_open = False
    return lo, hi, clipped
