"""Refactor (``refactor.rewrite``): the model rewrites the selection or the enclosing
function; the edit replaces it (re-indented, unchanged lines trimmed, checked to parse)."""

from __future__ import annotations

from codesaga.actions.base import OfferRequest
from codesaga.actions.data import ActionData, ActionRefused, Offer
from codesaga.actions.edits import Edit, code_edit
from codesaga.actions.jobs import Job, Planner, base_variables, build_messages, dedented
from codesaga.actions.jobs import max_answer_tokens as cap
from codesaga.actions.messages import action_title, say
from codesaga.answers import has_closed_fence
from codesaga.documents import Document
from codesaga.targets import code_target

__all__ = ["finish", "offer", "plan"]


def offer(request: OfferRequest) -> list[Offer]:
    """ "Refactor `name`" (or the selection) where there is code at the selection."""
    return request.offer_on_code("refactor")


def plan(doc: Document, data: ActionData, planner: Planner) -> Job:
    """The rewrite prompt; its answer budget is about 1.5x the code's tokens plus 64, capped
    by the YAML's ``max_tokens``. Raises ActionRefused (no code here, too large)."""
    target = code_target(doc, data.span)
    if target is None:
        raise ActionRefused(
            say("no_target", planner.lang, title=action_title("refactor", planner.lang))
        )
    variables = {**base_variables(doc), "name": target.name, "code": dedented(target.text)}
    messages = build_messages("refactor", planner.lang, variables)
    wanted = min(cap("refactor"), planner.count_tokens(target.text) * 3 // 2 + 64)
    return Job.fitted(
        "refactor", planner, messages, target, wanted=wanted, should_stop=has_closed_fence
    )


def finish(doc: Document, job: Job, answer: str) -> Edit:
    """The edit that puts the answer's code in place of the target (ActionRefused when the
    answer has no usable code)."""
    return code_edit(doc, job.target, answer, job.title, job.lang)
