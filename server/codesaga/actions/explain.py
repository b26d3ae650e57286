"""Explain (``source.codesaga.explain``): the model explains the selection or the enclosing
function in Markdown, which is written to a file under the cache directory and shown."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from codesaga.actions.base import OfferRequest
from codesaga.actions.data import ActionData, ActionRefused, Offer
from codesaga.actions.jobs import (
    Job,
    Planner,
    base_variables,
    build_messages,
    dedented,
    language_of,
)
from codesaga.actions.messages import action_title, say
from codesaga.answers import markdown_text, repetitive
from codesaga.documents import Document
from codesaga.files import inside, private_dirs, write_private
from codesaga.syntax.scopes import import_spans
from codesaga.syntax.tags import call_names
from codesaga.targets import Target, code_target

__all__ = ["finish", "offer", "plan", "write_explanation"]

MAX_IMPORTS = 12
"""Import statements shown in the prompt."""
_SAFE_NAME = re.compile(r"[^\w.-]+")


def offer(request: OfferRequest) -> list[Offer]:
    """ "Explain `name`" (or the selection) where there is code at the selection."""
    return request.offer_on_code("explain")


def plan(doc: Document, data: ActionData, planner: Planner) -> Job:
    """The prompt: the code, the names it calls and the file's imports; the answer stops
    when it starts repeating itself. Raises ActionRefused when there is no code here."""
    target = code_target(doc, data.span)
    if target is None:
        title = action_title("explain", planner.lang)
        raise ActionRefused(say("no_target", planner.lang, title=title))
    imports = import_spans(doc.tree, doc.grammar) if doc.tree and doc.grammar else []
    variables = {
        **base_variables(doc),
        "name": target.name,
        "code": dedented(target.text),
        "calls": _calls(doc, target),
        "imports": [span.header for span in imports[:MAX_IMPORTS]],
        "definitions": planner.definitions_for(doc, target.start, target.end),
    }
    messages = build_messages("explain", planner.lang, variables)
    return Job.fitted("explain", planner, messages, target, should_stop=repetitive)


def finish(doc: Document, job: Job, answer: str) -> str:
    """The explanation's Markdown; raises ActionRefused when the model gave none."""
    text = markdown_text(answer, job.question, job.examples)
    if not text.strip():
        raise ActionRefused(say("no_explanation", job.lang))
    return text


def write_explanation(cache_dir: Path, doc: Document, job: Job, markdown: str) -> Path:
    """Write the explanation to ``cache_dir/explain/<file>-<name or lines>-<hash>.md`` (a
    title, the model's Markdown, then the code explained; directory 0700, file 0600) and
    return its path. Raises OSError when the directory cannot be written."""
    target = job.target
    stem = _file_stem(doc.uri)
    what = target.name or f"L{target.first_line + 1}-{target.last_line + 1}"
    digest = hashlib.sha1(doc.uri.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    folder = private_dirs(cache_dir / "explain")
    path = inside(folder, f"{stem}-{_SAFE_NAME.sub('_', what)[:40]}-{digest}.md")
    language, fence = language_of(doc)
    heading = f"`{target.name}`" if target.name else f"{stem}:{target.first_line + 1}"
    lines = "줄" if job.lang == "ko" else "lines"
    where = f"{stem}, {lines} {target.first_line + 1}–{target.last_line + 1}"
    code_title = "코드" if job.lang == "ko" else "Code"
    write_private(
        path,
        f"# {heading}\n\n_{where} ({language})_\n\n{markdown.strip()}\n\n"
        f"## {code_title}\n\n```{fence}\n{dedented(target.text)}\n```\n",
    )
    return path


def _file_stem(uri: str) -> str:
    name = _SAFE_NAME.sub("_", uri.rsplit("/", 1)[-1]) or "document"
    return name[:60]


def _calls(doc: Document, target: Target) -> list[str]:
    """Distinct callee names in the target (``json.dumps``, ``self.path.write_text``), from
    the grammar's tags.scm ``@reference.call`` captures (see :func:`call_names`)."""
    if doc.tree is None or doc.grammar is None:
        return []
    return call_names(doc.tree, doc.grammar, doc.byte_at(target.start), doc.byte_at(target.end))
