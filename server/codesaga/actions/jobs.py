"""The model call an action plans: its prompt messages, token budget and early-stop test.

Each action's prompt is ``prompts/actions/<id>.yaml``: ``system`` and ``user`` (Jinja2) in
``en`` and ``ko``, optional few-shot ``examples`` per language and ``max_tokens`` (the most
tokens its answer may take). Token counts are model tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codesaga.actions.data import ActionId, ActionRefused
from codesaga.actions.messages import Lang, action_title, say
from codesaga.docstrings import DocTarget
from codesaga.documents import Document
from codesaga.engine import ChatMessage
from codesaga.prompts import PromptError, prompt_file, render
from codesaga.repo.workspace import Definitions
from codesaga.targets import Target, indent_code

__all__ = [
    "LANGUAGE_NAMES",
    "MIN_ANSWER_TOKENS",
    "Job",
    "Planner",
    "base_variables",
    "build_messages",
    "dedented",
    "example_answers",
    "language_of",
    "max_answer_tokens",
]

MIN_ANSWER_TOKENS = 24
"""An answer budget below twice this (or below what was wanted) refuses the action."""
MESSAGE_TOKENS = 6
"""Tokens a chat template adds around each message (an estimate)."""
PROMPT_TOKENS = 4
"""Tokens a chat template adds around the whole prompt (an estimate)."""
SAFETY_TOKENS = 16
"""Tokens of the context window left unused, for estimation errors."""
LANGUAGE_NAMES = {
    "python": "Python",
    "javascript": "JavaScript",
    "typescript": "TypeScript",
    "tsx": "TypeScript (TSX)",
    "rust": "Rust",
    "go": "Go",
    "java": "Java",
    "c": "C",
    "cpp": "C++",
}


@dataclass(frozen=True)
class Planner:
    """What planning needs besides the document: the user's language, the model's token
    counter and context window (tokens), and the ``styleGuide`` setting (a path or ``""``)."""

    lang: Lang
    count_tokens: Callable[[str], int]
    n_ctx: int
    style_guide: str = ""
    definitions: Definitions | None = None
    """Signatures, from other files of the repository, of what str offsets ``start..end``
    of a document use (None: no repository context)."""

    def definitions_for(self, doc: Document, start: int, end: int) -> list[dict[str, str]]:
        """The ``definitions`` prompt variable: ``{"path", "text"}`` items, or ``[]``."""
        if self.definitions is None:
            return []
        return [{"path": f.path, "text": f.text} for f in self.definitions(doc, start, end)]


@dataclass
class Job:
    """One model call for an action: the messages, the token budget (``max_tokens``), an
    early-stop test on the text so far, and what the answer will be applied to."""

    action: ActionId
    lang: Lang
    messages: list[ChatMessage]
    max_tokens: int
    target: Target
    should_stop: Callable[[str], bool] | None = None
    doc_target: DocTarget | None = None
    prompt_tokens: int = 0
    examples: list[str] = field(default_factory=list)
    """The prompt's few-shot answers (an answer that parrots them is no answer)."""
    truncated: bool = False
    """Set by the caller when the answer stopped at ``max_tokens`` (its last line is cut)."""
    notes: list[str] = field(default_factory=list)
    """Messages for the user gathered while planning (an unreadable style guide)."""

    @property
    def title(self) -> str:
        """The action's name for messages."""
        return action_title(self.action, self.lang)

    @property
    def question(self) -> str:
        """The last user turn (answers that echo it are cleaned with it)."""
        return self.messages[-1]["content"]

    @classmethod
    def fitted(
        cls,
        action: ActionId,
        planner: Planner,
        messages: list[ChatMessage],
        target: Target,
        *,
        wanted: int | None = None,
        should_stop: Callable[[str], bool] | None = None,
        doc_target: DocTarget | None = None,
        notes: list[str] | None = None,
    ) -> Job:
        """The job for ``messages``, its answer budget ``wanted`` tokens (default: the
        YAML's ``max_tokens``) or what the context window leaves. Raises ActionRefused
        ("too large") when that leaves too little, PromptError for a broken ``max_tokens``."""
        count = planner.count_tokens
        prompt_tokens = sum(count(m["content"]) + MESSAGE_TOKENS for m in messages) + PROMPT_TOKENS
        wanted = max_answer_tokens(action) if wanted is None else wanted
        budget = min(wanted, planner.n_ctx - prompt_tokens - SAFETY_TOKENS)
        if budget < min(wanted, MIN_ANSWER_TOKENS * 2):
            raise ActionRefused(
                say(
                    "too_large",
                    planner.lang,
                    title=action_title(action, planner.lang),
                    tokens=prompt_tokens + wanted,
                    n_ctx=planner.n_ctx,
                )
            )
        return cls(
            action=action,
            lang=planner.lang,
            messages=messages,
            max_tokens=budget,
            target=target,
            prompt_tokens=prompt_tokens,
            should_stop=should_stop,
            doc_target=doc_target,
            examples=example_answers(action, planner.lang),
            notes=notes or [],
        )


def build_messages(action: str, lang: Lang, variables: dict[str, Any]) -> list[ChatMessage]:
    """The chat messages for ``action`` from ``prompts/actions/<action>.yaml``: the system
    prompt and few-shot examples in ``lang``, then the user turn rendered with ``variables``.
    Raises PromptError when the file or a variable is missing."""
    spec = prompt_file(f"actions/{action}.yaml")
    try:
        system = spec["system"][lang]
        user = spec["user"][lang]
        examples = (spec.get("examples") or {}).get(lang) or []
    except (KeyError, TypeError) as exc:
        raise PromptError(f"actions/{action}.yaml: missing {exc} for {lang!r}") from exc
    messages: list[ChatMessage] = [{"role": "system", "content": render(system).strip()}]
    for example in examples:
        messages.append({"role": "user", "content": render(user, **example["vars"]).strip()})
        messages.append({"role": "assistant", "content": str(example["answer"]).strip()})
    messages.append({"role": "user", "content": render(user, **variables).strip()})
    return messages


def example_answers(action: str, lang: Lang) -> list[str]:
    """The few-shot answers of ``action``'s prompt in ``lang`` (to spot an answer that merely
    parrots them)."""
    spec = prompt_file(f"actions/{action}.yaml")
    examples = (spec.get("examples") or {}).get(lang) or []
    return [str(example["answer"]) for example in examples if "answer" in example]


def max_answer_tokens(action: str) -> int:
    """The YAML's ``max_tokens`` for ``action`` (256 when unset; PromptError when broken)."""
    try:
        return int(prompt_file(f"actions/{action}.yaml").get("max_tokens", 256))
    except (TypeError, ValueError) as exc:
        raise PromptError(f"actions/{action}.yaml: max_tokens: {exc}") from exc


def language_of(doc: Document) -> tuple[str, str]:
    """(display name, code fence tag) of the document's language."""
    if doc.grammar:
        return LANGUAGE_NAMES.get(doc.grammar, doc.grammar), doc.grammar
    return doc.language_id or "text", doc.language_id or ""


def base_variables(doc: Document) -> dict[str, Any]:
    """The variables every action prompt gets: ``language`` and ``fence``."""
    language, fence = language_of(doc)
    return {"language": language, "fence": fence}


def dedented(text: str) -> str:
    """``text`` with its common indentation removed (the model sees code at column 0)."""
    return indent_code(text, "")
