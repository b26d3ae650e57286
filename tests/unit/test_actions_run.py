"""Running actions outside the handlers (codesaga.actions.run: review retry, explanation file)
and the protocol edge (codesaga.lsp.actions / lsp.review: offers as CodeActions or Commands,
edits as WorkspaceEdits, remembered review diagnostics), with a scripted engine."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lsprotocol import types

from codesaga.actions import ActionData, Problem
from codesaga.actions.catalogue import list_actions
from codesaga.actions.edits import Edit
from codesaga.actions.run import (
    REVIEW_RETRY_TEMPERATURE,
    produce_edit,
    run_explain,
    run_review,
)
from codesaga.answers import Finding
from codesaga.documents import DocumentStore, PositionError
from codesaga.documents.span import TextSpan
from codesaga.engine import Generation, GenerationRequest
from codesaga.lsp.action_data import WireAction, encode
from codesaga.lsp.actions import to_lsp, workspace_edit
from codesaga.lsp.review import ReviewMemory, findings_to_diagnostics, problem_of
from codesaga.lsp.spans import span_of
from codesaga.settings import Settings

from .test_actions import URI, ChatEngine, FakeServer, at, open_doc


@dataclass
class RecordingEngine(ChatEngine):
    """ChatEngine that also records each request's temperature."""

    temperatures: list[float] = field(default_factory=list)

    def generate(self, request: GenerationRequest) -> Generation:
        self.temperatures.append(request.temperature)
        return super().generate(request)


REVIEW = ActionData(URI, 1, "review", at(0, 0))


# ----- review ----------------------------------------------------------------------------------


def test_review_finds_and_publishes() -> None:
    engine = RecordingEngine(answer="- line 12: odd name => count = 0\n")
    server = FakeServer(open_doc(), engine)
    outcome = asyncio.run(run_review(server, REVIEW))  # type: ignore[arg-type]
    assert outcome.publish and outcome.findings == [Finding(12, "odd name", "count = 0")]
    assert outcome.message == "CodeSaga: the review published 1 finding(s) as diagnostics."
    assert outcome.doc.version == 1 and len(engine.chats) == 1


def test_unreadable_review_is_asked_once_more_more_freely() -> None:
    engine = RecordingEngine(answer="I like this code a lot.")
    server = FakeServer(open_doc(), engine)
    outcome = asyncio.run(run_review(server, REVIEW))  # type: ignore[arg-type]
    assert len(engine.chats) == 2
    first = server.settings.temperature
    assert engine.temperatures == [first, min(1.0, first + REVIEW_RETRY_TEMPERATURE)]
    assert not outcome.publish and outcome.findings == []
    # the user is told in words, not in the answer format the model was asked for
    assert outcome.message.startswith("CodeSaga: the model's review could not be read")
    assert "line N" not in outcome.message and "problem" not in outcome.message


def test_review_of_a_document_changed_meanwhile_publishes_nothing() -> None:
    engine = RecordingEngine(answer="- line 12: odd name => count = 0\n")
    server = FakeServer(open_doc(), engine)
    engine.during = lambda: server.edit_document(2)
    outcome = asyncio.run(run_review(server, REVIEW))  # type: ignore[arg-type]
    assert not outcome.publish and outcome.findings == []
    assert "changed while the model was working (version 1, now 2)" in outcome.message


def test_review_with_an_empty_answer_that_says_none() -> None:
    server = FakeServer(open_doc(), RecordingEngine(answer="- none"))
    outcome = asyncio.run(run_review(server, REVIEW))  # type: ignore[arg-type]
    assert outcome.publish and outcome.findings == []  # publishing none clears old findings
    assert outcome.message == "CodeSaga: the review found nothing to report."


# ----- explain ---------------------------------------------------------------------------------


def test_explain_writes_the_file_under_the_cache_dir(tmp_path: Path) -> None:
    server = FakeServer(open_doc(), ChatEngine(answer="Collects SKUs."))
    server.settings = Settings(language="en", cache_dir=str(tmp_path))
    data = ActionData(URI, 1, "explain", at(6, 10))
    explanation = asyncio.run(run_explain(server, data))  # type: ignore[arg-type]
    assert explanation.markdown == "Collects SKUs."
    assert explanation.path is not None and explanation.path.parent == tmp_path / "explain"
    assert "Collects SKUs." in explanation.path.read_text(encoding="utf-8")


def test_explain_without_an_answer_tells_the_user(tmp_path: Path) -> None:
    server = FakeServer(open_doc(), ChatEngine(answer="   "))
    server.settings = Settings(language="en", cache_dir=str(tmp_path))
    data = ActionData(URI, 1, "explain", at(6, 10))
    explanation = asyncio.run(run_explain(server, data))  # type: ignore[arg-type]
    assert explanation.markdown == "" and explanation.path is None
    assert server.shown == ["CodeSaga: the model gave no explanation."]


# ----- the protocol edge -----------------------------------------------------------------------


def test_offers_become_code_actions_or_commands() -> None:
    doc = open_doc()
    offers = {o.action: o for o in list_actions(doc, at(6, 10), [], "en")}
    refactor = to_lsp(offers["refactor"], doc, None, resolves=True, literals=True)
    assert isinstance(refactor, types.CodeAction) and refactor.command is None
    assert refactor.kind == "refactor.rewrite" and refactor.data == encode(
        offers["refactor"].data, doc
    )
    unresolved = to_lsp(offers["refactor"], doc, None, resolves=False, literals=True)
    assert isinstance(unresolved, types.CodeAction) and unresolved.command is not None
    assert unresolved.command.command == "codesaga.runAction"
    explain = to_lsp(offers["explain"], doc, None, resolves=True, literals=True)
    assert isinstance(explain, types.CodeAction) and explain.command is not None
    assert explain.command.command == "codesaga.explain"
    bare = to_lsp(offers["review"], doc, None, resolves=True, literals=False)
    assert isinstance(bare, types.Command) and bare.command == "codesaga.review"


def test_fix_offers_name_the_clients_diagnostic() -> None:
    doc = open_doc(open_doc().text.replace("total = 0", "total=0"))
    [diagnostic] = findings_to_diagnostics(doc, [Finding(12, "missing spaces", "total = 0")])
    problem = problem_of(doc, diagnostic)
    assert (problem.fix, problem.line_text, problem.source) == (
        "total = 0",
        "        total=0",
        "codesaga",
    )
    apply, fix = list_actions(doc, span_of(doc, diagnostic.range), [problem], "en")[:2]
    assert apply.problem is problem and fix.problem is problem
    action = to_lsp(apply, doc, diagnostic, resolves=True, literals=True)
    assert isinstance(action, types.CodeAction)
    assert action.diagnostics == [diagnostic] and action.is_preferred


def test_workspace_edit_counts_utf16_and_names_the_version() -> None:
    text = "s = '😀'; t = 1\n"
    doc = open_doc(text, "file:///w/e.py")
    start = text.index("t = 1")
    edit = Edit(start, start + 5, "t = 2")
    versioned = workspace_edit(doc, edit, versioned=True)
    assert versioned.document_changes is not None
    [change] = versioned.document_changes
    assert isinstance(change, types.TextDocumentEdit) and change.text_document.version == 1
    [text_edit] = change.edits
    assert isinstance(text_edit, types.TextEdit)
    assert text_edit.range.start == types.Position(line=0, character=start + 1)  # 😀 is 2 units
    plain = workspace_edit(doc, edit, versioned=False)
    assert plain.changes == {doc.uri: [text_edit]}


def test_review_memory_gives_dropped_data_back() -> None:
    doc = open_doc()
    published = findings_to_diagnostics(doc, [Finding(12, "odd name", "count = 0")])
    memory = ReviewMemory(limit=2)
    memory.remember(URI, published)
    dropped = types.Diagnostic(
        range=published[0].range, message="odd name", source="codesaga", data=None
    )
    other = types.Diagnostic(range=published[0].range, message="unrelated", source="pyflakes")
    assert memory.restore(URI, [dropped, other]) == [published[0], other]
    assert memory.restore("file:///w/other.py", [dropped]) == [dropped]
    memory.remember("file:///w/a.py", [])
    memory.remember("file:///w/b.py", [])  # the oldest document is forgotten
    assert memory.restore(URI, [dropped]) == [dropped]


def test_action_data_json_keeps_lsp_ranges_and_decodes_to_offsets() -> None:
    text = "a = 1\n\ns = '😀'; t = 1\n"
    doc = open_doc(text, "file:///w/e.py")
    start = text.index("t = 1")
    problem = Problem(TextSpan(start, start + 1), "odd", "E1", "lint")
    data = ActionData(doc.uri, 1, "fix", TextSpan(start, start + 5), problem)
    value = encode(data, doc)
    column = start - text.index("s = ") + 1  # 😀 is 2 UTF-16 units
    assert value["range"] == {
        "start": {"line": 2, "character": column},
        "end": {"line": 2, "character": column + 5},
    }
    assert value["diagnostic"] == {
        "range": {
            "start": {"line": 2, "character": column},
            "end": {"line": 2, "character": column + 1},
        },
        "message": "odd",
        "code": "E1",
        "source": "lint",
    }
    wire = WireAction.from_json(value)
    assert wire.decode(doc) == data == wire.decode_listed(doc)
    # version 2 has no line 2: the ranges cannot be decoded there, and need not be
    emptied = FakeServer(DocumentStore().open(doc.uri, "python", 2, ""))
    current = emptied.document(doc.uri)
    with pytest.raises(PositionError):
        wire.decode(current)
    stale = wire.decode_listed(current)
    assert (stale.uri, stale.version, stale.action) == (doc.uri, 1, "fix")
    assert asyncio.run(produce_edit(emptied, stale)) is None  # type: ignore[arg-type]
    assert "version 1, now 2" in emptied.shown[0]
