"""Pure helpers of ``codesaga bench``: typing plans, keystrokes, percentiles, the big file.

Nothing here touches a model, a server or the clock, so all of it is unit-tested.

Typing model. A file is cut after its first ``start_fraction`` of lines; the editor opens that
head (the cursor at the end of its last line) and the person types the following lines one
key at a time: ``Enter`` inserts the newline together with the next line's indentation (as an
editor's auto-indent does), then every other character is one key. The person pauses after
each ``Enter`` that starts a non-blank line, waiting for the suggestion of that line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from lsprotocol.types import Position

_TOP_LEVEL_NAME = re.compile(r"^(?:class|def|async def)\s+([A-Za-z_]\w*)", re.M)


@dataclass(frozen=True)
class TypingPlan:
    """What to type into one file: open ``head``, then type ``typed`` at its end."""

    name: str
    """File name, for the report."""
    language_id: str
    head: str
    """The document text when opened; the cursor starts at its end."""
    typed: str
    """The text the person types (starts with a newline); the file continues with it."""

    @property
    def keys(self) -> int:
        """Keys needed to type :attr:`typed` without accepting any suggestion."""
        return sum(1 for _ in keystrokes(self.typed))


@dataclass(frozen=True)
class Key:
    """One keystroke: ``typed[start:end]`` is inserted at the cursor."""

    start: int
    end: int
    pause: bool
    """True when the person waits for the suggestion after this key."""


def normalise_newlines(text: str) -> str:
    """``text`` with CRLF and lone CR turned into LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def plan_typing(
    name: str, language_id: str, text: str, max_keys: int, start_fraction: float = 0.4
) -> TypingPlan:
    """Cut ``text`` after ``start_fraction`` of its lines and plan typing the lines after the
    cut, whole lines only, as many as fit in ``max_keys`` keys (but at least up to the first
    non-blank line, when the file has one after the cut).

    Raises ValueError when ``max_keys`` < 1 or ``start_fraction`` is outside [0, 1).
    """
    if max_keys < 1:
        raise ValueError(f"max_keys must be at least 1, got {max_keys}")
    if not 0.0 <= start_fraction < 1.0:
        raise ValueError(f"start_fraction must be in [0, 1), got {start_fraction}")
    lines = normalise_newlines(text).split("\n")
    cut = min(len(lines) - 1, max(1, round(len(lines) * start_fraction)))
    head = "\n".join(lines[:cut])
    typed = ""
    used = 0
    for line in lines[cut:]:
        cost = 1 + len(line.lstrip(" \t"))  # Enter (+ auto-indent), then one key a character
        if typed.strip() and used + cost > max_keys:
            break
        typed += "\n" + line
        used += cost
        if used >= max_keys and typed.strip():
            break
    return TypingPlan(name=name, language_id=language_id, head=head, typed=typed)


def next_key(typed: str, pos: int) -> Key:
    """The keystroke that types ``typed`` from ``pos`` on (``pos < len(typed)``).

    A newline key carries the indentation of the line it opens; it is a pause when that line
    has something besides whitespace. Any other character is a key of its own.
    """
    if not 0 <= pos < len(typed):
        raise ValueError(f"position {pos} outside the typed text (length {len(typed)})")
    if typed[pos] != "\n":
        return Key(pos, pos + 1, False)
    end = pos + 1
    while end < len(typed) and typed[end] in " \t":
        end += 1
    line_end = typed.find("\n", end)
    rest = typed[end : len(typed) if line_end < 0 else line_end]
    return Key(pos, end, bool(rest.strip()))


def keystrokes(typed: str, pos: int = 0) -> Iterator[Key]:
    """Every key that types ``typed[pos:]``, in order."""
    while pos < len(typed):
        key = next_key(typed, pos)
        yield key
        pos = key.end


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (LSP's default position unit)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def end_position(text: str) -> Position:
    """The LSP position (UTF-16 columns) just after the end of ``text`` (LF line ends)."""
    line = text.count("\n")
    return Position(line=line, character=utf16_len(text[text.rfind("\n") + 1 :]))


def advance(position: Position, inserted: str) -> Position:
    """Where the cursor is after ``inserted`` was typed at ``position`` (UTF-16 columns)."""
    newlines = inserted.count("\n")
    if not newlines:
        return Position(line=position.line, character=position.character + utf16_len(inserted))
    tail = inserted[inserted.rfind("\n") + 1 :]
    return Position(line=position.line + newlines, character=utf16_len(tail))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks (as
    numpy's default); None for no values. Raises ValueError for ``q`` outside [0, 100]."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values_ms: Sequence[float]) -> dict[str, float | int | None]:
    """``n``, ``p50_ms``, ``p95_ms``, ``mean_ms`` and ``max_ms`` of millisecond values, rounded
    to 0.01 ms (None when there are no values)."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "n": len(values_ms),
        "p50_ms": rounded(percentile(values_ms, 50)),
        "p95_ms": rounded(percentile(values_ms, 95)),
        "mean_ms": rounded(sum(values_ms) / len(values_ms)) if values_ms else None,
        "max_ms": rounded(max(values_ms)) if values_ms else None,
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator`` rounded to 0.001, or None when either is missing or the
    denominator is not positive."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 3)


def big_python_file(source: str, lines: int = 5000) -> str:
    """A Python file of exactly ``lines`` lines made from ``source``: its head (up to the first
    top-level ``class``/``def``/decorator) once, then copies of the rest with every top-level
    class and function renamed (``Item`` -> ``Item_2``, …), then small functions and blank
    lines to fill up. Every copy is whole, so the file parses as the source does.

    Raises ValueError when ``source`` has no top-level class or function, or ``lines`` < 1.
    """
    if lines < 1:
        raise ValueError(f"lines must be at least 1, got {lines}")
    source = normalise_newlines(source).rstrip("\n") + "\n"
    match = re.search(r"^(?:@|class\s|def\s|async\s+def\s)", source, re.M)
    names = _TOP_LEVEL_NAME.findall(source)
    if match is None or not names:
        raise ValueError("the source has no top-level class or function to repeat")
    head, body = source[: match.start()], "\n\n" + source[match.start() :]
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(set(names))) + r")\b")
    out = head.split("\n")[:-1]
    copy = 1
    while True:
        block = pattern.sub(rf"\1_{copy}", body).split("\n")[:-1]
        if len(out) + len(block) > lines:
            break
        out.extend(block)
        copy += 1
    filler = 0
    while len(out) + 4 <= lines:
        out += ["", "", f"def filler_{filler}(value: int) -> int:", f"    return value + {filler}"]
        filler += 1
    out.extend([""] * (lines - len(out)))
    return "\n".join(out[:lines]) + "\n"


def middle_typing(text: str, lines: int = 39) -> tuple[Position, str]:
    """Where and what to type into the middle of a Python ``text`` (LF line ends): the cursor
    at the end of the first indented ``def`` line at or after the middle whose body follows
    it (else the middle line), and the ``lines`` lines after it typed again, a newline first.
    """
    all_lines = text.split("\n")
    anchor = _middle_def(all_lines)
    head = "\n".join(all_lines[: anchor + 1])
    return end_position(head), "\n" + "\n".join(all_lines[anchor + 1 : anchor + 1 + lines])


def _middle_def(lines: list[str]) -> int:
    """Index of the first indented ``def`` line at or after the middle of ``lines`` whose body
    follows it (falls back to the middle line)."""
    middle = len(lines) // 2
    for i in range(middle, len(lines) - 2):
        stripped = lines[i].lstrip()
        if stripped.startswith("def ") and lines[i] != stripped and lines[i + 1].strip():
            return i
    return middle
