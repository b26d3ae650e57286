"""Doc comment (``refactor.rewrite``): the model writes only the text; CodeSaga places and
formats it in the language's convention (docstring, JSDoc, Rustdoc, Go doc, Javadoc, ...)."""

from __future__ import annotations

from codesaga.actions.base import OfferRequest
from codesaga.actions.data import ActionData, ActionRefused, Offer
from codesaga.actions.edits import Edit
from codesaga.actions.jobs import Job, Planner, base_variables, build_messages, dedented
from codesaga.actions.messages import Lang, action_title, say
from codesaga.answers import doc_text
from codesaga.docstrings import CONVENTIONS, doc_edit, doc_target
from codesaga.documents import Document
from codesaga.targets import parse_problem

__all__ = ["finish", "offer", "plan"]

_KOREAN_CONVENTIONS = {
    "python": "독스트링",
    "javascript": "JSDoc 주석",
    "typescript": "JSDoc 주석",
    "tsx": "JSDoc 주석",
    "rust": "Rustdoc 주석",
    "go": "Go 문서 주석",
    "java": "Javadoc 주석",
}


def offer(request: OfferRequest) -> list[Offer]:
    """ "Add docstring to `name`" (or "Rewrite the docstring of ...") where a definition is
    at the selection."""
    if not request.wants("docstring"):
        return []
    documented = doc_target(request.doc, request.selection.start)
    if documented is None:
        return []
    key = "title.docstring.rewrite" if documented.existing else "title.docstring"
    what = f"`{documented.name}`" if documented.name else say("what.code", request.lang)
    convention = _convention(documented.grammar, request.lang)
    return [request.offer(say(key, request.lang, convention=convention, what=what), "docstring")]


def plan(doc: Document, data: ActionData, planner: Planner) -> Job:
    """The prompt asking for the definition's documentation text; it stops at a blank line
    or a code fence. Raises ActionRefused when no definition is at the span."""
    documented = doc_target(doc, data.span.start)
    if documented is None:
        title = action_title("docstring", planner.lang)
        raise ActionRefused(say("no_target", planner.lang, title=title))
    target = documented.definition
    variables = {
        **base_variables(doc),
        "name": documented.name or "this code",
        "convention": CONVENTIONS.get(documented.grammar, "doc comment"),
        "code": dedented(target.text),
    }
    messages = build_messages("docstring", planner.lang, variables)
    return Job.fitted(
        "docstring", planner, messages, target, should_stop=_paragraph_done, doc_target=documented
    )


def finish(doc: Document, job: Job, answer: str) -> Edit:
    """The edit that inserts (or replaces) the doc comment with the answer's text. Raises
    ActionRefused when the answer holds no usable text."""
    assert job.doc_target is not None
    text = doc_text(answer, job.question + "\n" + job.target.text, examples=job.examples)
    if not text:
        raise ActionRefused(say("no_text", job.lang, title=job.title))
    start, end, new_text = doc_edit(job.doc_target, text)
    problem = parse_problem(doc, start, end, new_text)
    if problem is not None:  # cannot happen for well-formed code; be safe
        raise ActionRefused(say("no_parse", job.lang, title=job.title, where=problem))
    return Edit(start, end, new_text)


def _paragraph_done(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and ("\n\n" in stripped or "```" in stripped)


def _convention(grammar: str, lang: Lang) -> str:
    """What the doc comment is called, for titles."""
    if lang == "en":
        return "docstring" if grammar == "python" else CONVENTIONS.get(grammar, "doc comment")
    return _KOREAN_CONVENTIONS.get(grammar, "문서 주석")
