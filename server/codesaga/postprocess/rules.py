"""The post-processing rules, in the order :func:`postprocess` applies them (see the
package docstring)."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import replace

from .cursor import (
    _CLOSE_TO_OPEN,
    _OPEN_TO_CLOSE,
    DEFAULT_INDENT_UNIT,
    TAB_WIDTH,
    CursorContext,
    Mode,
    _first_non_blank_line,
    _indent_width,
    _is_closer_line,
    _is_identifier_char,
    _leading_ws,
    _Lexer,
    _opener_line,
    _unclosed_openers,
)

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


_MARKER = re.compile(r"<[^<>\s]{1,80}>|\[[^\[\]\s]{1,80}\]")
"""What a special token's text looks like: ``<...>`` or ``[...]`` without spaces."""


def is_marker_text(text: str) -> bool:
    """Whether ``text`` is shaped like a special token (``<x>`` or ``[x]``, no whitespace)."""
    return _MARKER.fullmatch(text) is not None


def cut_at_special(text: str, specials: Collection[str], start: int = 0) -> int | None:
    """The str index of the first of ``specials`` (a model's special token texts) in ``text``
    beginning at or after ``start``, or None. Only ``<...>``/``[...]`` shaped texts are
    looked for (see :func:`is_marker_text`)."""
    if not specials:
        return None
    for match in _MARKER.finditer(text, start):
        if match.group(0) in specials:
            return match.start()
    return None


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
