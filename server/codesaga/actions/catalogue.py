"""The catalogue: which actions a request lists (and in what order), and which module plans
and finishes each listed action.

Listing only looks at the syntax tree, never the model. Quickfixes come first: one ``apply``
per review problem that carries a fix and whose line is unchanged, then one ``fix`` per
problem (at most ``fix.MAX_FIX_OFFERS``); then refactor, docstring, explain and review.
"""

from __future__ import annotations

from collections.abc import Sequence

from codesaga.actions import apply, docstring, explain, fix, refactor, review
from codesaga.actions.base import Action, Listed, OfferRequest
from codesaga.actions.data import ActionData, ActionRefused, Offer, Problem
from codesaga.actions.edits import Edit
from codesaga.actions.jobs import Job, Planner
from codesaga.actions.messages import Lang, action_title, say
from codesaga.documents import Document
from codesaga.documents.span import TextSpan

__all__ = ["MODEL_ACTIONS", "finish_edit", "list_actions", "plan"]

MODEL_ACTIONS: dict[str, Action] = {
    "refactor": refactor,
    "fix": fix,
    "docstring": docstring,
    "explain": explain,
    "review": review,
}
"""The actions that run the model, by id."""
_LISTED: tuple[Listed, ...] = (apply, fix, refactor, docstring, explain, review)


def list_actions(
    doc: Document,
    selection: TextSpan,
    problems: Sequence[Problem],
    lang: Lang,
    *,
    only: Sequence[str] | None = None,
    style_guide: str = "",
) -> list[Offer]:
    """The actions available at ``selection`` (str offsets) of ``doc``, instantly
    (tree-sitter only). ``only`` filters by kind (hierarchically, as
    ``CodeActionContext.only``). Offsets outside the document raise PositionError."""
    request = OfferRequest(doc, selection, problems, lang, only, style_guide)
    return [offer for action in _LISTED for offer in action.offer(request)]


def plan(doc: Document, data: ActionData, planner: Planner) -> Job:
    """The model call for ``data`` on ``doc`` (the current version). Raises ActionRefused
    when there is no target (``apply`` never needs the model) or the prompt does not fit,
    PromptError for a broken template, and PositionError for a span outside the document."""
    action = MODEL_ACTIONS.get(data.action)
    if action is None:
        title = action_title(data.action, planner.lang)
        raise ActionRefused(say("no_target", planner.lang, title=title))
    return action.plan(doc, data, planner)


def finish_edit(doc: Document, job: Job, answer: str) -> Edit:
    """The edit for a refactor, fix or docstring ``job`` from the model's ``answer`` (on the
    ``doc`` the job was planned on). Raises ActionRefused when the answer is unusable."""
    if job.action == "docstring":
        return docstring.finish(doc, job, answer)
    if job.action == "fix":
        return fix.finish(doc, job, answer)
    return refactor.finish(doc, job, answer)
