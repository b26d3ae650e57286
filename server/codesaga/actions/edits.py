"""Edits built from a model's code: re-indented, trimmed to what changed, checked to parse.

Offsets are ``str`` indices into the document text the action planned on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from codesaga.actions.data import ActionRefused
from codesaga.actions.guard import introduced
from codesaga.actions.messages import Lang, say
from codesaga.answers import code_candidates
from codesaga.documents import Document
from codesaga.targets import Target, base_indent, indent_code, parse_problem

__all__ = ["DEFINITIONS", "Edit", "code_edit", "in_proportion", "related", "trimmed"]

DEFINITIONS = ("_definition", "_declaration", "_item")
"""Suffixes of tree-sitter node types that define a name (a rewrite keeps the name)."""


@dataclass(frozen=True)
class Edit:
    """Replace ``[start, end)`` (str offsets in the document the action planned on) with
    ``new_text``."""

    start: int
    end: int
    new_text: str


def trimmed(doc: Document, start: int, end: int, new_text: str) -> Edit:
    """The edit of ``[start, end)`` to ``new_text`` without the unchanged whole lines at its
    start and end."""
    old_lines = doc.text[start:end].split("\n")
    new_lines = new_text.split("\n")
    head = 0
    while head < min(len(old_lines), len(new_lines)) - 1 and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while (
        tail < min(len(old_lines), len(new_lines)) - head - 1
        and old_lines[-1 - tail] == new_lines[-1 - tail]
    ):
        tail += 1
    if head == 0 and tail == 0:
        return Edit(start, end, new_text)
    cut_start = start + sum(len(line) + 1 for line in old_lines[:head])
    cut_end = end - sum(len(line) + 1 for line in old_lines[len(old_lines) - tail :])
    kept = new_lines[head : len(new_lines) - tail]
    return Edit(cut_start, cut_end, "\n".join(kept))


_WORD = re.compile(r"[^\W\d]\w*")


def related(old: str, new: str, name: str = "") -> bool:
    """Whether ``new`` can be a rewrite of ``old``: it still has ``name`` (a definition keeps
    its name) and at least 30 % of ``old``'s distinct identifiers and keywords. Rejects a
    model's answer about other code (a hallucination, or its few-shot example parroted)."""
    new_words = set(_WORD.findall(new))
    if name and name not in new_words:
        return False
    old_words = set(_WORD.findall(old))
    if len(old_words) < 3:
        return True
    return len(old_words & new_words) >= 0.3 * len(old_words)


_DEFINITION_RE = re.compile(
    r"^\s*(?:(?:export|pub|public|private|protected|static|async|default)\s+)*"
    r"(?:def|class|function|fn|func|impl|struct|interface|enum|trait)\b",
    re.MULTILINE,
)


def in_proportion(old: str, new: str) -> bool:
    """Whether ``new`` can be a fix of ``old``: at most 3x its lines plus 3, and no more
    definitions (``def``, ``class``, ``function``, ``fn``, ...) than it had. A fix for one
    statement that brings a whole function along is the model copying its prompt."""
    if new.count("\n") > 3 * old.count("\n") + 3:
        return False
    return len(_DEFINITION_RE.findall(new)) <= len(_DEFINITION_RE.findall(old))


def code_edit(
    doc: Document, target: Target, answer: str, title: str, lang: Lang, *, fix: bool = False
) -> Edit:
    """The edit that puts the model's code in place of ``target``: the first candidate of
    :func:`code_candidates` that, re-indented like the target, differs from it, is
    :func:`related` to it (for a ``fix`` also :func:`in_proportion`), adds no definition
    beside it and no call to a name the file does not have (:func:`introduced`), and leaves
    the document parsing. Raises ActionRefused (no code, no change, unrelated code, an added
    definition or call, or a syntax error)."""
    candidates = code_candidates(answer, doc.grammar)
    if not candidates:
        raise ActionRefused(say("no_code", lang, title=title))
    indent = base_indent(target.text)
    problems: list[str] = []
    added: list[str] = []
    unchanged = unrelated = False
    name = target.name if target.kind.endswith(DEFINITIONS) else ""
    for candidate in candidates:
        new_text = indent_code(candidate, indent)
        if not new_text.strip():
            continue
        if new_text.rstrip() == target.text.rstrip():
            unchanged = True
            continue
        if not related(target.text, new_text, name) or (
            fix and not in_proportion(target.text, new_text)
        ):
            unrelated = True
            continue
        problem = parse_problem(doc, target.start, target.end, new_text)
        if problem is not None:
            problems.append(problem)
            continue
        extra = introduced(doc, target.start, target.end, new_text)
        if extra is None:
            return trimmed(doc, target.start, target.end, new_text)
        added.append(extra)
    if added:
        raise ActionRefused(say("introduces", lang, title=title, what=added[0]))
    if problems:
        raise ActionRefused(say("no_parse", lang, title=title, where=problems[0]))
    if unchanged:
        raise ActionRefused(say("no_change", lang, title=title))
    if unrelated:
        raise ActionRefused(say("unrelated", lang, title=title))
    raise ActionRefused(say("no_code", lang, title=title))
