"""Prompt templates: ``prompts/fim/*.yaml`` (one per FIM family), rendered with Jinja2.

Each YAML file holds ``name``, ``description``, ``tokens`` (the FIM token texts that identify
the family in a model's vocabulary), optional ``architectures`` (GGUF ``general.architecture``
values the family is limited to), ``stop`` (stop strings) and ``template`` (Jinja2, rendered
with ``StrictUndefined`` so a missing variable is an error, not an empty string).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
import yaml

from codesaga.errors import CodeSagaError
from codesaga.resources import prompts_dir

PREFIX_ONLY = "none"
"""Name of the prefix-only family, for models without FIM tokens."""

_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
)


class PromptError(CodeSagaError):
    """A template file is missing, malformed, or needs a variable that was not given."""


@dataclass(frozen=True)
class FimTemplate:
    """One FIM family's prompt format."""

    name: str
    description: str
    tokens: tuple[str, ...]
    architectures: tuple[str, ...]
    stop: tuple[str, ...]
    source: str

    @property
    def uses_suffix(self) -> bool:
        """True when the suffix goes into the prompt (a real FIM family)."""
        return bool(self.tokens)

    def render(self, *, prefix: str, suffix: str, context: str) -> str:
        """The prompt text. ``context`` is the code kept from outside the prefix window."""
        try:
            return _compile(self.source).render(prefix=prefix, suffix=suffix, context=context)
        except jinja2.TemplateError as exc:
            raise PromptError(f"template {self.name!r}: {exc}") from exc


@cache
def _compile(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


@cache
def fim_templates() -> dict[str, FimTemplate]:
    """All FIM templates by name, in detection order (real FIM families first, prefix-only last).

    Raises PromptError when a file is malformed.
    """
    found: dict[str, FimTemplate] = {}
    for path in sorted((prompts_dir() / "fim").glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            tpl = FimTemplate(
                name=str(data["name"]),
                description=str(data.get("description", "")),
                tokens=tuple(data.get("tokens") or ()),
                architectures=tuple(data.get("architectures") or ()),
                stop=tuple(data.get("stop") or ()),
                source=str(data["template"]),
            )
            _compile(tpl.source)
        except (OSError, yaml.YAMLError, KeyError, TypeError, jinja2.TemplateError) as exc:
            raise PromptError(f"{path.name}: {exc}") from exc
        found[tpl.name] = tpl
    if PREFIX_ONLY not in found:
        raise PromptError("prompts/fim/none.yaml (the prefix-only template) is missing")
    # Families with more identifying tokens are more specific: try them first.
    ordered = sorted(found.values(), key=lambda t: (-len(t.tokens), -len(t.architectures)))
    return {t.name: t for t in ordered}


def detect_family(
    is_single_token: Callable[[str], bool],
    architecture: str,
    override: str = "auto",
) -> FimTemplate:
    """Pick the FIM template for a model from its own vocabulary and GGUF metadata.

    ``is_single_token(text)`` must say whether ``text`` is one special token of the model's
    vocabulary; ``architecture`` is the GGUF ``general.architecture`` value. A family matches
    when all its tokens are single tokens and, if it names architectures, the model's is one of
    them. ``override`` (the ``fimFamily`` setting) other than ``auto`` wins; an unknown name
    raises PromptError. No match gives the prefix-only template.
    """
    templates = fim_templates()
    if override != "auto":
        if override not in templates:
            raise PromptError(f"unknown fimFamily {override!r}; known: {', '.join(templates)}")
        return templates[override]
    for tpl in templates.values():
        if not tpl.tokens:
            continue
        if tpl.architectures and architecture not in tpl.architectures:
            continue
        if all(is_single_token(tok) for tok in tpl.tokens):
            return tpl
    return templates[PREFIX_ONLY]


def stop_strings(tpl: FimTemplate, extra: Sequence[str] = ()) -> list[str]:
    """The template's stop strings plus ``extra`` (e.g. ``"\\n"`` for single-line mode)."""
    return [*tpl.stop, *extra]


@dataclass(frozen=True)
class ChatFallback:
    """``prompts/chat.yaml``: the chat format for models without a chat template."""

    stop: tuple[str, ...]
    source: str

    def render(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The prompt for ``messages`` (dicts with ``role`` and ``content``)."""
        try:
            return _compile(self.source).render(messages=list(messages))
        except jinja2.TemplateError as exc:
            raise PromptError(f"chat.yaml: {exc}") from exc


@cache
def chat_fallback() -> ChatFallback:
    """Load ``prompts/chat.yaml`` (PromptError when missing or malformed)."""
    path = prompts_dir() / "chat.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        fallback = ChatFallback(stop=tuple(data.get("stop") or ()), source=str(data["template"]))
        _compile(fallback.source)
    except (OSError, yaml.YAMLError, KeyError, TypeError, jinja2.TemplateError) as exc:
        raise PromptError(f"chat.yaml: {exc}") from exc
    return fallback


@cache
def prompt_file(relative: str) -> dict[str, Any]:
    """The parsed YAML file ``prompts/<relative>`` (PromptError when missing or malformed)."""
    path = prompts_dir() / relative
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PromptError(f"{relative}: {exc}") from exc
    if not isinstance(data, dict):
        raise PromptError(f"{relative}: expected a mapping at the top level")
    return data


def render(source: str, **variables: Any) -> str:
    """Render a Jinja2 template string with StrictUndefined (PromptError on any error)."""
    try:
        return _compile(source).render(**variables)
    except jinja2.TemplateError as exc:
        raise PromptError(str(exc)) from exc
