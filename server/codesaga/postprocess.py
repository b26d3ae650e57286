"""Turn a raw model continuation into the ghost text the editor shows.

Everything here is a pure function of strings: no I/O and no model. All lengths, offsets and
indentation widths are measured in Python ``str`` characters; when indentation widths are
compared, a tab counts as :data:`TAB_WIDTH` columns (``str.expandtabs``).

:func:`postprocess` applies the rules below in this order. Each is a public function so it can
be tested on its own:

1. :func:`strip_artifacts` -- cut at the first end-of-text marker, normalise line endings.
2. :func:`truncate_single_line` -- single-line mode: keep the text before the first newline.
3. :func:`truncate_multi_line` -- multi-line mode: keep the block being written.
4. :func:`trim_following_overlap` (multi-line) and :func:`trim_suffix_overlap` -- stop where
   the suggestion repeats text that is already after the cursor.
5. :func:`balance_brackets` -- cut at a closing bracket the suggestion may not close.
6. :func:`drop_repetition` -- drop a suggestion that repeats the line above.
7. :func:`finalize` -- strip trailing whitespace; ``""`` when nothing is left.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import StrEnum

__all__ = [
    "DEFAULT_INDENT_UNIT",
    "END_OF_TEXT_MARKERS",
    "SINGLE_LINE_TOKEN_CAP",
    "TAB_WIDTH",
    "CursorContext",
    "Mode",
    "balance_brackets",
    "decide_mode",
    "detect_indent_unit",
    "drop_repetition",
    "finalize",
    "lookahead_stops",
    "max_tokens_for",
    "postprocess",
    "strip_artifacts",
    "suggestion_stops",
    "trim_following_overlap",
    "trim_suffix_overlap",
    "truncate_multi_line",
    "truncate_single_line",
]

END_OF_TEXT_MARKERS: tuple[str, ...] = (
    # end of text / end of turn
    "<|endoftext|>",
    "<|end_of_text|>",
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<eos>",
    "</s>",
    "<EOT>",
    "<｜end▁of▁sentence｜>",
    # file / repository separators: the model has moved on to another file
    "<|file_separator|>",
    "<|file_sep|>",
    "<file_sep>",
    "<|repo_name|>",
    # fill-in-the-middle and chat control tokens that never belong in code
    "<|fim_pad|>",
    "<|fim_prefix|>",
    "<|fim_suffix|>",
    "<|fim_middle|>",
    "<fim_prefix>",
    "<fim_suffix>",
    "<fim_middle>",
    "<fim_pad>",
    "<｜fim▁begin｜>",
    "<｜fim▁hole｜>",
    "<｜fim▁end｜>",
    "<start_of_turn>",
    "<|im_start|>",
    "<|start_header_id|>",
)
"""Special tokens that end a completion: the text from the first one on is dropped."""

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
# the rules, in the order postprocess applies them


def strip_artifacts(raw: str) -> str:
    """Rule 1: drop everything from the first :data:`END_OF_TEXT_MARKERS` entry on.

    Also normalises ``\\r\\n`` and lone ``\\r`` line endings to ``\\n``.
    """
    cut = len(raw)
    for marker in END_OF_TEXT_MARKERS:
        index = raw.find(marker, 0, cut)
        if index != -1:
            cut = index
    return _lf(raw[:cut])


def _lf(text: str) -> str:
    """``text`` with ``\r\n`` and lone ``\r`` line endings turned into ``\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _has_end_marker(raw: str) -> bool:
    return any(marker in raw for marker in END_OF_TEXT_MARKERS)


def truncate_single_line(text: str) -> str:
    """Rule 2 (single-line mode): keep the text before the first ``\\n``.

    A continuation that starts with a newline therefore gives ``""``: the model wants to go
    on at the next line, which a single-line suggestion cannot show. This holds on a blank
    line too -- moving the next line's text up onto the cursor's line would need guessing at
    its indentation, and the model's choice to leave the line empty is kept.
    """
    return text.split("\n", 1)[0]


def truncate_multi_line(text: str, ctx: CursorContext) -> str:
    """Rule 3 (multi-line mode): keep the block the cursor starts, at most ``ctx.max_lines``.

    Line 0 (the continuation of the cursor's line) is always kept. Each later non-blank line
    must be indented at least as deep, in columns, as the body: the indentation of the line
    opening the block (see :func:`decide_mode`) plus ``ctx.indent_unit``, or without such a
    line the indentation of ``line_prefix``. If the first body line of the suggestion is
    indented deeper than the opening line but less than that, its indentation is taken as
    the body's (the detected ``indent_unit`` was wrong). The first shallower line ends the
    suggestion, except that a line that only closes the block (``}``, ``});``, ``)``, ``]``,
    ``end``, ...) at exactly the opening line's indentation is kept as the last line. A blank
    line after some suggested text ends the suggestion too (the end of a paragraph of code:
    a small model's blocks run on with unrelated code after it, and every line costs
    latency); blank lines before any text are kept.
    """
    kept, _ = _block_lines(text.split("\n"), ctx)
    while len(kept) > 1 and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept)


def _block_lines(lines: list[str], ctx: CursorContext) -> tuple[list[str], bool]:
    """The leading ``lines`` that :func:`truncate_multi_line` keeps, and whether the block
    ended within ``lines`` (a shallower line, a closer line, a blank line after some text, or
    the line limit was met)."""
    limit = max(1, ctx.max_lines)
    opener = _opener_line(ctx)
    opener_width: int | None = None
    if opener is not None:
        opener_width = _indent_width(opener)
        unit = ctx.indent_unit or DEFAULT_INDENT_UNIT
        body_width = opener_width + len(unit.expandtabs(TAB_WIDTH))
        first_body = _first_body_width(lines, ctx)
        if first_body is not None and opener_width < first_body < body_width:
            body_width = first_body
    else:
        body_width = _indent_width(ctx.line_prefix)

    kept = [lines[0]]
    for line in lines[1:]:
        if len(kept) >= limit:
            return kept, True
        if not line.strip():
            if any(k.strip() for k in kept):
                return kept, True
        elif _indent_width(line) < body_width:
            if (
                opener_width is not None
                and _indent_width(line) == opener_width
                and _is_closer_line(line)
            ):
                kept.append(line)
            return kept, True
        kept.append(line)
    return kept, len(kept) >= limit


def _first_body_width(lines: list[str], ctx: CursorContext) -> int | None:
    """Indentation width of the suggestion's first body line, if it has one."""
    if not ctx.line_prefix.strip() and lines[0].strip():
        return _indent_width(ctx.line_prefix + lines[0])
    for line in lines[1:]:
        if line.strip():
            return _indent_width(line)
    return None


def trim_following_overlap(text: str, ctx: CursorContext) -> str:
    """Rule 4b (multi-line mode): stop before the line that repeats the code below the cursor.

    The suggestion is cut just before its first line equal to the first non-blank line of
    ``ctx.following``; line 0 is compared together with ``line_prefix`` and must itself be
    non-blank. Lines are compared stripped, except that lines which only close a block
    (``}``, ``end``, ...) must also have the same indentation, so that a nested block's
    ``}`` is not mistaken for the ``}`` below the cursor.
    """
    target = _first_non_blank_line(ctx.following)
    if target is None:
        return text
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        full = ctx.line_prefix + line if index == 0 else line
        if _is_closer_line(target):
            same = full.rstrip() == target.rstrip()
        else:
            same = full.strip() == target.strip()
        if same:
            return "\n".join(lines[:index])
    return text


def trim_suffix_overlap(text: str, ctx: CursorContext) -> str:
    """Rule 4a: cut where the suggestion's end repeats the text after the cursor.

    With ``suffix = ctx.line_suffix`` (nothing happens when it is blank):

    * if the suggestion, right-stripped, ends with ``suffix.strip()``, that occurrence and
      everything after it are removed;
    * otherwise the longest tail of the suggestion that equals a prefix of ``suffix`` is
      removed (``"hi")`` before ``)`` becomes ``"hi"``).

    A tail is only removed when it is a real duplicate: it must not start in the middle of a
    word (``items`` before ``s)`` stays), and none of its closing brackets may close a bracket
    opened earlier in the suggestion (``foo(a, b)`` before ``)`` stays, since the final line
    ``print(foo(a, b))`` needs it; ``foo(a, b))`` becomes ``foo(a, b)``). Applied in both
    modes, since the end of a multi-line suggestion also meets ``line_suffix``.
    """
    suffix = ctx.line_suffix
    core = suffix.strip()
    if not core or not text:
        return text
    body = text.rstrip()
    if body.endswith(core):
        cut = len(body) - len(core)
        if _is_duplicate_tail(text, cut, ctx):
            return text[:cut]
    for size in range(min(len(text), len(suffix)), 0, -1):
        cut = len(text) - size
        if suffix.startswith(text[cut:]) and _is_duplicate_tail(text, cut, ctx):
            return text[:cut]
    return text


def _is_duplicate_tail(text: str, cut: int, ctx: CursorContext) -> bool:
    tail = text[cut:]
    if not tail.strip():
        return True
    if cut > 0 and _is_identifier_char(tail[0]) and _is_identifier_char(text[cut - 1]):
        return False
    lexer, _ = _context_state(ctx)
    own: list[str] = []
    for _, ch in lexer.brackets(text[:cut]):
        if ch in _OPEN_TO_CLOSE:
            own.append(ch)
        elif own and own[-1] == _CLOSE_TO_OPEN[ch]:
            own.pop()
    in_tail: list[str] = []
    for _, ch in lexer.brackets(tail):
        if ch in _OPEN_TO_CLOSE:
            in_tail.append(ch)
        elif in_tail:
            in_tail.pop()
        elif own:
            return False
    return True


def _context_state(ctx: CursorContext) -> tuple[_Lexer, list[str]]:
    """Lexer state and unclosed openers at the cursor.

    The context is ``line_prefix``, preceded by ``previous_line`` when ``line_prefix`` is
    blank (so a blank line after ``items = [`` knows the ``[`` is open).
    """
    context = ctx.line_prefix
    if not context.strip() and ctx.previous_line:
        context = ctx.previous_line + "\n" + context
    lexer = _Lexer()
    stack = _unclosed_openers(context, lexer)
    return lexer, stack


def _closed_by_suffix(line_suffix: str, lexer: _Lexer, stack: list[str]) -> int:
    """How many of the context's open brackets ``line_suffix`` closes, innermost first."""
    remaining = list(stack)
    own: list[str] = []
    closed = 0
    for _, ch in lexer.brackets(line_suffix):
        if ch in _OPEN_TO_CLOSE:
            own.append(ch)
        elif own:
            if own[-1] != _CLOSE_TO_OPEN[ch]:
                break
            own.pop()
        elif remaining and remaining[-1] == _CLOSE_TO_OPEN[ch]:
            remaining.pop()
            closed += 1
        else:
            break
    return closed


def balance_brackets(text: str, ctx: CursorContext) -> str:
    """Rule 5: cut the suggestion at the first closing bracket it may not write.

    Brackets are ``()``, ``[]`` and ``{}``; those inside string literals (``'``, ``"``,
    triple quotes, backticks) and ``# `` comments are skipped, with the string/comment state
    carried over from the context (``line_prefix``, or ``previous_line`` + ``line_prefix``
    when ``line_prefix`` is blank). Let ``open`` be the context's unclosed openers and ``k``
    how many of them, innermost first, ``line_suffix`` closes. Walking the suggestion, a
    closer is allowed when:

    * it matches the innermost bracket opened in the suggestion and still open; or
    * no bracket opened in the suggestion is open, it matches the innermost ``open`` bracket
      not yet closed by the suggestion, and fewer than ``len(open) - k`` have been closed by
      the suggestion so far (the rest are left for ``line_suffix`` to close).

    The suggestion is cut just before the first closer that is not allowed, including one
    that mismatches the innermost open bracket. So ``x)]`` after ``f(`` gives ``x)``, and
    after ``print(`` with ``line_suffix`` ``)`` a ``)`` is never allowed.
    """
    lexer, stack = _context_state(ctx)
    closable = len(stack) - _closed_by_suffix(ctx.line_suffix, replace(lexer), stack)
    own: list[str] = []
    closed = 0
    for index, ch in lexer.brackets(text):
        if ch in _OPEN_TO_CLOSE:
            own.append(ch)
            continue
        opener = _CLOSE_TO_OPEN[ch]
        if own:
            if own[-1] != opener:
                return text[:index]
            own.pop()
        elif closed < closable and stack[-1 - closed] == opener:
            closed += 1
        else:
            return text[:index]
    return text


def drop_repetition(text: str, ctx: CursorContext, mode: Mode) -> str:
    """Rule 6: drop a first line that just repeats ``ctx.previous_line``.

    The suggestion's first line, non-blank and joined to ``line_prefix``, repeats the line
    above when both are equal stripped. Lines that only close a block (``}``, ``end``, ...)
    are exempt, since nested blocks close on consecutive lines. A repeating single-line
    suggestion gives ``""``. In multi-line mode the repeating first line is removed when
    ``line_prefix`` is blank, and the next line moves up to the cursor (its leading
    ``line_prefix``, or failing that its leading whitespace, is removed); when
    ``line_prefix`` is not blank the cursor's line itself would repeat, so it gives ``""``.
    """
    previous = ctx.previous_line.strip()
    if not previous or _is_closer_line(previous):
        return text
    first, newline, rest = text.partition("\n")
    if not first.strip() or (ctx.line_prefix + first).strip() != previous:
        return text
    if mode is Mode.SINGLE_LINE or not newline or ctx.line_prefix.strip():
        return ""
    if ctx.line_prefix and rest.startswith(ctx.line_prefix):
        return rest[len(ctx.line_prefix) :]
    return rest.lstrip(" \t")


def finalize(text: str, ctx: CursorContext, mode: Mode) -> str:
    """Rule 7: strip trailing whitespace; return ``""`` when nothing but whitespace is left.

    Leading whitespace is kept (``return`` + ``" x"`` needs its space). In multi-line mode
    trailing whitespace is stripped from every line. One exception adds trailing text: in
    multi-line mode, when the result spans several lines and ``line_suffix`` starts with a
    closing bracket (``{|}``, ``foo(|)``), the result ends with ``"\\n"`` plus the indentation
    of the line opening the block, so that the existing closer lands on its own line under
    that line instead of after the last suggested line.
    """
    if mode is Mode.MULTI_LINE:
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = text.rstrip()
    if not text.strip():
        return ""
    if mode is Mode.MULTI_LINE and "\n" in text and ctx.line_suffix.lstrip()[:1] in _CLOSE_TO_OPEN:
        opener = _opener_line(ctx)
        text += "\n" + _leading_ws(opener if opener is not None else ctx.line_prefix)
    return text


def suggestion_stops(raw: str, ctx: CursorContext, mode: Mode) -> bool:
    """The stopping criterion of one suggestion: whether :func:`postprocess` of ``raw`` can
    no longer change as the model goes on, so a streaming generation may stop: an end-of-text
    marker was produced; in single-line mode a newline; in multi-line mode a finished line
    ends the block (see :func:`truncate_multi_line`) or repeats the code below the cursor (see
    :func:`trim_following_overlap`). Only lines followed by a newline count as finished.
    """
    if _has_end_marker(raw):
        return True
    if mode is Mode.SINGLE_LINE:
        return "\n" in raw
    finished = _lf(raw).split("\n")[:-1]
    if not finished:
        return False
    if _block_lines(finished, ctx)[1]:
        return True
    return trim_following_overlap("\n".join(finished), ctx) != "\n".join(finished)


def lookahead_stops(raw: str, ctx: CursorContext) -> bool:
    """The stopping criterion of the speculative lookahead: whether ``raw``, the model's text
    at the end of the cursor's line, holds the rest of that line and a whole suggestion for
    the next non-blank line (see :func:`suggestion_stops`): that one line, or the whole block
    when the finished line opens one (``def f():`` then its body). This bounds the lookahead
    that prepares the next line's suggestion while the user types the current one. An
    end-of-text marker stops it too.
    """
    if _has_end_marker(raw):
        return True
    first, newline, rest = _lf(raw).partition("\n")
    if not newline:
        return False
    lines = rest.split("\n")
    blank = 0
    while blank < len(lines) - 1 and not lines[blank].strip():
        blank += 1
    body = "\n".join(lines[blank:])
    line = ctx.line_prefix + first
    after = CursorContext(
        line_prefix="",
        line_suffix="",
        following=ctx.following,
        previous_line=line if line.strip() else ctx.previous_line,
        indent_unit=ctx.indent_unit,
        max_lines=ctx.max_lines,
    )
    if decide_mode(after) is Mode.MULTI_LINE:
        return suggestion_stops(body, after, Mode.MULTI_LINE)
    return "\n" in body and bool(body.split("\n", 1)[0].strip())


def postprocess(raw: str, ctx: CursorContext, mode: Mode) -> str:
    """Turn the model's raw continuation at the cursor into the text to show.

    Applies, in order: :func:`strip_artifacts`; :func:`truncate_single_line` or
    :func:`truncate_multi_line`; in multi-line mode :func:`trim_following_overlap`;
    :func:`trim_suffix_overlap`; :func:`balance_brackets`; :func:`drop_repetition`;
    :func:`finalize`. Returns ``""`` when nothing useful is left (send no item then).
    """
    text = strip_artifacts(raw)
    if mode is Mode.SINGLE_LINE:
        text = truncate_single_line(text)
    else:
        text = truncate_multi_line(text, ctx)
        text = trim_following_overlap(text, ctx)
    text = trim_suffix_overlap(text, ctx)
    text = balance_brackets(text, ctx)
    text = drop_repetition(text, ctx, mode)
    return finalize(text, ctx, mode)


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
