"""Parsing what a model answered to a code action: code, documentation text, review findings.

Small models wrap their answers in code fences, prose, echoes of the question or chat markers,
or stop halfway. Every function here is total: it returns what it could read (possibly
nothing) and never raises. All counts are ``str`` characters or 1-based line numbers.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Finding",
    "code_candidates",
    "doc_text",
    "fenced_blocks",
    "findings_done",
    "has_closed_fence",
    "looks_like_none",
    "markdown_text",
    "parse_findings",
    "repetitive",
    "useless_findings",
]

_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w#+.\-]*)[^\n]*$", re.MULTILINE)
_CHAT_MARKERS = re.compile(
    r"^[ \t]*(?:#{2,4}[ \t]*(?:User|System|Assistant)\b|<start_of_turn>|<end_of_turn>"
    r"|<\|im_start\|>|<\|im_end\|>|<\|eot_id\|>|</s>|<eos>)",
    re.MULTILINE,
)
_LANG_ALIASES = {
    "python": {"python", "py", "python3"},
    "javascript": {"javascript", "js", "jsx", "mjs"},
    "typescript": {"typescript", "ts"},
    "tsx": {"tsx", "typescript", "ts"},
    "rust": {"rust", "rs"},
    "go": {"go", "golang"},
    "java": {"java"},
    "c": {"c", "h"},
    "cpp": {"cpp", "c++", "cc", "cxx", "hpp"},
}
# A line of prose: unindented, starts with a letter (any script), none of the operators and
# brackets code lines are made of; checked further in _is_prose.
_PROSE = re.compile(r"^[^\W\d_][^=+*/%<>(){}\[\];|&^~`]*$")


def _cut_chat_markers(answer: str) -> str:
    """The answer up to the first chat-turn marker (a model continuing the conversation)."""
    match = _CHAT_MARKERS.search(answer)
    return answer[: match.start()] if match else answer


@dataclass(frozen=True)
class _Block:
    info: str
    body: str
    closed: bool
    order: int


def fenced_blocks(answer: str) -> list[tuple[str, str, bool]]:
    """Fenced blocks in ``answer`` as ``(info, body, closed)`` in order of appearance.

    ``info`` is the lower-cased info string (``"python"``, ``""``); ``closed`` is False for a
    block the answer ends inside (a generation cut by its token limit).
    """
    return [(b.info, b.body, b.closed) for b in _blocks(answer)]


def _blocks(answer: str) -> list[_Block]:
    blocks: list[_Block] = []
    pos = 0
    while True:
        opening = _FENCE_OPEN.search(answer, pos)
        if opening is None:
            return blocks
        fence = opening.group(1)
        info = opening.group(2).lower()
        body_start = opening.end() + 1
        closing = re.compile(
            rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE
        ).search(answer, min(body_start, len(answer)))
        if closing is None:
            body = answer[body_start:] if body_start <= len(answer) else ""
            blocks.append(_Block(info, body.rstrip("\n"), False, len(blocks)))
            return blocks
        body = answer[body_start : closing.start()] if closing.start() >= body_start else ""
        blocks.append(_Block(info, body.rstrip("\n"), True, len(blocks)))
        pos = closing.end()


def has_closed_fence(text: str) -> bool:
    """True once ``text`` holds a complete fenced block (used to stop a generation early)."""
    return any(b.closed and b.body.strip() for b in _blocks(text))


def _is_prose(line: str) -> bool:
    """A sentence around code (``Here is the simpler version:``), not a line of code: at
    least three words, ending like a sentence (``.``, ``:``, ``!``, ``?``) or six words
    long."""
    if not line.strip():
        return True
    if line[:1].isspace() or not _PROSE.match(line):
        return False
    words = line.split()
    return len(words) >= 3 and (line.rstrip()[-1] in ".:!?。" or len(words) >= 6)


def _strip_prose(text: str) -> str:
    """``text`` without leading and trailing prose lines (``Here is the code:``)."""
    lines = text.split("\n")
    while lines and _is_prose(lines[0]):
        lines.pop(0)
    while lines and _is_prose(lines[-1]):
        lines.pop()
    return "\n".join(lines)


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        key = item.strip("\n")
        if key.strip() and key not in seen:
            seen.add(key)
            out.append(key)
    return out


def code_candidates(answer: str, grammar: str | None = None) -> list[str]:
    """Pieces of ``answer`` that may be the code the model meant, best first.

    Fenced blocks come first: those tagged with ``grammar``'s language (or untagged) before
    others, complete before cut-off, then the largest first and, among equals, the first.
    Without any fence, the whole answer counts as code once leading and trailing prose lines
    are dropped. Chat-turn markers (``### User``) end the answer. The caller keeps the first
    candidate that yields a valid edit; ``[]`` means the answer held no code at all.
    """
    text = _cut_chat_markers(answer.replace("\r\n", "\n"))
    blocks = _blocks(text)
    aliases = _LANG_ALIASES.get(grammar or "", {grammar} if grammar else set())

    def rank(block: _Block) -> tuple[int, int, int, int]:
        tag_ok = block.info == "" or block.info in aliases
        return (0 if tag_ok else 1, 0 if block.closed else 1, -len(block.body), block.order)

    if blocks:
        return _dedupe(b.body for b in sorted(blocks, key=rank))
    return _dedupe([_strip_prose(text)])


_WHOLE_FENCE = re.compile(r"(`{3,}|~{3,})[^\n]*\n?.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S)


def _drop_fences(text: str) -> str:
    """``text`` with every fenced block removed (the prose around them stays)."""
    out: list[str] = []
    pos = 0
    for match in re.finditer(
        r"(`{3,}|~{3,})[^\n]*\n?.*?(?:^[ \t]*\1[ \t]*$|\Z)", text, re.M | re.S
    ):
        out.append(text[pos : match.start()])
        pos = match.end()
    out.append(text[pos:])
    return "".join(out)


_DOC_LITERAL = re.compile(r'("""|\'\'\')(.*?)(?:\1|\Z)', re.S)
_BLOCK_COMMENT = re.compile(r"/\*\*?(.*?)(?:\*/|\Z)", re.S)
_LABEL = re.compile(
    r"^(?:docstring|doc comment|documentation|description|answer|summary|"
    r"문서|설명|요약|답변|주석)\s*[:：]\s*",
    re.IGNORECASE,
)


def _uncomment(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        stripped = line.strip()
        for marker in ("///", "//!", "//", "#", "* ", "*"):
            if stripped.startswith(marker) and not stripped.startswith("**"):
                stripped = stripped[len(marker) :].strip()
                break
        out.append(stripped)
    return out


def doc_text(
    answer: str, code: str = "", *, examples: Iterable[str] = (), max_lines: int = 12
) -> str:
    """The documentation text in an answer to "describe this function", without markup.

    Takes, in this order: the inside of a docstring literal or a ``/** */`` comment, the
    prose outside code fences, the inside of the first fence. Comment markers, quotes and
    labels (``Docstring:``) are removed, lines that repeat ``code`` (an echo of the question)
    or a line of ``examples`` (the prompt's few-shot answers, parroted) are dropped, and at
    most ``max_lines`` lines are kept. ``""`` when nothing is left.
    """
    text = _cut_chat_markers(answer.replace("\r\n", "\n"))
    chosen = ""
    literal = _DOC_LITERAL.search(text)
    comment = _BLOCK_COMMENT.search(text)
    if literal and literal.group(2).strip():
        chosen = literal.group(2)
    elif comment and comment.group(1).strip():
        chosen = comment.group(1)
    else:
        outside = _drop_fences(text)
        if outside.strip():
            chosen = outside
        else:
            blocks = _blocks(text)
            chosen = blocks[0].body if blocks else ""
    code_lines = {line.strip() for line in code.splitlines() if line.strip()}
    code_lines |= _example_lines(examples)
    lines: list[str] = []
    for raw in _uncomment(chosen.split("\n")):
        line = _LABEL.sub("", raw.strip().strip("`")).strip()
        line = line.strip('"').strip("'").strip() if line.count('"') == 2 else line
        if line in code_lines:
            continue
        if not line and (not lines or not lines[-1]):
            continue  # no leading or doubled blank lines
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines[:max_lines]).strip()


def _example_lines(examples: Iterable[str]) -> set[str]:
    """The non-trivial lines of few-shot example answers (a parroted line is no answer)."""
    return {
        line.strip()
        for example in examples
        for line in example.split("\n")
        if len(line.strip()) > 8
    }


_RUN_PREFIX = 20
"""Consecutive lines sharing a prefix this long (in characters) are a degenerate loop."""


def _similar_run(lines: list[str]) -> bool:
    prefix = os.path.commonprefix([ln.strip() for ln in lines])
    return len(prefix) >= _RUN_PREFIX


def repetitive(text: str) -> bool:
    """True when a streamed answer loops: a line of more than 3 characters written a third
    time, or three consecutive lines starting with the same 20 characters."""
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").split("\n")[:-1] if ln.strip()]
    counts: dict[str, int] = {}
    for line in lines:
        if len(line) > 3:
            counts[line] = counts.get(line, 0) + 1
            if counts[line] >= 3:
                return True
    return any(_similar_run(lines[i : i + 3]) for i in range(len(lines) - 2))


def _drop_repeats(lines: list[str]) -> list[str]:
    """``lines`` without repeated non-blank lines and without the rest of a run of lines
    sharing a long prefix (the first two of such a run stay)."""
    out: list[str] = []
    seen: set[str] = set()
    for line in lines:
        key = line.strip()
        if key and key in seen:
            continue
        if key and len(out) >= 2 and out[-1].strip() and _similar_run([*out[-2:], line]):
            continue
        seen.add(key)
        out.append(line)
    return out


def markdown_text(answer: str, question: str = "", examples: Iterable[str] = ()) -> str:
    """An explanation's Markdown: chat markers cut; an echo of ``question``'s first line,
    lines parroted from ``examples`` (the few-shot answers) and repeated lines (a looping
    model) dropped; surrounding blank lines stripped."""
    text = _cut_chat_markers(answer.replace("\r\n", "\n")).strip()
    first = question.strip().split("\n", 1)[0].strip()
    if first and text.startswith(first):
        text = text[len(first) :].lstrip()
    banned = _example_lines(examples)
    lines = [ln for ln in text.split("\n") if ln.strip() not in banned]
    return "\n".join(_drop_repeats(lines)).strip()


@dataclass(frozen=True)
class Finding:
    """One review finding: a 1-based ``line``, a ``message`` and an optional one-line ``fix``
    (the line's replacement text). ``severity`` is ``"info"`` or ``"hint"``."""

    line: int
    message: str
    fix: str | None = None
    severity: str = "info"


_FINDING = re.compile(
    r"^\s*(?:[-*•]\s*|\d+[.)]\s+)?\**\s*"
    r"(?:(?:lines?|ln|l|줄|라인|행)\s*(?P<line>\d{1,6})|(?P<bare>\d{1,6}))"
    r"(?:\s*[-–]\s*\d{1,6})?\s*(?P<ko>번째\s*줄|번\s*줄|줄|행)?\s*\**\s*"
    r"(?:\((?P<sev>[^)]{1,12})\))?\s*(?P<sep>[:.)\-–])\s*(?P<rest>.+)$",
    re.IGNORECASE,
)
MAX_SAME_MESSAGE = 3
"""The same review message is kept for at most this many lines."""
MAX_FINDINGS = 10
"""A streamed review stops after this many findings."""
_FIX_SPLIT = re.compile(r"\s+(?:=>|⇒|→|fix:|suggestion:|수정:|제안:)\s*", re.IGNORECASE)
_NONE = re.compile(r"^\W*(?:none|no (?:issues|findings|problems)|없음|문제\s*없음)\W*$", re.I)


def _severity(tag: str | None) -> str:
    return "hint" if tag and tag.strip().lower() in ("hint", "nit", "minor", "힌트") else "info"


def _clean_fix(fix: str) -> str | None:
    fix = fix.strip()
    if len(fix) >= 2 and fix[0] == fix[-1] == "`":
        fix = fix[1:-1]
    return fix or None


def _json_finding(line: str) -> Finding | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return None
    try:
        number = int(data.get("line", 0))
    except (TypeError, ValueError):
        return None
    fix = data.get("fix")
    return Finding(
        line=number,
        message=data["message"].strip(),
        fix=_clean_fix(fix) if isinstance(fix, str) else None,
        severity=_severity(str(data.get("severity", ""))),
    )


def _finding(line: str) -> Finding | None:
    stripped = line.strip()
    if stripped.startswith("{"):
        return _json_finding(stripped)
    match = _FINDING.match(line)
    if match is None:
        return None
    if match.group("bare") and not match.group("ko") and match.group("sep") != ":":
        return None  # "1. text" is a numbered list, not line 1
    rest = match.group("rest").strip()
    parts = _FIX_SPLIT.split(rest, maxsplit=1)
    message = parts[0].strip().strip("*").strip()
    fix = _clean_fix(parts[1]) if len(parts) > 1 else None
    number = int(match.group("line") or match.group("bare"))
    return Finding(number, message, fix, _severity(match.group("sev")))


def useless_findings(
    text: str,
    first_line: int,
    last_line: int,
    source_lines: dict[int, str],
    *,
    examples: Iterable[str] = (),
    echo: str = "",
) -> bool:
    """True when a streamed review has written at least two finding lines and
    :func:`parse_findings` keeps none of them (parroted examples, echoed code): the answer
    is going nowhere and can stop."""
    complete = text.replace("\r\n", "\n")
    complete = complete[: complete.rfind("\n") + 1]
    written = sum(1 for line in complete.split("\n") if _finding(line) is not None)
    if written < 2:
        return False
    kept = parse_findings(
        complete, first_line, last_line, source_lines, examples=examples, echo=echo
    )
    return not kept


def parse_findings(
    answer: str,
    first_line: int,
    last_line: int,
    source_lines: dict[int, str] | None = None,
    *,
    examples: Iterable[str] = (),
    echo: str = "",
    limit: int = 50,
) -> list[Finding]:
    """Review findings in ``answer``, one per line: ``- line N: message => fixed line``.

    Also read: ``N: message``, ``Line N (hint): ...``, Korean ``N번째 줄: ...`` and JSON lines
    ``{"line": N, "message": "...", "fix": "..."}``. Dropped: findings outside
    ``first_line..last_line`` (1-based, inclusive); with an empty message; whose message is a
    line of the code (``source_lines``: line number -> text; an echo of the question) or of
    ``examples`` (the prompt's few-shot answers, parroted); repeating an earlier finding. A
    fix equal to the line as it is, or copied from an example, becomes None. At most
    ``limit`` findings, in the answer's order.
    """
    source_lines = source_lines or {}
    repeats: dict[str, int] = {}
    code = {text.strip() for text in source_lines.values() if text.strip()}
    parroted = {f.message for ex in examples for f in map(_finding, ex.split("\n")) if f}
    parroted_fixes = {f.fix for ex in examples for f in map(_finding, ex.split("\n")) if f}
    found: list[Finding] = []
    seen: set[tuple[int, str]] = set()
    for raw in _cut_chat_markers(answer.replace("\r\n", "\n")).split("\n"):
        finding = _finding(raw)
        if finding is None or not first_line <= finding.line <= last_line:
            continue
        original = source_lines.get(finding.line, "").strip()
        message = finding.message.strip()
        bare = message.strip("`'\" ")
        if len(bare) < 3 or bare in code or message in parroted or bare in echo:
            continue
        if message.count("`") % 2:
            continue  # an unbalanced code quote: a cut-off or garbled line
        repeats[message] = repeats.get(message, 0) + 1
        if repeats[message] > MAX_SAME_MESSAGE:
            continue
        if finding.fix is not None and (
            finding.fix.strip() == original or finding.fix in parroted_fixes
        ):
            finding = Finding(finding.line, finding.message, None, finding.severity)
        key = (finding.line, finding.message)
        if key in seen:
            continue
        seen.add(key)
        found.append(finding)
        if len(found) >= limit:
            break
    return found


def looks_like_none(answer: str) -> bool:
    """True when the answer says there is nothing to report (``none``, ``없음``)."""
    lines = [ln for ln in _cut_chat_markers(answer).strip().split("\n") if ln.strip()]
    return bool(lines) and all(_NONE.match(ln.strip(" -*`")) for ln in lines[:2])


def findings_done(text: str, last_line: int) -> bool:
    """True when a streamed review answer has finished its list of findings: after at least
    one finding, a complete line that is not one (or points past ``last_line``); or after
    MAX_FINDINGS findings; or when the answer loops (:func:`repetitive`)."""
    lines = text.replace("\r\n", "\n").split("\n")[:-1]  # complete lines only
    seen = 0
    for line in lines:
        if not line.strip():
            continue
        finding = _finding(line)
        if finding is not None and 1 <= finding.line <= last_line:
            seen += 1
            if seen >= MAX_FINDINGS:
                return True
        elif seen:
            return True
    return repetitive(text)
