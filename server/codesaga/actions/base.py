"""The interface every action module follows: offer -> plan -> finish.

- ``offer(request) -> list[Offer]``: what to list for a selection and its diagnostics, at once
  (tree-sitter only, never the model);
- ``plan(doc, data, planner) -> Job``: the prompt messages and token budget of the model call;
- ``finish(doc, job, answer)``: the result built from the model's answer (an edit, Markdown,
  findings); an answer that yields nothing usable raises ActionRefused.

``apply`` (a review finding's fix) needs no model: its ``finish`` takes the action data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from codesaga.actions.data import KINDS, ActionData, ActionId, Offer, Problem
from codesaga.actions.jobs import Job, Planner
from codesaga.actions.messages import Lang, say
from codesaga.documents import Document
from codesaga.documents.span import TextSpan
from codesaga.targets import Target, code_target

__all__ = ["Action", "Listed", "OfferRequest"]


@dataclass
class OfferRequest:
    """A ``textDocument/codeAction`` request as the actions see it: the document, the
    selection (or cursor; str offsets into ``doc``), the problems (diagnostics) in its
    context, the user's language, ``only`` (``CodeActionContext.only``: kinds wanted,
    hierarchically) and the ``styleGuide`` setting."""

    doc: Document
    selection: TextSpan
    problems: Sequence[Problem]
    lang: Lang
    only: Sequence[str] | None = None
    style_guide: str = ""

    def wants(self, action: ActionId) -> bool:
        """Whether offers of ``action`` are wanted: ``only`` is unset or names its LSP kind
        or a kind above it (``refactor`` for ``refactor.rewrite``)."""
        kind = KINDS[action]
        if not self.only:
            return True
        return any(kind == o or kind.startswith(o + ".") or not o for o in self.only)

    def offer(
        self,
        title: str,
        action: ActionId,
        span: TextSpan | None = None,
        *,
        fixes: Problem | None = None,
        preferred: bool = False,
        problem: Problem | None = None,
        fix: str | None = None,
        line_text: str | None = None,
    ) -> Offer:
        """An offer of ``action`` (fixing ``fixes``) whose data names this document's version
        and ``span`` (by default the selection); ``problem``, ``fix`` and ``line_text`` go
        into the data (see :class:`ActionData`)."""
        data = ActionData(
            self.doc.uri,
            self.doc.version,
            action,
            span if span is not None else self.selection,
            problem,
            fix,
            line_text,
        )
        return Offer(title, action, KINDS[action], data, fixes, preferred)

    @cached_property
    def target(self) -> Target | None:
        """The code at the selection (selected lines or the enclosing function), if any."""
        return code_target(self.doc, self.selection)

    def offer_on_code(self, action: ActionId) -> list[Offer]:
        """One offer of ``action`` titled ``title.<action>`` with :meth:`what` the code is,
        when there is code at the selection and ``action`` is wanted; else none."""
        target = self.target
        if target is None or not self.wants(action):
            return []
        return [self.offer(say(f"title.{action}", self.lang, what=self.what(target)), action)]

    def what(self, target: Target) -> str:
        """How titles name ``target``: the selection, `name`, or this code."""
        if target.kind == "selection":
            return say("what.selection", self.lang)
        return f"`{target.name}`" if target.name else say("what.code", self.lang)


class Listed(Protocol):
    """An action module: it lists offers."""

    def offer(self, request: OfferRequest) -> list[Offer]:
        """What this action lists for ``request`` (instantly)."""
        ...


class Action(Listed, Protocol):
    """An action module that runs the model (refactor, fix, docstring, explain, review)."""

    def plan(self, doc: Document, data: ActionData, planner: Planner) -> Job:
        """The model call for ``data`` on ``doc`` (the current version)."""
        ...
