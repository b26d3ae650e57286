"""Code actions without the protocol: the catalogue, prompts, and the edits built from answers.

Five actions, each with a prompt in ``prompts/actions/<id>.yaml`` (Korean and English):

========== ================================ ==============================================
id         LSP kind                         result
========== ================================ ==============================================
refactor   ``refactor.rewrite``             edit: the selection or enclosing function
fix        ``quickfix``                     edit: smallest statement around a diagnostic
docstring  ``refactor.rewrite``             edit: a doc comment in the language's style
explain    ``source.codesaga.explain``      Markdown file + ``window/showDocument``
review     ``source.codesaga.review``       diagnostics (source ``codesaga``)
apply      ``quickfix``                     edit: a review finding's one-line fix (no model)
========== ================================ ==============================================

Explain and review change no code, so they are neither ``refactor`` nor ``quickfix``; the
``source.codesaga.*`` kinds keep them out of "fix all" and refactor menus while clients can
still ask for them with ``context.only = ["source"]``.

Listing (:func:`list_actions`) only looks at the syntax tree: it never touches the model.
Each offer carries :class:`ActionData` (uri, version, action id, request range, diagnostic);
the model runs later, in ``codeAction/resolve`` or a command, through :func:`plan` (the
prompt and token budget) and ``finish_*`` (the edit or text built from the answer). An
answer that yields nothing usable raises :class:`ActionRefused` with a message for the
user; an action whose document version changed is refused (:func:`stale_message`).

Offsets are ``str`` indices into the document text; token counts are model tokens.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lsprotocol.converters import get_converter
from lsprotocol.types import Diagnostic, Range

from codesaga.answers import (
    Finding,
    code_candidates,
    doc_text,
    findings_done,
    has_closed_fence,
    looks_like_none,
    markdown_text,
    parse_findings,
    repetitive,
    useless_findings,
)
from codesaga.docstrings import CONVENTIONS, DocTarget, doc_edit, doc_target
from codesaga.documents import Document
from codesaga.engine import ChatMessage
from codesaga.errors import CodeSagaError, InvalidParams
from codesaga.prompts import PromptError, prompt_file, render
from codesaga.review import diagnostic_fix, load_style_guide, numbered
from codesaga.settings import Settings
from codesaga.syntax.scopes import enclosing_scopes, import_spans
from codesaga.targets import (
    Target,
    base_indent,
    code_target,
    fix_target,
    indent_code,
    line_target,
    parse_problem,
)

__all__ = [
    "ACTION_IDS",
    "CODE_ACTION_KINDS",
    "EXPLAIN_COMMAND",
    "KINDS",
    "REVIEW_COMMAND",
    "RUN_COMMAND",
    "ActionData",
    "ActionError",
    "ActionRefused",
    "Edit",
    "Job",
    "Offer",
    "action_title",
    "apply_edit",
    "build_messages",
    "check_range",
    "code_edit",
    "in_proportion",
    "related",
    "finish_edit",
    "finish_explain",
    "finish_review",
    "list_actions",
    "plan",
    "prompt_language",
    "say",
    "stale_message",
    "write_explanation",
]

Lang = Literal["ko", "en"]
ActionId = Literal["refactor", "fix", "explain", "docstring", "review", "apply"]
ACTION_IDS: tuple[ActionId, ...] = ("refactor", "fix", "explain", "docstring", "review", "apply")
KINDS: dict[str, str] = {
    "refactor": "refactor.rewrite",
    "fix": "quickfix",
    "apply": "quickfix",
    "docstring": "refactor.rewrite",
    "explain": "source.codesaga.explain",
    "review": "source.codesaga.review",
}
"""The LSP ``CodeActionKind`` of each action."""
CODE_ACTION_KINDS = [
    "quickfix",
    "refactor.rewrite",
    "source.codesaga.explain",
    "source.codesaga.review",
]
"""The kinds announced in ``CodeActionOptions``."""
RUN_COMMAND = "codesaga.runAction"
"""Runs an edit action for clients without ``codeAction/resolve``; sends workspace/applyEdit."""
EXPLAIN_COMMAND = "codesaga.explain"
REVIEW_COMMAND = "codesaga.review"
MAX_FIX_OFFERS = 5
"""Quickfixes offered per request (one per diagnostic in the request's context)."""
MIN_ANSWER_TOKENS = 24
_DATA_TAG = "codesaga"

_CONVERTER = get_converter()

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
_CALL_NODES = {"call", "call_expression", "method_invocation", "macro_invocation", "new_expression"}


# ----- language and messages -----------------------------------------------------------------


def prompt_language(settings: Settings, locale: str | None) -> Lang:
    """The language of everything the model writes for the user and of CodeSaga's messages:
    the ``language`` setting, or with ``auto`` the client's locale (``ko*`` -> Korean)."""
    return settings.response_language(locale)


_TEXT: dict[str, dict[Lang, str]] = {
    "what.selection": {"en": "the selection", "ko": "선택 영역"},
    "what.file": {"en": "this file", "ko": "이 파일"},
    "what.code": {"en": "this code", "ko": "이 코드"},
    "title.refactor": {"en": "CodeSaga: Refactor {what}", "ko": "CodeSaga: {what} 리팩터링"},
    "title.fix": {"en": "CodeSaga: Fix “{message}”", "ko": "CodeSaga: “{message}” 고치기"},
    "title.explain": {"en": "CodeSaga: Explain {what}", "ko": "CodeSaga: {what} 설명"},
    "title.docstring": {
        "en": "CodeSaga: Add {convention} to {what}",
        "ko": "CodeSaga: {what}에 {convention} 추가",
    },
    "title.docstring.rewrite": {
        "en": "CodeSaga: Rewrite the {convention} of {what}",
        "ko": "CodeSaga: {what}의 {convention} 다시 쓰기",
    },
    "title.review": {"en": "CodeSaga: Review {what}{guide}", "ko": "CodeSaga: {what} 리뷰{guide}"},
    "title.review.guide": {"en": " against {guide}", "ko": " ({guide} 기준)"},
    "title.apply": {
        "en": "CodeSaga: Apply suggestion: {fix}",
        "ko": "CodeSaga: 제안 적용: {fix}",
    },
    "stale": {
        "en": "CodeSaga: {title} was not applied: the document changed since the action was "
        "offered (version {old}, now {new}). Run it again.",
        "ko": "CodeSaga: {title} 적용 안 함: 작업을 제안한 뒤 문서가 바뀌었습니다 "
        "(버전 {old} → {new}). 다시 실행하세요.",
    },
    "changed": {
        "en": "CodeSaga: {title} was not applied: the document changed while the model was "
        "working (version {old}, now {new}). Run it again.",
        "ko": "CodeSaga: {title} 적용 안 함: 모델이 작업하는 동안 문서가 바뀌었습니다 "
        "(버전 {old} → {new}). 다시 실행하세요.",
    },
    "no_code": {
        "en": "CodeSaga: {title}: the model's answer held no usable code; nothing was changed.",
        "ko": "CodeSaga: {title}: 모델의 답에 쓸 수 있는 코드가 없어 아무것도 바꾸지 않았습니다.",
    },
    "no_change": {
        "en": "CodeSaga: {title}: the model suggested no change.",
        "ko": "CodeSaga: {title}: 모델이 바꿀 것을 제안하지 않았습니다.",
    },
    "no_parse": {
        "en": "CodeSaga: {title}: the model's code would not parse (syntax error at {where}); "
        "nothing was changed.",
        "ko": "CodeSaga: {title}: 모델이 쓴 코드에 문법 오류가 있어({where}) 아무것도 "
        "바꾸지 않았습니다.",
    },
    "unrelated": {
        "en": "CodeSaga: {title}: the model's code does not look like a rewrite of this code "
        "(other names, or much more code); nothing was changed.",
        "ko": "CodeSaga: {title}: 모델이 쓴 코드가 이 코드를 고쳐 쓴 것으로 보이지 않아(다른 "
        "이름이거나 훨씬 많은 코드) 아무것도 바꾸지 않았습니다.",
    },
    "no_text": {
        "en": "CodeSaga: {title}: the model gave no usable documentation text; nothing was "
        "changed.",
        "ko": "CodeSaga: {title}: 모델이 쓸 수 있는 문서 문장을 주지 않아 아무것도 바꾸지 "
        "않았습니다.",
    },
    "no_target": {
        "en": "CodeSaga: {title}: there is no code to work on here.",
        "ko": "CodeSaga: {title}: 여기에는 작업할 코드가 없습니다.",
    },
    "too_large": {
        "en": "CodeSaga: {title}: the code is too large for the model's context window "
        "({tokens} of {n_ctx} tokens); select a smaller part.",
        "ko": "CodeSaga: {title}: 코드가 모델의 컨텍스트 창보다 큽니다({tokens}/{n_ctx} "
        "토큰). 더 작은 부분을 선택하세요.",
    },
    "no_explanation": {
        "en": "CodeSaga: the model gave no explanation.",
        "ko": "CodeSaga: 모델이 설명을 주지 않았습니다.",
    },
    "review_none": {
        "en": "CodeSaga: the review found nothing to report.",
        "ko": "CodeSaga: 리뷰 결과 보고할 문제가 없습니다.",
    },
    "review_unreadable": {
        "en": "CodeSaga: the review produced no finding in the expected `- line N: problem` "
        "form; no diagnostics were published.",
        "ko": "CodeSaga: 리뷰 답에서 `- line N: 문제` 형식의 결과를 찾지 못해 진단을 "
        "게시하지 않았습니다.",
    },
    "review_done": {
        "en": "CodeSaga: the review published {n} finding(s) as diagnostics.",
        "ko": "CodeSaga: 리뷰 결과 {n}건을 진단으로 게시했습니다.",
    },
    "guide_unreadable": {
        "en": "CodeSaga: the style guide {path} could not be read ({error}); reviewing "
        "against the language's usual conventions.",
        "ko": "CodeSaga: 스타일 가이드 {path}를 읽을 수 없어({error}) 언어의 일반 관례로 "
        "리뷰합니다.",
    },
    "apply_gone": {
        "en": "CodeSaga: the line changed since the review; the suggestion was not applied.",
        "ko": "CodeSaga: 리뷰 뒤 그 줄이 바뀌어 제안을 적용하지 않았습니다.",
    },
    "not_applied": {
        "en": "CodeSaga: the editor did not apply the edit{reason}.",
        "ko": "CodeSaga: 편집기가 변경을 적용하지 않았습니다{reason}.",
    },
    "progress": {"en": "asking the model", "ko": "모델에게 묻는 중"},
    "done": {"en": "done", "ko": "완료"},
}


def say(key: str, lang: Lang, **values: object) -> str:
    """A user-facing message in ``lang`` (``values`` fill its ``{placeholders}``)."""
    return _TEXT[key][lang].format(**values)


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ----- the data each offered action carries ---------------------------------------------------


class ActionError(InvalidParams, ValueError):
    """``CodeAction.data`` or command arguments that are not a CodeSaga action."""


class ActionRefused(CodeSagaError):
    """The action produced no edit; ``str(exc)`` tells the user why (in their language)."""


@dataclass(frozen=True)
class ActionData:
    """What a listed action needs to run later. ``range`` is the request's range (the
    selection or cursor; for ``fix``/``apply`` the diagnostic's); ``version`` the document
    version it was listed for; ``fix``/``line_text`` a review finding's fix and the line it
    replaces (``apply`` only)."""

    uri: str
    version: int
    action: ActionId
    range: Range
    diagnostic: Diagnostic | None = None
    fix: str | None = None
    line_text: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON value stored in ``CodeAction.data`` and command arguments."""
        out: dict[str, Any] = {
            _DATA_TAG: 1,
            "uri": self.uri,
            "version": self.version,
            "action": self.action,
            "range": _CONVERTER.unstructure(self.range),
        }
        if self.diagnostic is not None:
            out["diagnostic"] = _CONVERTER.unstructure(self.diagnostic)
        if self.fix is not None:
            out["fix"] = self.fix
            out["lineText"] = self.line_text
        return out

    @classmethod
    def from_json(cls, value: object) -> ActionData:
        """Parse :meth:`to_json`'s value; raises ActionError when it is not one."""
        if not isinstance(value, dict) or value.get(_DATA_TAG) != 1:
            raise ActionError("not a CodeSaga code action")
        try:
            action = value["action"]
            if action not in ACTION_IDS:
                raise ActionError(f"unknown action {action!r}")
            diagnostic = value.get("diagnostic")
            fix = value.get("fix")
            line_text = value.get("lineText")
            return cls(
                uri=str(value["uri"]),
                version=int(value["version"]),
                action=action,
                range=_CONVERTER.structure(value["range"], Range),
                diagnostic=(_CONVERTER.structure(diagnostic, Diagnostic) if diagnostic else None),
                fix=fix if isinstance(fix, str) else None,
                line_text=line_text if isinstance(line_text, str) else None,
            )
        except ActionError:
            raise
        except Exception as exc:  # KeyError, ValueError, cattrs errors
            raise ActionError(f"malformed CodeSaga action data: {exc}") from exc


def stale_message(
    doc: Document, data: ActionData, lang: Lang, *, during: bool = False
) -> str | None:
    """Why an action listed for ``data.version`` must not edit ``doc`` (a newer version),
    or ``None`` when the versions match."""
    if doc.version == data.version:
        return None
    return say(
        "changed" if during else "stale",
        lang,
        title=action_title(data.action, lang),
        old=data.version,
        new=doc.version,
    )


def action_title(action: str, lang: Lang) -> str:
    """A short name of the action for messages ("Refactor", "리팩터링")."""
    names: dict[str, dict[Lang, str]] = {
        "refactor": {"en": "Refactor", "ko": "리팩터링"},
        "fix": {"en": "Fix", "ko": "고치기"},
        "explain": {"en": "Explain", "ko": "설명"},
        "docstring": {"en": "Doc comment", "ko": "문서 주석"},
        "review": {"en": "Review", "ko": "리뷰"},
        "apply": {"en": "Apply suggestion", "ko": "제안 적용"},
    }
    return names[action][lang]


# ----- listing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """One action to list: title, LSP kind, its data, and the diagnostic it fixes."""

    title: str
    action: ActionId
    kind: str
    data: ActionData
    diagnostic: Diagnostic | None = None
    preferred: bool = False


def _wanted(kind: str, only: Sequence[str] | None) -> bool:
    if not only:
        return True
    return any(kind == o or kind.startswith(o + ".") or not o for o in only)


def _what(target: Target, lang: Lang) -> str:
    if target.kind == "selection":
        return say("what.selection", lang)
    return f"`{target.name}`" if target.name else say("what.code", lang)


def list_actions(
    doc: Document,
    selection: Range,
    diagnostics: Sequence[Diagnostic],
    lang: Lang,
    *,
    only: Sequence[str] | None = None,
    style_guide: str = "",
) -> list[Offer]:
    """The actions available at ``selection`` of ``doc``, instantly (tree-sitter only).

    Quickfixes come first: one ``apply`` per review diagnostic whose line is unchanged and
    that carries a fix, then one ``fix`` per diagnostic (at most MAX_FIX_OFFERS). Then
    refactor, docstring, explain and review. ``only`` filters by kind (hierarchically, as
    ``CodeActionContext.only``). Positions outside the document raise PositionError.
    """

    def data(action: ActionId, rng: Range, **extra: Any) -> ActionData:
        return ActionData(doc.uri, doc.version, action, rng, **extra)

    offers: list[Offer] = []
    if _wanted("quickfix", only):
        for diagnostic in diagnostics:
            carried = diagnostic_fix(diagnostic)
            if carried is None:
                continue
            fix, line_text = carried
            line = diagnostic.range.start.line
            if line < doc.line_count and doc.line_text(line) == line_text:
                offers.append(
                    Offer(
                        say("title.apply", lang, fix=_short(fix.strip(), 50)),
                        "apply",
                        KINDS["apply"],
                        data("apply", diagnostic.range, fix=fix, line_text=line_text),
                        diagnostic,
                        preferred=True,
                    )
                )
        for diagnostic in list(diagnostics)[:MAX_FIX_OFFERS]:
            doc.offset_at(diagnostic.range.start)  # PositionError for a range outside
            offers.append(
                Offer(
                    say("title.fix", lang, message=_short(diagnostic.message)),
                    "fix",
                    KINDS["fix"],
                    data("fix", diagnostic.range, diagnostic=diagnostic),
                    diagnostic,
                )
            )
    target = code_target(doc, selection)
    if target is not None and _wanted(KINDS["refactor"], only):
        offers.append(
            Offer(
                say("title.refactor", lang, what=_what(target, lang)),
                "refactor",
                KINDS["refactor"],
                data("refactor", selection),
            )
        )
    documented = doc_target(doc, selection) if _wanted(KINDS["docstring"], only) else None
    if documented is not None:
        key = "title.docstring.rewrite" if documented.existing else "title.docstring"
        what = f"`{documented.name}`" if documented.name else say("what.code", lang)
        offers.append(
            Offer(
                say(key, lang, convention=_convention(documented.grammar, lang), what=what),
                "docstring",
                KINDS["docstring"],
                data("docstring", selection),
            )
        )
    if target is not None and _wanted(KINDS["explain"], only):
        offers.append(
            Offer(
                say("title.explain", lang, what=_what(target, lang)),
                "explain",
                KINDS["explain"],
                data("explain", selection),
            )
        )
    if _wanted(KINDS["review"], only):
        selected = doc.text[doc.offset_at(selection.start) : doc.offset_at(selection.end)]
        guide = (
            say("title.review.guide", lang, guide=Path(style_guide).name)
            if style_guide.strip()
            else ""
        )
        what = say("what.selection" if selected.strip() else "what.file", lang)
        offers.append(
            Offer(
                say("title.review", lang, what=what, guide=guide),
                "review",
                KINDS["review"],
                data("review", selection),
            )
        )
    return offers


def _convention(grammar: str, lang: Lang) -> str:
    """What the doc comment is called, for titles."""
    if lang == "en":
        return "docstring" if grammar == "python" else CONVENTIONS.get(grammar, "doc comment")
    korean = {
        "python": "독스트링",
        "javascript": "JSDoc 주석",
        "typescript": "JSDoc 주석",
        "tsx": "JSDoc 주석",
        "rust": "Rustdoc 주석",
        "go": "Go 문서 주석",
        "java": "Javadoc 주석",
    }
    return korean.get(grammar, "문서 주석")


# ----- prompts ----------------------------------------------------------------------------------


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


def _cap(action: str) -> int:
    try:
        return int(prompt_file(f"actions/{action}.yaml").get("max_tokens", 256))
    except (TypeError, ValueError) as exc:
        raise PromptError(f"actions/{action}.yaml: max_tokens: {exc}") from exc


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


def _language(doc: Document) -> tuple[str, str]:
    """(display name, fence tag) of the document's language."""
    if doc.grammar:
        return LANGUAGE_NAMES.get(doc.grammar, doc.grammar), doc.grammar
    return doc.language_id or "text", doc.language_id or ""


def _dedented(text: str) -> str:
    return indent_code(text, "")


def _calls(doc: Document, target: Target) -> list[str]:
    """Distinct callee names in the target (``json.dumps``, ``self.path.write_text``)."""
    if doc.tree is None:
        return []
    start, end = doc.byte_at(target.start), doc.byte_at(target.end)
    found: list[str] = []
    stack = [doc.tree.root_node]
    while stack and len(found) < 15:
        node = stack.pop()
        if node.end_byte <= start or node.start_byte >= end:
            continue
        if node.type in _CALL_NODES:
            callee = (
                node.child_by_field_name("function")
                or node.child_by_field_name("macro")
                or node.child_by_field_name("constructor")
            )
            name = node.child_by_field_name("name")
            obj = node.child_by_field_name("object")
            text = b""
            if callee is not None and callee.text:
                text = callee.text
            elif name is not None and name.text:
                text = (obj.text + b"." if obj is not None and obj.text else b"") + name.text
            label = " ".join(text.decode("utf-8", "replace").split())
            if label and "(" not in label and len(label) <= 60 and label not in found:
                found.append(label)
        stack.extend(reversed(node.children))
    return found


def _lines(doc: Document, first: int, last: int) -> str:
    """Lines ``first..last`` (0-based, inclusive) as they are, blank lines around them cut."""
    return "\n".join(doc.line_text(n) for n in range(first, last + 1)).strip("\n").rstrip()


def _scope_header(doc: Document, target: Target) -> str:
    """The first line of the definition around ``target`` (``""`` when it is one itself)."""
    if doc.tree is None or doc.grammar is None or target.kind.endswith(_DEFINITIONS):
        return ""
    inside = doc.byte_at(
        min(len(doc.text), target.start + len(target.text) - len(target.text.lstrip()) + 1)
    )
    for span in enclosing_scopes(doc.tree, doc.grammar, inside):
        if span.start_byte < doc.byte_at(target.start) or span.end_byte > doc.byte_at(target.end):
            return span.header.split("\n", 1)[0].strip()[:120]
    return ""


def _fits(job_tokens: int, n_ctx: int, wanted: int) -> int:
    """Tokens left for the answer: ``wanted`` or what the window leaves (may be small)."""
    return min(wanted, n_ctx - job_tokens - 16)


def _count(messages: list[ChatMessage], count_tokens: Callable[[str], int]) -> int:
    return sum(count_tokens(m["content"]) + 6 for m in messages) + 4


def plan(
    doc: Document,
    data: ActionData,
    lang: Lang,
    *,
    count_tokens: Callable[[str], int],
    n_ctx: int,
    style_guide: str = "",
) -> Job:
    """The model call for ``data`` on ``doc`` (the current version).

    Token budgets: refactor and fix get about 1.5x the code's tokens plus 64 (so a rewrite
    fits), capped by the YAML's ``max_tokens``; the text actions get the YAML's
    ``max_tokens``. Both shrink to what the context window leaves. Raises ActionRefused when
    there is no target or the prompt does not fit, PromptError for a broken template, and
    PositionError for a range outside the document.
    """
    language, fence = _language(doc)
    title = action_title(data.action, lang)
    base: dict[str, Any] = {"language": language, "fence": fence}
    doc_tgt: DocTarget | None = None
    notes: list[str] = []
    should_stop: Callable[[str], bool] | None = None
    action = data.action
    if action in ("refactor", "explain"):
        target = code_target(doc, data.range)
        if target is None:
            raise ActionRefused(say("no_target", lang, title=title))
        variables = {**base, "name": target.name, "code": _dedented(target.text)}
        if action == "explain":
            imports = import_spans(doc.tree, doc.grammar) if doc.tree and doc.grammar else []
            variables["calls"] = _calls(doc, target)
            variables["imports"] = [span.header for span in imports[:12]]
            should_stop = repetitive
        else:
            should_stop = has_closed_fence
    elif action == "fix":
        problem = data.diagnostic.range if data.diagnostic is not None else data.range
        target = fix_target(doc, problem)
        diagnostic = data.diagnostic
        line = min(max(problem.start.line, target.first_line), target.last_line)
        before_first = max(0, target.first_line - 4)
        after_last = min(doc.line_count - 1, target.last_line + 4)
        variables = {
            **base,
            "name": target.name,
            "code": _dedented(target.text),
            "message": diagnostic.message if diagnostic is not None else "",
            "diagnostic_code": str(diagnostic.code) if diagnostic and diagnostic.code else "",
            "diagnostic_source": (diagnostic.source or "") if diagnostic is not None else "",
            "scope": _scope_header(doc, target),
            "line": line - target.first_line + 1,
            "line_text": doc.line_text(line).strip(),
            "before": _lines(doc, before_first, target.first_line - 1),
            "after": _lines(doc, target.last_line + 1, after_last),
        }
        should_stop = has_closed_fence
    elif action == "docstring":
        doc_tgt = doc_target(doc, data.range)
        if doc_tgt is None:
            raise ActionRefused(say("no_target", lang, title=title))
        target = doc_tgt.definition
        variables = {
            **base,
            "name": doc_tgt.name or "this code",
            "convention": CONVENTIONS.get(doc_tgt.grammar, "doc comment"),
            "code": _dedented(target.text),
        }

        def should_stop(text: str) -> bool:
            stripped = text.strip()
            return bool(stripped) and ("\n\n" in stripped or "```" in stripped)

    elif action == "review":
        guide, error = load_style_guide(style_guide)
        if error is not None:
            notes.append(say("guide_unreadable", lang, path=style_guide, error=error))
        selected = doc.text[doc.offset_at(data.range.start) : doc.offset_at(data.range.end)]
        if selected.strip():
            target = line_target(
                doc, doc.offset_at(data.range.start), doc.offset_at(data.range.end), "selection"
            )
        else:
            last = doc.line_count - 1
            while last > 0 and not doc.line_text(last).strip():
                last -= 1
            target = line_target(doc, 0, _line_end(doc, last), "file")
        target = _fit_review(doc, target, data.range.start.line, guide, lang, count_tokens, n_ctx)
        variables = {
            **base,
            "guide": guide,
            "numbered": numbered(doc, target.first_line, target.last_line),
        }
        first_line, last_line = target.first_line + 1, target.last_line + 1
        source = {n + 1: doc.line_text(n) for n in range(first_line - 1, last_line)}
        examples = example_answers("review", lang)

        def should_stop(text: str) -> bool:
            return findings_done(text, last_line) or useless_findings(
                text, first_line, last_line, source, examples=examples, echo=messages[0]["content"]
            )

    else:  # apply needs no model
        raise ActionRefused(say("no_target", lang, title=title))
    messages = build_messages(action, lang, variables)
    prompt_tokens = _count(messages, count_tokens)
    cap = _cap(action)
    if action in ("refactor", "fix"):
        wanted = min(cap, count_tokens(target.text) * 3 // 2 + 64)
    else:
        wanted = cap
    budget = _fits(prompt_tokens, n_ctx, wanted)
    if budget < min(wanted, MIN_ANSWER_TOKENS * 2):
        raise ActionRefused(
            say("too_large", lang, title=title, tokens=prompt_tokens + wanted, n_ctx=n_ctx)
        )
    return Job(
        action=action,
        lang=lang,
        messages=messages,
        max_tokens=budget,
        target=target,
        should_stop=should_stop,
        doc_target=doc_tgt,
        prompt_tokens=prompt_tokens,
        examples=example_answers(action, lang),
        notes=notes,
    )


def _fit_review(
    doc: Document,
    target: Target,
    center: int,
    guide: str,
    lang: Lang,
    count_tokens: Callable[[str], int],
    n_ctx: int,
) -> Target:
    """``target`` narrowed around line ``center`` until its prompt leaves room for answers."""
    room = n_ctx - _cap("review") - count_tokens(guide) - 400  # system prompt and example
    first, last = target.first_line, target.last_line
    for _ in range(12):
        if count_tokens(numbered(doc, first, last)) <= room or last - first < 8:
            break
        half = (last - first) // 4
        center = min(max(center, first), last)
        first = max(first, center - half)
        last = min(last, max(first + 2 * half, center + half))
    if (first, last) == (target.first_line, target.last_line):
        return target
    start = doc.line_start(first)
    return line_target(doc, start, _line_end(doc, last), "lines")


def _line_end(doc: Document, line: int) -> int:
    """The str offset of the end of 0-based ``line`` (before its terminator)."""
    return doc.line_start(line) + len(doc.line_text(line))


# ----- answers -> results -----------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """Replace ``[start, end)`` (str offsets in the document the action planned on) with
    ``new_text``."""

    start: int
    end: int
    new_text: str

    def range(self, doc: Document) -> Range:
        """The LSP range of the replaced text in ``doc``."""
        return Range(start=doc.position_at(self.start), end=doc.position_at(self.end))


def _trimmed(doc: Document, start: int, end: int, new_text: str) -> Edit:
    """The same edit without the unchanged whole lines at its start and end."""
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
    :func:`related` to it (for a ``fix`` also :func:`in_proportion`) and leaves the document
    parsing. Raises ActionRefused (no code, no change, unrelated code, or a syntax error)."""
    candidates = code_candidates(answer, doc.grammar)
    if not candidates:
        raise ActionRefused(say("no_code", lang, title=title))
    indent = base_indent(target.text)
    problems: list[str] = []
    unchanged = unrelated = False
    name = target.name if target.kind.endswith(_DEFINITIONS) else ""
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
        if problem is None:
            return _trimmed(doc, target.start, target.end, new_text)
        problems.append(problem)
    if problems:
        raise ActionRefused(say("no_parse", lang, title=title, where=problems[0]))
    if unchanged:
        raise ActionRefused(say("no_change", lang, title=title))
    if unrelated:
        raise ActionRefused(say("unrelated", lang, title=title))
    raise ActionRefused(say("no_code", lang, title=title))


def finish_edit(doc: Document, job: Job, answer: str) -> Edit:
    """The edit for a refactor, fix or docstring ``job`` from the model's ``answer`` (on the
    ``doc`` the job was planned on). Raises ActionRefused when the answer is unusable."""
    if job.action == "docstring":
        assert job.doc_target is not None
        text = doc_text(answer, job.question + "\n" + job.target.text, examples=job.examples)
        if not text:
            raise ActionRefused(say("no_text", job.lang, title=job.title))
        start, end, new_text = doc_edit(job.doc_target, text)
        problem = parse_problem(doc, start, end, new_text)
        if problem is not None:  # cannot happen for well-formed code; be safe
            raise ActionRefused(say("no_parse", job.lang, title=job.title, where=problem))
        return Edit(start, end, new_text)
    return code_edit(doc, job.target, answer, job.title, job.lang, fix=job.action == "fix")


def apply_edit(doc: Document, data: ActionData, lang: Lang) -> Edit:
    """The edit for a review finding's fix (``apply``): its line, re-indented like the line
    was, provided the line still reads as it did at review time and the result parses."""
    title = action_title("apply", lang)
    line = data.range.start.line
    if data.fix is None or line >= doc.line_count or doc.line_text(line) != data.line_text:
        raise ActionRefused(say("apply_gone", lang))
    original = doc.line_text(line)
    indent = original[: len(original) - len(original.lstrip())]
    new_text = indent_code(data.fix, indent)
    start = doc.line_start(line)
    end = start + len(original)
    if new_text.rstrip() == original.rstrip():
        raise ActionRefused(say("no_change", lang, title=title))
    problem = parse_problem(doc, start, end, new_text)
    if problem is not None:
        raise ActionRefused(say("no_parse", lang, title=title, where=problem))
    return Edit(start, end, new_text)


def finish_explain(job: Job, answer: str) -> str:
    """The explanation's Markdown; raises ActionRefused when the model gave none."""
    text = markdown_text(answer, job.question, job.examples)
    if not text.strip():
        raise ActionRefused(say("no_explanation", job.lang))
    return text


_DEFINITIONS = ("_definition", "_declaration", "_item")
_SAFE_NAME = re.compile(r"[^\w.-]+")


def _file_stem(uri: str) -> str:
    name = _SAFE_NAME.sub("_", uri.rsplit("/", 1)[-1]) or "document"
    return name[:60]


def write_explanation(cache_dir: Path, doc: Document, job: Job, markdown: str) -> Path:
    """Write the explanation to ``cache_dir/explain/<file>-<name or lines>-<hash>.md`` (a
    title, the model's Markdown, then the code explained) and return its path. Raises
    OSError when the directory cannot be written."""
    target = job.target
    stem = _file_stem(doc.uri)
    what = target.name or f"L{target.first_line + 1}-{target.last_line + 1}"
    digest = hashlib.sha1(doc.uri.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    folder = cache_dir / "explain"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{_SAFE_NAME.sub('_', what)[:40]}-{digest}.md"
    language, fence = _language(doc)
    heading = f"`{target.name}`" if target.name else f"{stem}:{target.first_line + 1}"
    lines = "줄" if job.lang == "ko" else "lines"
    where = f"{stem}, {lines} {target.first_line + 1}–{target.last_line + 1}"
    code_title = "코드" if job.lang == "ko" else "Code"
    path.write_text(
        f"# {heading}\n\n_{where} ({language})_\n\n{markdown.strip()}\n\n"
        f"## {code_title}\n\n```{fence}\n{_dedented(target.text)}\n```\n",
        encoding="utf-8",
    )
    return path


ReviewStatus = Literal["found", "none", "unreadable"]


def finish_review(doc: Document, job: Job, answer: str) -> tuple[list[Finding], str, ReviewStatus]:
    """The findings in a review answer, the message for the user, and what happened:
    ``found`` (findings to publish), ``none`` (the model reported nothing) or ``unreadable``
    (no finding in the expected form, or only echoes of the prompt). A last line cut off by
    the token limit (``job.truncated``) is ignored."""
    target = job.target
    if job.truncated and "\n" in answer.rstrip("\n"):
        answer = answer[: answer.rstrip("\n").rfind("\n")]
    source_lines = {
        line + 1: doc.line_text(line) for line in range(target.first_line, target.last_line + 1)
    }
    findings = parse_findings(
        answer,
        target.first_line + 1,
        target.last_line + 1,
        source_lines,
        examples=job.examples,
        echo=job.messages[0]["content"],
    )
    if findings:
        return findings, say("review_done", job.lang, n=len(findings)), "found"
    if looks_like_none(answer):
        return [], say("review_none", job.lang), "none"
    return [], say("review_unreadable", job.lang), "unreadable"


def check_range(doc: Document, rng: Range) -> None:
    """Raise PositionError when ``rng`` lies outside ``doc``."""
    doc.offset_at(rng.start)
    doc.offset_at(rng.end)
