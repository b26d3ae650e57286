"""Review (``source.codesaga.review``): the model reviews the selection or the file, shown
with line numbers, against the ``styleGuide`` Markdown (or the language's conventions); its
findings (``- line N: problem => corrected line``) become diagnostics, each fix a quickfix.

Lines are 1-based in findings and prompts, 0-based in documents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple

from codesaga.actions.base import OfferRequest
from codesaga.actions.data import ActionData, Offer
from codesaga.actions.jobs import Job, Planner, base_variables, build_messages, example_answers
from codesaga.actions.jobs import max_answer_tokens as cap
from codesaga.actions.messages import say
from codesaga.answers import (
    Finding,
    findings_done,
    looks_like_none,
    parse_findings,
    useless_findings,
)
from codesaga.documents import Document
from codesaga.targets import Target, bounds, line_target

__all__ = [
    "GUIDE_MAX_CHARS",
    "ReviewAnswer",
    "ReviewStatus",
    "finish",
    "load_style_guide",
    "numbered",
    "offer",
    "plan",
]

GUIDE_MAX_CHARS = 6000
"""A longer style guide is cut (at a line break) to keep room for the code in the prompt."""
PROMPT_OVERHEAD = 400
"""Tokens kept for the system prompt and the example when fitting the code."""

ReviewStatus = Literal["found", "none", "unreadable"]


class ReviewAnswer(NamedTuple):
    """What a review answer said: the findings, the message for the user, and ``status``:
    ``found`` (findings to publish), ``none`` (the model reported nothing) or ``unreadable``
    (no finding in the expected form, or only echoes of the prompt)."""

    findings: list[Finding]
    message: str
    status: ReviewStatus


def offer(request: OfferRequest) -> list[Offer]:
    """ "Review the selection" or "Review this file" (naming the style guide if one is set)."""
    if not request.wants("review"):
        return []
    doc, lang, guide_path = request.doc, request.lang, request.style_guide
    start, end = bounds(doc, request.selection)
    selected = doc.text[start:end]
    guide = (
        say("title.review.guide", lang, guide=Path(guide_path).name) if guide_path.strip() else ""
    )
    what = say("what.selection" if selected.strip() else "what.file", lang)
    return [request.offer(say("title.review", lang, what=what, guide=guide), "review")]


def plan(doc: Document, data: ActionData, planner: Planner) -> Job:
    """The review prompt: the selected lines (else the file up to its last non-blank line)
    numbered, narrowed around the span's line until it fits, and the style guide. The answer
    stops once findings pass the last line or only echo the prompt. An unreadable style guide
    leaves a note in ``job.notes``."""
    lang = planner.lang
    notes: list[str] = []
    guide, error = load_style_guide(planner.style_guide)
    if error is not None:
        notes.append(say("guide_unreadable", lang, path=planner.style_guide, error=error))
    start, end = bounds(doc, data.span)
    if doc.text[start:end].strip():
        target = line_target(doc, start, end, "selection")
    else:
        last = doc.line_count - 1
        while last > 0 and not doc.line_text(last).strip():
            last -= 1
        target = line_target(doc, 0, doc.line_end(last), "file")
    target = _fit(doc, target, doc.line_at(start), guide, planner)
    variables = {
        **base_variables(doc),
        "guide": guide,
        "numbered": numbered(doc, target.first_line, target.last_line),
    }
    messages = build_messages("review", lang, variables)
    first_line, last_line = target.first_line + 1, target.last_line + 1
    source = {n + 1: doc.line_text(n) for n in range(first_line - 1, last_line)}
    examples = example_answers("review", lang)
    echo = messages[0]["content"]

    def should_stop(text: str) -> bool:
        return findings_done(text, last_line) or useless_findings(
            text, first_line, last_line, source, examples=examples, echo=echo
        )

    return Job.fitted("review", planner, messages, target, should_stop=should_stop, notes=notes)


def finish(doc: Document, job: Job, answer: str) -> ReviewAnswer:
    """The findings in a review answer (on the ``doc`` the job was planned on), with the
    message for the user. A last line cut off by the token limit (``job.truncated``) is
    ignored."""
    target = job.target
    if job.truncated and "\n" in answer.rstrip("\n"):
        answer = answer[: answer.rstrip("\n").rfind("\n")]
    source_lines = {
        line + 1: doc.line_text(line) for line in range(target.first_line, target.last_line + 1)
    }
    findings = parse_findings(
        answer,
        target.first_line + 1,
        target.last_line + 1,
        source_lines,
        examples=job.examples,
        echo=job.messages[0]["content"],
    )
    if findings:
        return ReviewAnswer(findings, say("review_done", job.lang, n=len(findings)), "found")
    if looks_like_none(answer):
        return ReviewAnswer([], say("review_none", job.lang), "none")
    return ReviewAnswer([], say("review_unreadable", job.lang), "unreadable")


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


def _fit(doc: Document, target: Target, center: int, guide: str, planner: Planner) -> Target:
    """``target`` narrowed around line ``center`` until its prompt leaves room for answers."""
    count = planner.count_tokens
    room = planner.n_ctx - cap("review") - count(guide) - PROMPT_OVERHEAD
    first, last = target.first_line, target.last_line
    for _ in range(12):
        if count(numbered(doc, first, last)) <= room or last - first < 8:
            break
        half = (last - first) // 4
        center = min(max(center, first), last)
        first = max(first, center - half)
        last = min(last, max(first + 2 * half, center + half))
    if (first, last) == (target.first_line, target.last_line):
        return target
    return line_target(doc, doc.line_start(first), doc.line_end(last), "lines")
