"""Code actions without a client: listing, targets, prompts per language, doc comments, edits,
review diagnostics and the stale-version refusal (a scripted engine stands in for the model)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lsprotocol.types import (
    DiagnosticSeverity,
    Position,
    Range,
    TextDocumentContentChangePartial,
)

from codesaga.actions import ActionData, ActionError, ActionRefused, Problem
from codesaga.actions.catalogue import finish_edit, list_actions, plan
from codesaga.actions.edits import code_edit, related
from codesaga.actions.explain import finish as finish_explain
from codesaga.actions.explain import write_explanation
from codesaga.actions.jobs import Job, Planner
from codesaga.actions.messages import prompt_language
from codesaga.actions.review import finish as finish_review
from codesaga.actions.review import load_style_guide
from codesaga.actions.run import produce_edit, stale_message
from codesaga.answers import Finding
from codesaga.docstrings import doc_edit, doc_target
from codesaga.documents import Document, DocumentStore
from codesaga.documents.span import TextSpan
from codesaga.engine import ChatMessage, Generation, GenerationRequest
from codesaga.lsp.action_data import WireAction, encode
from codesaga.lsp.review import diagnostic_fix, findings_to_diagnostics, problem_of
from codesaga.lsp.spans import span_of
from codesaga.prompts import RepoFile
from codesaga.scheduler import Scheduler
from codesaga.settings import Settings
from codesaga.stats import Stats
from codesaga.syntax.languages import new_parser
from codesaga.targets import code_target, fix_target, parse_problem

from .fakes import FakeEngine

PY = '''"""Orders."""


class Orders:
    def skus(self, items):
        result = []
        for item in items:
            result.append(item.sku)
        return result

    def total(self, order):
        total = 0
        for line in order.lines:
            total += line.price
        return totl
'''
URI = "file:///w/orders.py"


def pos(line: int, character: int) -> Position:
    return Position(line=line, character=character)


def cursor(line: int, character: int) -> Range:
    return Range(start=pos(line, character), end=pos(line, character))


def open_doc(text: str = PY, uri: str = URI, language: str = "python") -> Document:
    return DocumentStore().open(uri, language, 1, text)


def between(
    line: int, character: int, end_line: int, end_character: int, doc: Document | None = None
) -> TextSpan:
    """The span of an LSP range in ``doc`` (PY by default), as the protocol edge decodes it."""
    rng = Range(start=pos(line, character), end=pos(end_line, end_character))
    return span_of(doc or open_doc(), rng)


def at(line: int, character: int, doc: Document | None = None) -> TextSpan:
    """The cursor at an LSP position of ``doc`` (PY by default)."""
    return between(line, character, line, character, doc)


def parses(language: str, text: str) -> bool:
    return not new_parser(language).parse(text.encode()).root_node.has_error


def apply(doc: Document, start: int, end: int, new_text: str) -> str:
    return doc.text[:start] + new_text + doc.text[end:]


@dataclass
class ChatEngine(FakeEngine):
    """FakeEngine with ``chat``: records the messages, answers ``answer``."""

    chats: list[list[ChatMessage]] = field(default_factory=list)
    during: Any = None

    def chat(self, messages: Sequence[ChatMessage], request: GenerationRequest) -> Generation:
        self.chats.append(list(messages))
        if self.during is not None:
            self.during()
        request.prompt = "\n".join(m["content"] for m in messages)
        return self.generate(request)


def job_for(doc: Document, action: str, span: TextSpan, lang: str = "en", **kw: Any) -> Job:
    data = ActionData(doc.uri, doc.version, action, span, **kw)  # type: ignore[arg-type]
    return plan(doc, data, Planner(lang, lambda t: len(t) // 4 + 1, 2048))  # type: ignore[arg-type]


# ----- listing ---------------------------------------------------------------------------------


def test_listing_offers_every_action_with_data_and_no_model() -> None:
    doc = open_doc()
    problem = Problem(span=between(14, 15, 14, 19), message="undefined name 'totl'")
    offers = list_actions(doc, at(6, 10), [problem], "en")
    assert [(o.action, o.kind) for o in offers] == [
        ("fix", "quickfix"),
        ("refactor", "refactor.rewrite"),
        ("docstring", "refactor.rewrite"),
        ("explain", "source.codesaga.explain"),
        ("review", "source.codesaga.review"),
    ]
    assert offers[1].title == "CodeSaga: Refactor `skus`"
    assert offers[0].problem is problem
    for offer in offers:
        data = WireAction.from_json(encode(offer.data, doc)).decode(doc)
        assert data == offer.data
        assert (data.uri, data.version) == (URI, 1)


def test_listing_filters_by_only_and_speaks_korean() -> None:
    doc = open_doc()
    offers = list_actions(doc, at(6, 10), [], "ko", only=["source"])
    assert [o.action for o in offers] == ["explain", "review"]
    assert offers[0].title == "CodeSaga: `skus` 설명"
    refactors = list_actions(doc, at(6, 10), [], "en", only=["refactor"])
    assert {o.action for o in refactors} == {"refactor", "docstring"}


def test_listing_outside_any_function_offers_review_only() -> None:
    doc = open_doc()
    offers = list_actions(doc, at(1, 0), [], "en")
    assert [o.action for o in offers] == ["review"]
    assert offers[0].title == "CodeSaga: Review this file"


def test_action_data_rejects_foreign_values() -> None:
    for bad in (None, {"uri": "x"}, {"codesaga": 1, "action": "nope"}, {"codesaga": 1}):
        with pytest.raises(ActionError):
            WireAction.from_json(bad)


# ----- language selection ----------------------------------------------------------------------


def test_prompt_language_follows_setting_then_locale() -> None:
    assert prompt_language(Settings(language="auto"), "ko-KR") == "ko"
    assert prompt_language(Settings(language="auto"), "en-US") == "en"
    assert prompt_language(Settings(language="auto"), None) == "en"
    assert prompt_language(Settings(language="en"), "ko") == "en"
    assert prompt_language(Settings(language="ko"), "en") == "ko"


@pytest.mark.parametrize("action", ["refactor", "fix", "explain", "docstring", "review"])
def test_rendered_prompts_in_korean_and_english(action: str) -> None:
    doc = open_doc()
    problem = Problem(span=between(14, 15, 14, 19), message="undefined")
    extra = {"problem": problem} if action == "fix" else {}
    korean = job_for(doc, action, at(6, 10), "ko", **extra).messages
    english = job_for(doc, action, at(6, 10), "en", **extra).messages

    def hangul(text: str) -> bool:
        return any("\uac00" <= ch <= "\ud7a3" for ch in text)

    assert hangul(korean[0]["content"]) and hangul(korean[-1]["content"])
    assert not hangul(english[0]["content"]) and not hangul(english[-1]["content"])
    assert [m["role"] for m in korean] == [m["role"] for m in english]
    assert korean[0]["role"] == "system" and korean[-1]["role"] == "user"


def test_fix_prompt_carries_the_diagnostic() -> None:
    doc = open_doc()
    problem = Problem(
        span=between(14, 15, 14, 19),
        message="undefined name 'totl'",
        code="F821",
        source="pyflakes",
    )
    user = job_for(doc, "fix", problem.span, problem=problem).messages[-1]["content"]
    assert "undefined name 'totl'" in user and "F821" in user and "pyflakes" in user
    assert "return totl" in user and "total += line.price" in user  # the code around it


def test_explain_prompt_lists_calls_and_imports() -> None:
    text = "import json\n\n\ndef save(path, data):\n    path.write_text(json.dumps(data))\n"
    doc = open_doc(text, "file:///w/s.py")
    user = job_for(doc, "explain", at(4, 6, doc)).messages[-1]["content"]
    assert "json.dumps" in user and "path.write_text" in user and "import json" in user


def test_review_prompt_uses_style_guide(tmp_path: Path) -> None:
    guide = tmp_path / "guide.md"
    guide.write_text("# House style\n\nUse snake_case everywhere.\n", encoding="utf-8")
    doc = open_doc()
    data = ActionData(doc.uri, 1, "review", at(0, 0))
    job = plan(doc, data, Planner("en", len, 8192, str(guide)))
    assert "Use snake_case everywhere." in job.messages[-1]["content"]
    assert " 5 |     def skus(self, items):" in job.messages[-1]["content"]
    missing = plan(doc, data, Planner("en", len, 8192, "/no/such.md"))
    assert missing.notes and "could not be read" in missing.notes[0]
    assert load_style_guide("") == ("", None)


def test_too_large_is_refused_before_the_model() -> None:
    doc = open_doc()
    data = ActionData(doc.uri, 1, "refactor", at(6, 10))
    with pytest.raises(ActionRefused, match="too large"):
        plan(doc, data, Planner("en", lambda t: len(t), 256))


# ----- targets ---------------------------------------------------------------------------------


def test_selection_target_is_whole_lines() -> None:
    doc = open_doc()
    target = code_target(doc, between(5, 12, 7, 0))
    assert target is not None and target.kind == "selection"
    assert (target.first_line, target.last_line) == (5, 6)
    assert target.text == "        result = []\n        for item in items:"


def test_empty_selection_means_enclosing_function() -> None:
    doc = open_doc()
    for cursor in (at(7, 20), at(7, 0), at(4, 4)):  # body, leading whitespace, def line
        target = code_target(doc, cursor)
        assert target is not None
        assert (target.kind, target.name, target.first_line, target.last_line) == (
            "function_definition",
            "skus",
            4,
            8,
        )


def test_fix_target_is_smallest_statement() -> None:
    doc = open_doc()
    target = fix_target(doc, between(14, 15, 14, 19))
    assert (target.kind, target.text) == ("return_statement", "        return totl")
    header = fix_target(doc, between(10, 8, 10, 13))
    assert (header.kind, header.name, header.first_line) == ("function_definition", "total", 10)
    loop = fix_target(doc, between(12, 20, 12, 25))
    assert loop.kind == "for_statement" and (loop.first_line, loop.last_line) == (12, 13)


def test_fix_target_on_a_syntax_error() -> None:
    text = "def f(x):\n    if x\n        return 1\n    return 2\n"
    doc = open_doc(text, "file:///w/e.py")
    target = fix_target(doc, at(1, 8, doc))
    assert target.first_line == 1 and "if x" in target.text
    fixed = "if x:\n    return 1"
    edit = code_edit(doc, target, f"```python\n{fixed}\n```", "Fix", "en")
    assert parses("python", apply(doc, edit.start, edit.end, edit.new_text))


# ----- edits from answers ----------------------------------------------------------------------


def test_refactor_edit_reindents_trims_and_parses() -> None:
    doc = open_doc()
    job = job_for(doc, "refactor", at(6, 10))
    answer = (
        "Here is a simpler version:\n```python\ndef skus(self, items):\n"
        "    return [item.sku for item in items]\n```"
    )
    edit = finish_edit(doc, job, answer)
    new = apply(doc, edit.start, edit.end, edit.new_text)
    assert "    def skus(self, items):\n        return [item.sku for item in items]\n\n" in new
    assert edit.new_text == "        return [item.sku for item in items]"  # unchanged def kept
    assert parses("python", new)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "no usable code"),
        ("I am not sure what you mean.", "no usable code"),
        (
            "```python\n    def skus(self, items):\n        result = []\n"
            "        for item in items:\n"
            "            result.append(item.sku)\n        return result\n```",
            "no change",
        ),
        (
            "```python\ndef names(users):\n    return [u.name for u in users]\n```",
            "look like a rewrite",
        ),
        ("```python\ndef skus(self, items):\n    return [item.sku for item in items\n```", "parse"),
    ],
)
def test_unusable_answers_are_refused_with_a_reason(answer: str, reason: str) -> None:
    doc = open_doc()
    job = job_for(doc, "refactor", at(6, 10))
    with pytest.raises(ActionRefused, match=reason):
        finish_edit(doc, job, answer)


def test_related_needs_the_name_and_shared_identifiers() -> None:
    old = "def skus(self, items):\n    return [i.sku for i in items]"
    assert related(old, "def skus(self, items):\n    return list(map(sku, items))", "skus")
    assert not related(old, "def other(self, items):\n    return [i.sku for i in items]", "skus")
    assert not related("return self.itemz.values()", "def get(a, b):\n    pass")


def test_fix_that_copies_its_prompt_is_refused() -> None:
    doc = open_doc()
    problem = Problem(span=between(14, 15, 14, 19), message="undefined")
    job = job_for(doc, "fix", problem.span, problem=problem)
    copied = "```python\ndef total(self, order):\n    total = 0\n    return total\n```"
    with pytest.raises(ActionRefused, match="does not look like a rewrite"):
        finish_edit(doc, job, copied)


def test_fix_edit_replaces_the_statement() -> None:
    doc = open_doc()
    problem = Problem(span=between(14, 15, 14, 19), message="undefined")
    job = job_for(doc, "fix", problem.span, problem=problem)
    edit = finish_edit(doc, job, "```python\nreturn total\n```")
    new = apply(doc, edit.start, edit.end, edit.new_text)
    assert new.endswith("        return total\n") and parses("python", new)


def test_docstring_edit_from_any_answer_parses() -> None:
    doc = open_doc()
    job = job_for(doc, "docstring", at(6, 10))
    for answer in ('Return the SKU of every item."', '```\n"""Return SKUs."""\n```', "x\\y"):
        edit = finish_edit(doc, job, answer)
        new = apply(doc, edit.start, edit.end, edit.new_text)
        assert parses("python", new)
        assert new.split("\n")[5].startswith('        """')
    with pytest.raises(ActionRefused, match="no usable documentation"):
        finish_edit(doc, job, "\n\n")


DOC_CASES = [
    ("python", "a.py", "def f(a):\n    return a\n", (1, 4), 'def f(a):\n    """Adds one."""\n'),
    (
        "python",
        "b.py",
        "def f(a): return a\n",
        (0, 5),
        'def f(a):\n    """Adds one."""\n    return a',
    ),
    ("python", "c.py", 'def f():\n    """Old."""\n', (1, 4), 'def f():\n    """Adds one."""\n'),
    (
        "javascript",
        "a.js",
        "function f(a) {\n  return a;\n}\n",
        (1, 2),
        "/**\n * Adds one.\n */\nfunction f",
    ),
    (
        "typescript",
        "a.ts",
        "class K {\n  m(): number {\n    return 1;\n  }\n}\n",
        (2, 4),
        "class K {\n  /**\n   * Adds one.\n   */\n  m()",
    ),
    (
        "tsx",
        "a.tsx",
        "export const F = () => {\n  return 1;\n};\n",
        (1, 2),
        "/**\n * Adds one.\n */\nexport const F",
    ),
    (
        "rust",
        "a.rs",
        "#[inline]\nfn f() -> i32 {\n    1\n}\n",
        (2, 4),
        "/// Adds one.\n#[inline]\nfn f",
    ),
    (
        "go",
        "a.go",
        "package p\n\n// old\nfunc F() int {\n\treturn 1\n}\n",
        (4, 2),
        "package p\n\n// F adds one.\nfunc F",
    ),
    (
        "java",
        "A.java",
        "class A {\n  int m() {\n    return 1;\n  }\n}\n",
        (2, 4),
        "class A {\n  /**\n   * Adds one.\n   */\n  int m()",
    ),
    ("c", "a.c", "int f(void) {\n  return 1;\n}\n", (1, 2), "/**\n * Adds one.\n */\nint f(void)"),
    (
        "cpp",
        "a.cpp",
        "template <class T>\nT f(T a) {\n  return a;\n}\n",
        (2, 2),
        "/**\n * Adds one.\n */\ntemplate",
    ),
]


@pytest.mark.parametrize(("language", "name", "text", "cursor", "expected"), DOC_CASES)
def test_doc_comment_per_language_convention(
    language: str, name: str, text: str, cursor: tuple[int, int], expected: str
) -> None:
    doc = open_doc(text, f"file:///w/{name}", language)
    target = doc_target(doc, at(*cursor, doc).start)
    assert target is not None
    start, end, new_text = doc_edit(target, "Adds one.")
    new = apply(doc, start, end, new_text)
    assert expected in new
    assert parses(language, new)


def test_long_doc_text_wraps_and_escapes() -> None:
    doc = open_doc("def f():\n    pass\n", "file:///w/w.py")
    target = doc_target(doc, at(1, 4, doc).start)
    assert target is not None
    text = 'Ends with a quote "x" ' + "word " * 40 + '"""'
    start, end, new_text = doc_edit(target, text)
    new = apply(doc, start, end, new_text)
    assert parses("python", new)
    assert max(len(line) for line in new.split("\n")) <= 88


# ----- review ----------------------------------------------------------------------------------


def test_review_findings_become_diagnostics_with_fixes() -> None:
    doc = open_doc()
    job = job_for(doc, "review", at(0, 0))
    answer = "- line 12: odd name => count = 0\n- line 15 (hint): `totl` is undefined\n"
    findings, message, status = finish_review(doc, job, answer)
    assert status == "found"
    assert findings == [
        Finding(12, "odd name", "count = 0"),
        Finding(15, "`totl` is undefined", None, "hint"),
    ]
    assert "2 finding" in message
    diagnostics = findings_to_diagnostics(doc, findings)
    assert [d.source for d in diagnostics] == ["codesaga", "codesaga"]
    assert [d.severity for d in diagnostics] == [
        DiagnosticSeverity.Information,
        DiagnosticSeverity.Hint,
    ]
    assert diagnostics[0].range == Range(start=pos(11, 8), end=pos(11, 17))
    assert diagnostic_fix(diagnostics[0]) == ("count = 0", "        total = 0")
    assert diagnostic_fix(diagnostics[1]) is None


def test_review_says_when_nothing_was_readable() -> None:
    doc = open_doc()
    job = job_for(doc, "review", at(0, 0), "ko")
    assert finish_review(doc, job, "- none")[1:] == (
        "CodeSaga: 리뷰 결과 보고할 문제가 없습니다.",
        "none",
    )
    findings, message, status = finish_review(doc, job, "I like this code a lot.")
    assert findings == [] and status == "unreadable"
    assert "리뷰 답을 결과로 읽을 수 없어" in message  # in words, not the `- line N` format
    assert "line" not in message and "문제" not in message
    # the format description of the system prompt, parroted, is no finding either
    assert finish_review(doc, job, "- line 3: 문제 => 고친 줄")[2] == "unreadable"
    job.truncated = True
    cut = finish_review(doc, job, "- line 3: a real problem\n- line 4: `cut off")
    assert [f.line for f in cut[0]] == [3]


def test_review_fix_is_offered_as_quickfix_and_applies() -> None:
    text = PY.replace("total = 0", "total=0")
    doc = open_doc(text)
    [diagnostic] = findings_to_diagnostics(doc, [Finding(12, "missing spaces", "total = 0")])
    offers = list_actions(doc, span_of(doc, diagnostic.range), [problem_of(doc, diagnostic)], "en")
    assert [o.action for o in offers[:2]] == ["apply", "fix"]
    assert offers[0].preferred and offers[0].title == "CodeSaga: Apply suggestion: total = 0"
    edit = asyncio.run(produce_edit(FakeServer(doc), offers[0].data))  # type: ignore[arg-type]
    assert edit is not None
    new = apply(doc, edit[1].start, edit[1].end, edit[1].new_text)
    assert "        total = 0\n" in new and parses("python", new)
    # once the line changed, the suggestion is no longer offered
    changed = open_doc(text.replace("total=0", "total=1"))
    assert [
        o.action
        for o in list_actions(
            changed, span_of(changed, diagnostic.range), [problem_of(changed, diagnostic)], "en"
        )
    ][0] == "fix"


def test_review_fix_that_breaks_the_code_is_refused() -> None:
    text = PY.replace("total = 0", "total=0")
    doc = open_doc(text)
    [diagnostic] = findings_to_diagnostics(doc, [Finding(12, "spaces", "total = (0")])
    [offer] = [
        o
        for o in list_actions(
            doc, span_of(doc, diagnostic.range), [problem_of(doc, diagnostic)], "en"
        )
        if o.action == "apply"
    ]
    server = FakeServer(doc)
    assert asyncio.run(produce_edit(server, offer.data)) is None  # type: ignore[arg-type]
    assert "would not parse" in server.shown[0]


# ----- explain ---------------------------------------------------------------------------------


def test_explanation_file(tmp_path: Path) -> None:
    doc = open_doc()
    job = job_for(doc, "explain", at(6, 10))
    markdown = finish_explain(doc, job, "Collects SKUs.\n\n- `append` adds one.")
    path = write_explanation(tmp_path, doc, job, markdown)
    assert path.parent == tmp_path / "explain" and path.suffix == ".md"
    written = path.read_text(encoding="utf-8")
    assert written.startswith("# `skus`") and "Collects SKUs." in written
    assert "```python\ndef skus(self, items):" in written
    with pytest.raises(ActionRefused):
        finish_explain(doc, job, "   ")


# ----- stale versions and the model run --------------------------------------------------------


class FakeServer:
    """What produce_edit needs from CodeSagaServer."""

    def __init__(self, doc: Document, engine: ChatEngine | None = None) -> None:
        self.store = DocumentStore()
        self.store.open(doc.uri, doc.language_id, doc.version, doc.text)
        self.settings = Settings(language="en")
        self.locale = "en"
        self.scheduler = Scheduler()
        self.stats = Stats()
        self.workspace_index = None
        self.engine_ = engine or ChatEngine()
        self.shown: list[str] = []

    def document(self, uri: str, *, parsed: bool = True) -> Document:
        return self.store.parsed(uri) if parsed else self.store.get(uri)

    def show(self, message: str, *, error: bool = False) -> None:
        self.shown.append(message)

    async def ready_engine(self) -> ChatEngine:
        return self.engine_

    async def begin_progress(self, title: str, message: str) -> None:
        return None

    def end_progress(self, token: object, message: str) -> None:
        pass

    def edit_document(self, version: int) -> None:
        change = TextDocumentContentChangePartial(range=cursor(0, 0), text="# edited\n")
        self.store.change(URI, version, [change])


REFACTORED = "```python\ndef skus(self, items):\n    return [item.sku for item in items]\n```"


def test_edit_on_the_listed_version() -> None:
    doc = open_doc()
    engine = ChatEngine(answer=REFACTORED)
    server = FakeServer(doc, engine)
    data = ActionData(URI, 1, "refactor", at(6, 10))
    result = asyncio.run(produce_edit(server, data))  # type: ignore[arg-type]
    assert result is not None and result[0].version == 1
    assert len(engine.chats) == 1 and server.shown == []
    assert engine.chats[0][-1]["content"].startswith("Refactor this Python code (`skus`)")


def test_stale_version_is_refused_without_the_model() -> None:
    doc = open_doc()
    engine = ChatEngine(answer=REFACTORED)
    server = FakeServer(doc, engine)
    server.edit_document(2)
    data = ActionData(URI, 1, "refactor", at(6, 10))
    assert asyncio.run(produce_edit(server, data)) is None  # type: ignore[arg-type]
    assert engine.chats == []
    assert "the document changed since the action was offered (version 1, now 2)" in server.shown[0]
    assert stale_message(server.document(URI), data, "ko") is not None
    assert stale_message(doc, data, "en") is None


def test_change_during_the_model_run_is_refused() -> None:
    doc = open_doc()
    engine = ChatEngine(answer=REFACTORED)
    server = FakeServer(doc, engine)
    engine.during = lambda: server.edit_document(2)
    data = ActionData(URI, 1, "refactor", at(6, 10))
    assert asyncio.run(produce_edit(server, data)) is None  # type: ignore[arg-type]
    assert len(engine.chats) == 1
    assert "changed while the model was working" in server.shown[0]


def test_unusable_answer_tells_the_user() -> None:
    doc = open_doc()
    server = FakeServer(doc, ChatEngine(answer="Sorry, I can't."))
    data = ActionData(URI, 1, "refactor", at(6, 10))
    assert asyncio.run(produce_edit(server, data)) is None  # type: ignore[arg-type]
    assert server.shown == [
        "CodeSaga: Refactor: the model's answer held no usable code; nothing was changed."
    ]


def test_parse_problem_only_counts_new_errors() -> None:
    broken = open_doc("def f(:\n    pass\n\nx = 1\n", "file:///w/b.py")
    start = broken.text.index("x = 1")
    assert parse_problem(broken, start, start + 5, "x = 2") is None
    assert parse_problem(broken, start, start + 5, "x = (") is not None
    clean = open_doc("x = 1\n", "file:///w/c.py")
    assert parse_problem(clean, 0, 5, "x = (") == "line 1"


@pytest.mark.parametrize("action", ["explain", "fix"])
def test_explain_and_fix_see_the_definitions_the_code_uses(action: str) -> None:
    doc = open_doc()
    asked: list[tuple[int, int]] = []

    def definitions(d: Document, start: int, end: int) -> tuple[RepoFile, ...]:
        asked.append((start, end))
        return (RepoFile("shop/prices.py", "def unit_price(sku: str) -> Decimal"),)

    data = ActionData(doc.uri, doc.version, action, at(6, 10))  # type: ignore[arg-type]
    planner = Planner("en", lambda t: len(t) // 4 + 1, 2048, definitions=definitions)
    job = plan(doc, data, planner)
    assert asked and asked[0][0] <= doc.offset_at(Position(6, 10)) <= asked[0][1]
    assert "shop/prices.py:\ndef unit_price(sku: str) -> Decimal" in job.question
    # without a workspace the prompt is as before
    plain = plan(doc, data, Planner("en", lambda t: len(t) // 4 + 1, 2048))
    assert "shop/prices.py" not in plain.question
