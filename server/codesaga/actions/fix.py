"""Fix (``quickfix``): one offer per diagnostic; the model rewrites the smallest statement
around the problem, shown with the lines around it and the enclosing definition's header."""

from __future__ import annotations

from codesaga.actions.base import OfferRequest
from codesaga.actions.data import ActionData, Offer, Problem
from codesaga.actions.edits import DEFINITIONS, Edit, code_edit
from codesaga.actions.jobs import Job, Planner, base_variables, build_messages, dedented
from codesaga.actions.jobs import max_answer_tokens as cap
from codesaga.actions.messages import say, short
from codesaga.answers import has_closed_fence
from codesaga.documents import Document
from codesaga.syntax.scopes import enclosing_scopes
from codesaga.targets import Target, bounds, fix_target

__all__ = ["MAX_FIX_OFFERS", "finish", "offer", "plan"]

MAX_FIX_OFFERS = 5
"""Quickfixes offered per request (one per diagnostic in the request's context)."""
CONTEXT_LINES = 4
"""Lines shown before and after the code to fix."""


def offer(request: OfferRequest) -> list[Offer]:
    """ "Fix “message”" for each of the first MAX_FIX_OFFERS problems. A problem outside the
    document raises PositionError."""
    if not request.wants("fix"):
        return []
    offers = []
    for problem in list(request.problems)[:MAX_FIX_OFFERS]:
        bounds(request.doc, problem.span)  # PositionError for a span outside
        carried = Problem(problem.span, problem.message, problem.code, problem.source)
        title = say("title.fix", request.lang, message=short(problem.message))
        offers.append(request.offer(title, "fix", problem.span, fixes=problem, problem=carried))
    return offers


def plan(doc: Document, data: ActionData, planner: Planner) -> Job:
    """The fix prompt: the statement, the diagnostic (message, code, source), the line it
    points at, the lines around and the enclosing definition's header. The answer budget is
    as refactor's."""
    problem = data.problem
    where = problem.span if problem is not None else data.span
    target = fix_target(doc, where)
    line = min(max(doc.line_at(where.start), target.first_line), target.last_line)
    before_first = max(0, target.first_line - CONTEXT_LINES)
    after_last = min(doc.line_count - 1, target.last_line + CONTEXT_LINES)
    variables = {
        **base_variables(doc),
        "name": target.name,
        "code": dedented(target.text),
        "message": problem.message if problem is not None else "",
        "diagnostic_code": problem.code if problem is not None else "",
        "diagnostic_source": problem.source if problem is not None else "",
        "scope": _scope_header(doc, target),
        "definitions": planner.definitions_for(doc, target.start, target.end),
        "line": line - target.first_line + 1,
        "line_text": doc.line_text(line).strip(),
        "before": _lines(doc, before_first, target.first_line - 1),
        "after": _lines(doc, target.last_line + 1, after_last),
    }
    messages = build_messages("fix", planner.lang, variables)
    wanted = min(cap("fix"), planner.count_tokens(target.text) * 3 // 2 + 64)
    return Job.fitted("fix", planner, messages, target, wanted=wanted, should_stop=has_closed_fence)


def finish(doc: Document, job: Job, answer: str) -> Edit:
    """The edit that puts the answer's code in place of the statement; code out of
    proportion to it (a whole function for one statement) is refused."""
    return code_edit(doc, job.target, answer, job.title, job.lang, fix=True)


def _lines(doc: Document, first: int, last: int) -> str:
    """Lines ``first..last`` (0-based, inclusive) as they are, blank lines around them cut."""
    return "\n".join(doc.line_text(n) for n in range(first, last + 1)).strip("\n").rstrip()


def _scope_header(doc: Document, target: Target) -> str:
    """The first line of the definition around ``target`` (``""`` when it is one itself)."""
    if doc.tree is None or doc.grammar is None or target.kind.endswith(DEFINITIONS):
        return ""
    inside = doc.byte_at(
        min(len(doc.text), target.start + len(target.text) - len(target.text.lstrip()) + 1)
    )
    for span in enclosing_scopes(doc.tree, doc.grammar, inside):
        if span.start_byte < doc.byte_at(target.start) or span.end_byte > doc.byte_at(target.end):
            return span.header.split("\n", 1)[0].strip()[:120]
    return ""
