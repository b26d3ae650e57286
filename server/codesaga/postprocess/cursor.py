"""The cursor's surroundings, the completion mode and the text helpers the rules share.

Lengths and indentation widths are ``str`` characters; a tab counts as :data:`TAB_WIDTH`
columns when widths are compared.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

SINGLE_LINE_TOKEN_CAP = 48
"""Most tokens generated for a single-line suggestion (see :func:`max_tokens_for`)."""

TAB_WIDTH = 4
"""Columns a tab counts for when indentation widths are compared."""

DEFAULT_INDENT_UNIT = "    "
"""Indentation unit assumed when a document gives no evidence (4 spaces)."""

_INDENT_SCAN_LINES = 200
_INDENT_STEPS = (4, 2, 8)  # candidate space steps, in tie-break order

# Characters that may follow the cursor while it still counts as "at the end of the line".
_TRAILING_CLOSERS = frozenset(")]}\"'`;,")
_OPEN_TO_CLOSE = {"(": ")", "[": "]", "{": "}"}
_CLOSE_TO_OPEN = {close: open_ for open_, close in _OPEN_TO_CLOSE.items()}
_QUOTES = "'\"`"
_BLOCK_ENDINGS = ("{", "(", "[", "=>")
_BLOCK_KEYWORD_RE = re.compile(r"(?:^|\W)(?:do|then)(?:\s*\|[^|]*\|)?$")
_COMMENT_STARTS = ("#", "//", "/*", "--", "* ")
# A line that only closes a block: `}`, `});`, `]`, `)`, `end`, `fi`, `done`, `esac`.
_CLOSER_LINE_RE = re.compile(r"[)\]}]+[)\]};,]*|(?:end|fi|done|esac)[;,)]*")


class Mode(StrEnum):
    """How much text a suggestion may span (a ``str`` enum: ``Mode("single")`` works)."""

    SINGLE_LINE = "single"
    MULTI_LINE = "multi"


@dataclass(frozen=True)
class CursorContext:
    """The document text around the cursor that post-processing looks at.

    Attributes:
        line_prefix: text of the cursor's line before the cursor.
        line_suffix: text of the cursor's line after the cursor, without the line terminator.
        following: text after the cursor's line, starting at the next line (may be ``""``).
        previous_line: the nearest non-blank line above the cursor's line (``""`` if none).
        indent_unit: the document's indentation unit, a tab or N spaces (see
            :func:`detect_indent_unit`); used to find the end of a block.
        max_lines: most lines (``\\n``-separated, the cursor line's continuation counting as
            the first) in a multi-line suggestion.
    """

    line_prefix: str
    line_suffix: str
    following: str
    previous_line: str
    indent_unit: str = DEFAULT_INDENT_UNIT
    max_lines: int = 12


# --------------------------------------------------------------------------------------------
# small text helpers


def _leading_ws(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _indent_width(line: str) -> int:
    """Width in columns of the leading spaces/tabs of ``line`` (a tab = TAB_WIDTH columns)."""
    return len(_leading_ws(line).expandtabs(TAB_WIDTH))


def _first_non_blank_line(text: str) -> str | None:
    """First line of ``text`` that is not blank (found lazily: ``text`` may be long)."""
    start = 0
    while start <= len(text):
        end = text.find("\n", start)
        if end == -1:
            end = len(text)
        line = text[start:end]
        if line.strip():
            return line.rstrip("\r")
        start = end + 1
    return None


def _is_closer_line(line: str) -> bool:
    return _CLOSER_LINE_RE.fullmatch(line.strip()) is not None


def _is_identifier_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


@dataclass
class _Lexer:
    """Just enough lexing to skip brackets inside string literals and ``# `` comments.

    ``'`` and ``"`` strings end at a newline (an unterminated quote is usually an apostrophe);
    triple-quoted and backtick strings may span lines; a backslash escapes the next character
    inside a string; ``#`` followed by whitespace starts a comment that runs to the newline.
    """

    quote: str = ""
    comment: bool = False

    def brackets(self, text: str) -> Iterator[tuple[int, str]]:
        """Yield ``(index, char)`` for each bracket outside strings/comments, updating state."""
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch == "\n":
                self.comment = False
                if self.quote in ("'", '"'):
                    self.quote = ""
                i += 1
            elif self.comment:
                i += 1
            elif self.quote:
                if ch == "\\":
                    i += 2
                elif text.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = ""
                else:
                    i += 1
            elif ch in _QUOTES:
                triple = ch * 3
                self.quote = triple if ch != "`" and text.startswith(triple, i) else ch
                i += len(self.quote)
            elif ch == "#" and (i + 1 == n or text[i + 1] in " \t\n"):
                self.comment = True
                i += 1
            else:
                if ch in _OPEN_TO_CLOSE or ch in _CLOSE_TO_OPEN:
                    yield i, ch
                i += 1


def _unclosed_openers(text: str, lexer: _Lexer) -> list[str]:
    """Openers left open at the end of ``text``; closers without a matching opener are ignored."""
    stack: list[str] = []
    for _, ch in lexer.brackets(text):
        if ch in _OPEN_TO_CLOSE:
            stack.append(ch)
        elif stack and stack[-1] == _CLOSE_TO_OPEN[ch]:
            stack.pop()
    return stack


def _opens_block(line: str) -> bool:
    """Whether ``line`` ends with something that opens an indented block or bracket body.

    The stripped line must end with ``:`` (only when every bracket on the line is closed, so
    slices, dict entries and lambdas inside calls do not count; ``::`` never counts), ``{``,
    ``(``, ``[``, ``=>``, or the word ``do`` / ``then`` (``do |x|`` too). Comment lines and
    lines that end inside a string or comment never open a block.
    """
    stripped = line.strip()
    if not stripped or stripped.startswith(_COMMENT_STARTS) or stripped == "*":
        return False
    lexer = _Lexer()
    unclosed = _unclosed_openers(stripped, lexer)
    if lexer.quote or lexer.comment:
        return False
    if stripped.endswith(":"):
        return not unclosed and not stripped.endswith("::")
    return stripped.endswith(_BLOCK_ENDINGS) or _BLOCK_KEYWORD_RE.search(stripped) is not None


def _opener_line(ctx: CursorContext) -> str | None:
    """The line that opens the block the cursor starts, or ``None``.

    That is ``line_prefix`` when it opens a block, else ``previous_line`` when ``line_prefix``
    is blank and ``previous_line`` opens a block.
    """
    if ctx.line_prefix.strip():
        return ctx.line_prefix if _opens_block(ctx.line_prefix) else None
    return ctx.previous_line if _opens_block(ctx.previous_line) else None


def _is_end_of_line(line_suffix: str) -> bool:
    return all(ch.isspace() or ch in _TRAILING_CLOSERS for ch in line_suffix)


# --------------------------------------------------------------------------------------------
# mode and generation bound


def decide_mode(ctx: CursorContext) -> Mode:
    """Choose single- or multi-line completion for the cursor position.

    ``MULTI_LINE`` when all of these hold, else ``SINGLE_LINE``:

    * the cursor is at the end of its line: ``line_suffix`` holds only whitespace and the
      closers ``) ] } " ' ` ; ,`` (so ``foo(|)`` counts as end of line);
    * a block starts here: ``line_prefix`` opens a block (see below), or ``line_prefix`` is
      blank and ``previous_line`` opens one;
    * the block is empty: the next non-blank line of ``following`` (if any) is not indented
      deeper, in columns, than the line that opens the block.

    A line opens a block when, stripped, it ends with ``:`` (with all of its brackets closed,
    and not ``::``), ``{``, ``(``, ``[``, ``=>``, or the word ``do``/``then``; comment lines
    and lines ending inside a string do not.
    """
    if not _is_end_of_line(ctx.line_suffix):
        return Mode.SINGLE_LINE
    opener = _opener_line(ctx)
    if opener is None:
        return Mode.SINGLE_LINE
    next_line = _first_non_blank_line(ctx.following)
    if next_line is not None and _indent_width(next_line) > _indent_width(opener):
        return Mode.SINGLE_LINE
    return Mode.MULTI_LINE


def max_tokens_for(mode: Mode, max_tokens: int) -> int:
    """Generation bound, in model tokens, for a completion in ``mode``.

    ``SINGLE_LINE`` returns ``min(max_tokens, SINGLE_LINE_TOKEN_CAP)``: 48 tokens is about
    150-200 characters of code, longer than almost any real line, so generation stops soon
    after the model has passed the end of the line (everything after the first newline is
    thrown away anyway) and single-line latency stays low. ``MULTI_LINE`` returns
    ``max_tokens`` unchanged; :attr:`CursorContext.max_lines` bounds the result.

    Raises:
        ValueError: if ``max_tokens`` is less than 1.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if mode is Mode.SINGLE_LINE:
        return min(max_tokens, SINGLE_LINE_TOKEN_CAP)
    return max_tokens


# --------------------------------------------------------------------------------------------
# indentation detection


def detect_indent_unit(text: str) -> str:
    """Guess a document's indentation unit from its first 200 lines (``\\n``-separated).

    Returns ``"\\t"`` when more non-blank lines are indented with a tab than with two or more
    spaces. Otherwise returns N spaces, N being the most common increase of indentation
    (2, 4 or 8 characters; ties prefer 4, then 2) between consecutive space-indented
    non-blank lines, or :data:`DEFAULT_INDENT_UNIT` (4 spaces) without evidence.
    """
    tab_lines = 0
    space_lines = 0
    steps: Counter[int] = Counter()
    previous: int | None = 0
    for line in text.split("\n", _INDENT_SCAN_LINES)[:_INDENT_SCAN_LINES]:
        if not line.strip():
            continue
        indent = _leading_ws(line)
        if "\t" in indent:
            if indent.startswith("\t"):
                tab_lines += 1
            previous = None
            continue
        width = len(indent)
        if width >= 2:
            space_lines += 1
        if previous is not None and width > previous:
            steps[width - previous] += 1
        previous = width
    if tab_lines > space_lines:
        return "\t"
    best = max(_INDENT_STEPS, key=lambda step: (steps[step], -_INDENT_STEPS.index(step)))
    return " " * best if steps[best] else DEFAULT_INDENT_UNIT
