"""Apply suggestion (``quickfix``, preferred): a review finding's one-line fix, carried by
its diagnostic, put in place of its line without the model."""

from __future__ import annotations

from codesaga.actions.base import OfferRequest
from codesaga.actions.data import ActionData, ActionRefused, Offer
from codesaga.actions.edits import Edit
from codesaga.actions.messages import Lang, action_title, say, short
from codesaga.documents import Document
from codesaga.targets import indent_code, parse_problem

__all__ = ["finish", "offer"]


def offer(request: OfferRequest) -> list[Offer]:
    """ "Apply suggestion: fix" for each review problem that carries a fix and whose line
    still reads as it did at review time."""
    if not request.wants("apply"):
        return []
    doc, offers = request.doc, []
    for problem in request.problems:
        if problem.fix is None or problem.line_text is None:
            continue
        if doc.line_text(doc.line_at(problem.span.start)) == problem.line_text:
            title = say("title.apply", request.lang, fix=short(problem.fix.strip(), 50))
            offers.append(
                request.offer(
                    title,
                    "apply",
                    problem.span,
                    fixes=problem,
                    preferred=True,
                    fix=problem.fix,
                    line_text=problem.line_text,
                )
            )
    return offers


def finish(doc: Document, data: ActionData, lang: Lang) -> Edit:
    """The edit for the fix: its line, re-indented like the line was, provided the line
    still reads as it did at review time and the result parses (else ActionRefused)."""
    title = action_title("apply", lang)
    line = doc.line_at(data.span.start)
    if data.fix is None or doc.line_text(line) != data.line_text:
        raise ActionRefused(say("apply_gone", lang))
    original = doc.line_text(line)
    indent = original[: len(original) - len(original.lstrip())]
    new_text = indent_code(data.fix, indent)
    start, end = doc.line_start(line), doc.line_end(line)
    if new_text.rstrip() == original.rstrip():
        raise ActionRefused(say("no_change", lang, title=title))
    problem = parse_problem(doc, start, end, new_text)
    if problem is not None:
        raise ActionRefused(say("no_parse", lang, title=title, where=problem))
    return Edit(start, end, new_text)
