"""Completion context: what the model sees around the cursor, measured in model tokens.

The prefix window ends at the cursor and starts at a line boundary; its start line is snapped
to a multiple of :data:`SNAP_LINES` so that it stays put while the user types, which keeps the
head of the prompt identical across keystrokes and lets llama.cpp reuse its KV cache. The
suffix window starts at the cursor and ends at a line boundary. Imports and the headers of the
enclosing functions/classes (from tree-sitter) are kept even when they lie outside the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from codesaga.documents import Document
from codesaga.postprocess import CursorContext, Mode, decide_mode, detect_indent_unit
from codesaga.prompts import RepoPrompt
from codesaga.syntax.scopes import enclosing_scopes, import_spans

SNAP_LINES = 16
"""The prefix window starts on a line number divisible by this (KV-cache stability)."""
SNAP_CHARS = 256
"""Inside a line too long for the window, the window starts at a multiple of this many
characters from the line's start, so that it stays put while the user types."""
RESERVED_TOKENS = 8
"""Tokens kept free for BOS and the FIM markers."""
MAX_LINE_CACHE = 20_000
"""Most line counts :class:`LineTokens` remembers before it starts afresh."""
MEMO_LINE_CHARS = 1_000
"""Longer lines are counted each time, not remembered: every edit of a long line would keep
another copy of it (a 1 MB minified line grew the server by a MiB a keystroke)."""
LONG_LINE_CHARS = 8_000
"""Longer lines are not tokenized to be measured (a 1 MB line took 1.9 s on the event loop):
their UTF-8 size stands in, an upper bound since every token holds at least one byte."""
CHARS_PER_TOKEN = 4
"""Characters a window of N tokens starts from before it is measured (code averages 3–4
characters a token; the window halves until it fits)."""
CURSOR_LINE_CHARS = 1_000
"""The line above the cursor, as post-processing compares with it, is cut to its last this
many characters."""


@dataclass(frozen=True)
class Budget:
    """Token budgets (model tokens) for the parts of a completion prompt."""

    prefix: int
    suffix: int
    context: int
    repo: int = 0
    """Repository context: code from other files (see :class:`codesaga.prompts.RepoPrompt`)."""

    @classmethod
    def for_window(cls, n_ctx: int, max_tokens: int, uses_suffix: bool, repo: int = 0) -> Budget:
        """Split what the context window leaves after generation and ``repo`` tokens of
        repository context (at most a third of it): 65/20/15 % with a suffix in the prompt
        (FIM), 85/0/15 % without (prefix-only; the suffix still feeds post-processing,
        bounded by the same 20 % share)."""
        total = max(64, n_ctx - max_tokens - RESERVED_TOKENS)
        repo = min(repo, total // 3)
        total -= repo
        context = total * 15 // 100
        suffix = total * 20 // 100
        prefix = total - context - (suffix if uses_suffix else 0)
        return cls(prefix=prefix, suffix=suffix, context=context, repo=repo)


class LineTokens:
    """Token counts of single lines, memoised by line text (lines rarely change); long lines
    bounded without tokenizing them (see LONG_LINE_CHARS)."""

    def __init__(self, count_tokens: Callable[[str], int]) -> None:
        self._count = count_tokens
        self._memo: dict[str, int] = {}

    def __call__(self, line: str) -> int:
        """Tokens in ``line`` plus its newline (an upper bound for lines over LONG_LINE_CHARS)."""
        if len(line) > MEMO_LINE_CHARS:
            if len(line) > LONG_LINE_CHARS:
                return len(line.encode("utf-8")) + 1
            return self._count(line + "\n")
        n = self._memo.get(line)
        if n is None:
            if len(self._memo) >= MAX_LINE_CACHE:
                self._memo.clear()
            n = self._count(line + "\n")
            self._memo[line] = n
        return n

    def tail_within(self, text: str, budget: int) -> str:
        """The end of ``text`` (one line's part, no newline) that fits ``budget`` tokens: all
        of it when it fits, else the last ``budget * CHARS_PER_TOKEN`` characters, halved
        until they fit ("" for a budget under one token)."""
        if self(text) <= budget:
            return text
        n = min(len(text), max(0, budget) * CHARS_PER_TOKEN)
        while n > 0:
            piece = text[len(text) - n :]
            if self._count(piece) <= budget:
                return piece
            n //= 2
        return ""

    def head_within(self, text: str, budget: int) -> str:
        """The start of ``text`` that fits ``budget`` tokens (as :meth:`tail_within`)."""
        if self(text) <= budget:
            return text
        n = min(len(text), max(0, budget) * CHARS_PER_TOKEN)
        while n > 0:
            piece = text[:n]
            if self._count(piece) <= budget:
                return piece
            n //= 2
        return ""


@dataclass(frozen=True)
class CompletionContext:
    """Everything the prompt and post-processing need. All text is ``str``; offsets are str
    indices into the document text."""

    prefix: str
    """From the window's first line start up to the cursor."""
    suffix: str
    """From the cursor to the end of the window's last line."""
    context: str
    """Code from outside the prefix window: imports, then enclosing-scope headers (outermost
    first), each ending with a newline; empty when all of it is inside the window."""
    cursor: CursorContext
    mode: Mode
    offset: int
    """Cursor position as a str index into the document."""
    window_start_line: int
    repo: RepoPrompt = RepoPrompt()
    """Code from other files of the repository (none until the prompt builder adds it)."""

    @property
    def binary(self) -> bool:
        """Whether the windows hold a NUL character (binary content: nothing to suggest)."""
        return "\x00" in self.prefix or "\x00" in self.suffix


def build_completion_context(
    doc: Document,
    offset: int,
    line_tokens: LineTokens,
    budget: Budget,
    max_lines: int = 12,
) -> CompletionContext:
    """Build the context at str ``offset`` (code points, ``0..len(doc.text)``).

    Raises :class:`codesaga.documents.PositionError` when the offset is outside the document.
    """
    line_no = doc.line_at(offset)
    line_start = doc.line_start(line_no)
    whole_prefix = doc.text[line_start:offset]
    line_prefix = line_tokens.tail_within(whole_prefix, budget.prefix)
    if len(line_prefix) < len(whole_prefix):  # a long line: the window is part of it,
        # its start snapped forward to SNAP_CHARS as lines are to SNAP_LINES (KV reuse)
        start = offset - len(line_prefix) - line_start
        start_line = line_no
        window_start = min(offset, line_start + -(-start // SNAP_CHARS) * SNAP_CHARS)
    else:
        start_line = _prefix_start(
            doc, line_no, line_tokens, budget.prefix - line_tokens(line_prefix)
        )
        window_start = doc.line_start(start_line)
    prefix = doc.text[window_start:offset]

    whole_suffix = doc.text[offset : doc.line_end(line_no)]
    line_suffix = line_tokens.head_within(whole_suffix, budget.suffix)
    end_line = line_no  # a long line's window ends in it, else lines follow within budget
    if len(line_suffix) == len(whole_suffix):
        end_line = _suffix_end(doc, line_no, line_tokens, budget.suffix)
    suffix = line_suffix + "".join(
        "\n" + doc.line_text(i) for i in range(line_no + 1, end_line + 1)
    )
    following = suffix[len(line_suffix) + 1 :] if end_line > line_no else ""

    cursor = CursorContext(
        line_prefix=line_prefix,
        line_suffix=line_suffix,
        following=following,
        previous_line=_previous_nonblank(doc, line_no)[-CURSOR_LINE_CHARS:],
        indent_unit=detect_indent_unit(prefix),
        max_lines=max_lines,
    )
    context = _outside_context(doc, window_start, offset, line_tokens, budget.context)
    return CompletionContext(
        prefix=prefix,
        suffix=suffix,
        context=context,
        cursor=cursor,
        mode=decide_mode(cursor),
        offset=offset,
        window_start_line=start_line,
    )


def first_window_end(doc: Document, line_tokens: LineTokens, budget: Budget) -> int:
    """Where (a str offset) the longest prefix window that starts at the document's first
    line ends: the start of the first line that no longer fits ``budget.prefix`` tokens, or
    the document's end. The prompt of a cursor anywhere before it starts with the same text
    (its window starts at line 0 too), so a KV cache filled with this prompt serves all of
    them."""
    used = 0
    for line_no in range(doc.line_count):
        used += line_tokens(doc.line_text(line_no))
        if used > budget.prefix:
            return doc.line_start(line_no)
    return len(doc.text)


def _prefix_start(doc: Document, line_no: int, line_tokens: LineTokens, budget: int) -> int:
    """First line of the prefix window: as far back as ``budget`` tokens reach, then snapped
    forward to a multiple of SNAP_LINES (never past the cursor's line)."""
    used = 0
    start = line_no
    while start > 0:
        cost = line_tokens(doc.line_text(start - 1))
        if used + cost > budget:
            break
        used += cost
        start -= 1
    if start == 0:
        return 0
    snapped = -(-start // SNAP_LINES) * SNAP_LINES
    return min(snapped, line_no)


def _suffix_end(doc: Document, line_no: int, line_tokens: LineTokens, budget: int) -> int:
    """Last line of the suffix window (at least the cursor's line)."""
    used = 0
    end = line_no
    last = doc.line_count - 1
    while end < last:
        cost = line_tokens(doc.line_text(end + 1))
        if used + cost > budget:
            break
        used += cost
        end += 1
    return end


def _previous_nonblank(doc: Document, line_no: int) -> str:
    for i in range(line_no - 1, max(-1, line_no - 50), -1):
        text = doc.line_text(i)
        if text.strip():
            return text
    return ""


def _outside_context(
    doc: Document, window_start: int, offset: int, line_tokens: LineTokens, budget: int
) -> str:
    """Imports and enclosing-scope headers that start before the prefix window, within budget."""
    if doc.tree is None or doc.grammar is None or window_start == 0:
        return ""
    window_start_byte = doc.byte_at(window_start)
    # The tree may be stale (edited, not yet re-parsed: see Document.tree_stale): good
    # enough for imports and scope headers, read by byte range from the current text.
    source = doc.utf8()
    pieces: list[str] = []
    used = 0
    for span in import_spans(doc.tree, doc.grammar, source):
        if span.start_byte >= window_start_byte:
            break
        text = span.header.rstrip("\n") + "\n"
        cost = sum(line_tokens(part) for part in text.splitlines())
        if used + cost > budget:
            break
        pieces.append(text)
        used += cost
    scopes = enclosing_scopes(doc.tree, doc.grammar, doc.byte_at(offset), source)
    for span in reversed(scopes):  # outermost first
        if span.start_byte >= window_start_byte:
            continue
        line_start = doc.line_start(span.start_line)
        indent = doc.text[line_start : doc.offset_of_byte(span.start_byte)]
        text = (indent if not indent.strip() else "") + span.header.rstrip() + "\n"
        cost = sum(line_tokens(part) for part in text.splitlines())
        if used + cost > budget:
            break
        pieces.append(text)
        used += cost
    return "".join(pieces)


def past_blank_line(ctx: CompletionContext) -> CompletionContext | None:
    """The context one ``Enter`` further, the cursor's line left blank, when that line holds
    nothing but indentation; None otherwise.

    The indentation is dropped from the line left behind (editors trim it when Enter leaves a
    line empty) and the new line starts at column 0: what comes after a blank line (a new
    definition, often dedented) is for the model to say.
    """
    cursor = ctx.cursor
    if cursor.line_prefix.strip() or cursor.line_suffix.strip():
        return None
    after = replace(cursor, line_prefix="", line_suffix="")
    return replace(
        ctx,
        prefix=ctx.prefix[: len(ctx.prefix) - len(cursor.line_prefix)] + "\n",
        cursor=after,
        mode=decide_mode(after),
        offset=ctx.offset - len(cursor.line_prefix) + 1,
    )
