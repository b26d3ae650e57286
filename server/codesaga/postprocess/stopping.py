"""Stopping criteria: when a streaming generation has given enough text, so the engine may
stop (llama-cpp-python's ``stopping_criteria``)."""

from __future__ import annotations

from .cursor import CursorContext, Mode, decide_mode
from .rules import (
    _block_lines,
    _has_end_marker,
    _lf,
    trim_following_overlap,
)


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
