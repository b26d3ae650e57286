"""Prompt files under ``prompts/``, each validated by the pydantic model of its shape, and
rendered with Jinja2.

Shapes (one model each; a missing or mistyped field raises PromptError naming the file and
the field, e.g. ``chat.yaml: system.ko: Field required``):

* ``fim/*.yaml`` (:class:`FimPrompt`, one per FIM family): ``name``, ``description``,
  ``tokens`` (the FIM token texts that identify the family in a model's vocabulary),
  ``architectures`` (GGUF ``general.architecture`` values the family is limited to),
  ``stop`` (stop strings) and ``template``;
* ``chat.yaml`` (:class:`ChatPrompt`): the fallback chat format (``stop``, ``template``) and
  the chat texts per language (``system``, ``user_with_code``, ``empty_answer``);
* ``actions/<action>.yaml`` (:class:`ActionPrompt`): ``name``, ``max_tokens``, ``system``
  and ``user`` per language, few-shot ``examples`` per language;
* ``messages.yaml`` and ``actions/messages.yaml`` (:class:`Messages`): message catalogues,
  each key with its ``en`` and ``ko`` text (:func:`message` fills their ``{placeholders}``).

Templates are Jinja2, rendered with ``StrictUndefined`` so a missing variable is an error,
not an empty string; each is compiled when its file is validated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, TypeVar

import jinja2
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, ValidationError

from codesaga.errors import CodeSagaError
from codesaga.resources import prompts_dir
from codesaga.validation import describe

PREFIX_ONLY = "none"
"""Name of the prefix-only family, for models without FIM tokens."""
MESSAGES_FILE = "actions/messages.yaml"
"""Texts of the code actions' messages (:class:`Messages`)."""
SERVER_MESSAGES_FILE = "messages.yaml"
"""Texts of the server's other messages: progress, model load, settings (:class:`Messages`)."""
MESSAGE_FILES = (SERVER_MESSAGES_FILE, MESSAGES_FILE)
"""Every message catalogue under ``prompts/``."""

_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
)
M = TypeVar("M", bound=BaseModel)


class PromptError(CodeSagaError):
    """A template file is missing, malformed, or needs a variable that was not given."""


@cache
def _compile(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def _compiles(source: str) -> str:
    """``source`` if it is a valid Jinja2 template (ValueError with the syntax error else)."""
    try:
        _compile(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"template error on line {exc.lineno}: {exc.message}") from None
    return source


Template = Annotated[str, AfterValidator(_compiles)]
"""A Jinja2 template string, compiled when validated."""


class PromptFile(BaseModel):
    """Base of the file shapes: strict types, unknown keys rejected (a typo is an error)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Localized(PromptFile):
    """A text in each response language."""

    en: str
    ko: str

    def text(self, language: Literal["en", "ko"]) -> str:
        """The text in ``language``."""
        return self.ko if language == "ko" else self.en


class LocalizedTemplate(Localized):
    """A Jinja2 template in each response language."""

    en: Template
    ko: Template


class FimPrompt(PromptFile):
    """``prompts/fim/<family>.yaml``."""

    name: str
    description: str = ""
    tokens: list[str] = []
    architectures: list[str] = []
    stop: list[str] = []
    template: Template


class ChatPrompt(PromptFile):
    """``prompts/chat.yaml``: the fallback chat format (for models without a chat template)
    and the chat's texts; ``user_with_code`` variables are listed in the file."""

    name: str
    stop: list[str] = []
    template: Template
    system: Localized
    user_with_code: LocalizedTemplate
    empty_answer: Localized


class Example(PromptFile):
    """One few-shot exchange: the ``user`` template's variables and the answer."""

    vars: dict[str, Any]
    answer: str


class ActionPrompt(PromptFile):
    """``prompts/actions/<action>.yaml``; ``max_tokens`` is in model tokens."""

    name: str
    max_tokens: int = Field(256, ge=1)
    system: LocalizedTemplate
    user: LocalizedTemplate
    examples: dict[Literal["en", "ko"], list[Example]] = {}


class Messages(RootModel[dict[str, Localized]]):
    """``prompts/actions/messages.yaml``: each message key with its ``en`` and ``ko`` text."""


def shape_of(relative: str) -> type[BaseModel] | None:
    """The model a file under ``prompts/`` must match (None: any mapping)."""
    if relative == "chat.yaml":
        return ChatPrompt
    if relative.startswith("fim/"):
        return FimPrompt
    if relative in MESSAGE_FILES:
        return Messages
    if relative.startswith("actions/"):
        return ActionPrompt
    return None


def _read(relative: str) -> dict[str, Any]:
    path = prompts_dir() / relative
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PromptError(f"{relative}: {exc}") from exc
    if not isinstance(data, dict):
        raise PromptError(f"{relative}: expected a mapping at the top level")
    return data


def _validated(relative: str, data: dict[str, Any], shape: type[M]) -> M:
    try:
        return shape.model_validate(data)
    except ValidationError as exc:
        raise PromptError(f"{relative}: {describe(exc)}") from None


@cache
def load(relative: str, shape: type[M]) -> M:
    """``prompts/<relative>`` validated as ``shape``. Raises PromptError (naming the file and
    the field) when it is missing, is not YAML or does not match."""
    return _validated(relative, _read(relative), shape)


@cache
def prompt_file(relative: str) -> dict[str, Any]:
    """The parsed YAML file ``prompts/<relative>``, checked against its shape (see
    :func:`shape_of`). Raises PromptError when missing, malformed or not of its shape."""
    data = _read(relative)
    shape = shape_of(relative)
    if shape is not None:
        _validated(relative, data, shape)
    return data


def message(relative: str, key: str, language: Literal["en", "ko"], **values: object) -> str:
    """The text of ``key`` in ``language`` from the catalogue ``prompts/<relative>`` (a
    :class:`Messages` file), its ``{placeholders}`` filled from ``values`` with
    ``str.format``. Raises PromptError when the file or the key is missing or a placeholder
    has no value."""
    entry = load(relative, Messages).root.get(key)
    if entry is None:
        raise PromptError(f"{relative}: no message {key!r}")
    try:
        return entry.text(language).format(**values)
    except (KeyError, IndexError) as exc:
        raise PromptError(f"{relative}: {key}.{language} needs {exc}") from None


@dataclass(frozen=True)
class RepoFile:
    """Code from another file of the repository, as the prompt shows it: ``path`` relative to
    the workspace root (POSIX separators), ``text`` without a final newline."""

    path: str
    text: str


@dataclass(frozen=True)
class RepoPrompt:
    """The repository context of one prompt: the other files' code (in a stable order: it
    heads the prompt, where llama.cpp reuses the longest unchanged token prefix), the current
    file's ``path`` and the repository's name, and the line-comment marker of the current
    file's language for templates without a repository format."""

    files: tuple[RepoFile, ...] = ()
    path: str = ""
    repo_name: str = ""
    comment: str = "#"

    def as_comments(self) -> str:
        """The files as line comments, each headed by its path (``# Path: pkg/a.py``), the
        current file's path last; "" without files."""
        if not self.files:
            return ""
        c = self.comment
        lines: list[str] = []
        for file in self.files:
            lines.append(f"{c} Path: {file.path}")
            lines.extend(f"{c} {line}".rstrip() for line in file.text.splitlines())
            lines.append(c)
        lines.append(f"{c} Path: {self.path}")
        return "\n".join(lines) + "\n"


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

    def render(
        self,
        *,
        prefix: str,
        suffix: str,
        context: str,
        repo: RepoPrompt | None = None,
    ) -> str:
        """The prompt text. ``context`` is the code kept from outside the prefix window;
        ``repo`` the repository context (code from other files), which templates place first:
        as ``files`` (``path``/``text`` items), ``path`` and ``repo_name`` in a family's own
        repository format, else as ``repo``, the same files written as comments."""
        repo = repo or RepoPrompt()
        try:
            return _compile(self.source).render(
                prefix=prefix,
                suffix=suffix,
                context=context,
                files=repo.files,
                path=repo.path,
                repo_name=repo.repo_name,
                repo=repo.as_comments(),
            )
        except jinja2.TemplateError as exc:
            raise PromptError(f"template {self.name!r}: {exc}") from exc


@cache
def fim_templates() -> dict[str, FimTemplate]:
    """All FIM templates by name, in detection order (real FIM families first, prefix-only last).

    Raises PromptError when a file is malformed.
    """
    found: dict[str, FimTemplate] = {}
    for path in sorted((prompts_dir() / "fim").glob("*.yaml")):
        spec = load(f"fim/{path.name}", FimPrompt)
        found[spec.name] = FimTemplate(
            name=spec.name,
            description=spec.description,
            tokens=tuple(spec.tokens),
            architectures=tuple(spec.architectures),
            stop=tuple(spec.stop),
            source=spec.template,
        )
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
            values = {"family": override, "known": ", ".join(templates)}
            raise PromptError(
                message(SERVER_MESSAGES_FILE, "engine.unknown_family", "en", **values),
                ko=message(SERVER_MESSAGES_FILE, "engine.unknown_family", "ko", **values),
            )
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


def chat_prompts() -> ChatPrompt:
    """``prompts/chat.yaml`` (PromptError when missing or malformed)."""
    return load("chat.yaml", ChatPrompt)


@dataclass(frozen=True)
class ChatFallback:
    """The chat format for models without a chat template (from ``prompts/chat.yaml``)."""

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
    """The fallback chat format (PromptError when ``prompts/chat.yaml`` is missing or
    malformed)."""
    spec = chat_prompts()
    return ChatFallback(stop=tuple(spec.stop), source=spec.template)


def render(source: str, **variables: Any) -> str:
    """Render a Jinja2 template string with StrictUndefined (PromptError on any error)."""
    try:
        return _compile(source).render(**variables)
    except jinja2.TemplateError as exc:
        raise PromptError(str(exc)) from exc
