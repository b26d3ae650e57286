"""Chat: history trimming, the session store, message assembly per language, code context,
params parsing, and the service logic (with a scripted engine; the real model is e2e)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.protocol import _dict_to_object

from codesaga.chat import (
    MESSAGE_OVERHEAD,
    ChatArgs,
    ChatError,
    ChatService,
    Reply,
    SessionStore,
    Turn,
    answer_tokens,
    assemble,
    chat_params,
    clip_lines,
    code_context,
    empty_answer,
    file_name,
    history_budget,
    message_tokens,
    plan_turn,
    system_prompt,
    trim_history,
    user_message,
)
from codesaga.completion import Completer
from codesaga.documents import Document, DocumentStore, PositionError, UnknownDocumentError
from codesaga.documents.span import TextSpan
from codesaga.engine import ChatMessage, Generation, GenerationRequest
from codesaga.errors import InvalidParams, Superseded
from codesaga.lsp.chat import chat_turn, command_args, partial_results, plain, session_arg
from codesaga.lsp.server import CodeSagaServer
from codesaga.prompts import RepoFile, prompt_file
from codesaga.settings import Settings

from .fakes import FakeEngine

SID = "0123456789abcdef0123456789abcdef"
"""A session id of the form the server issues (32 hex digits)."""


def words(text: str) -> int:
    """A fake token counter: one token per whitespace-separated word."""
    return len(text.split())


def turns(*pairs: tuple[str, str]) -> list[Turn]:
    out: list[Turn] = []
    for user, assistant in pairs:
        out += [Turn("user", user), Turn("assistant", assistant)]
    return out


# ----- trimming -------------------------------------------------------------------------------

HISTORY = turns(
    ("one two three", "four five"),  # 5 words + 2 * 2 overhead = 9
    ("a b", "c"),  # 3 + 4 = 7
    ("x y z w", "v"),  # 5 + 4 = 9
)


def test_trim_keeps_everything_that_fits() -> None:
    assert trim_history(HISTORY, 25, words, overhead=2) == HISTORY


def test_trim_drops_oldest_pairs_first() -> None:
    # 24 tokens: the oldest pair (9) no longer fits on top of the newer two (7 + 9 = 16)
    assert trim_history(HISTORY, 24, words, overhead=2) == HISTORY[2:]
    assert trim_history(HISTORY, 16, words, overhead=2) == HISTORY[2:]
    assert trim_history(HISTORY, 15, words, overhead=2) == HISTORY[4:]
    assert trim_history(HISTORY, 9, words, overhead=2) == HISTORY[4:]


def test_trim_never_splits_a_pair() -> None:
    # 8 tokens would hold the newest user turn (4 + 2 = 6) but not its answer too
    assert trim_history(HISTORY, 8, words, overhead=2) == []
    assert trim_history(HISTORY, 0, words, overhead=2) == []
    assert trim_history(HISTORY, -5, words, overhead=2) == []


def test_trim_keeps_a_contiguous_tail() -> None:
    history = turns(("tiny", "t"), ("a much longer question here", "and a long answer"), ("q", "a"))
    # the middle pair does not fit; the older, smaller one is not kept past the gap
    assert trim_history(history, 10, words, overhead=0) == history[4:]


def test_trim_groups_a_lone_turn_by_itself() -> None:
    history = [Turn("assistant", "hello there"), *turns(("q", "a"))]
    assert trim_history(history, 2, words, overhead=0) == history[1:]
    assert trim_history(history, 4, words, overhead=0) == history


def test_assemble_exact_budget() -> None:
    system, user = "be brief", "what is this code"  # 2 and 4 words
    budget = history_budget(
        n_ctx=100, answer_tokens=20, system=system, user=user, count=words, overhead=3
    )
    # 100 - 20 answer - (2 + 3) system - (4 + 3) user - 3 answer header
    assert budget == 65
    history = turns(*[(f"question {i} " + "w " * 20, "answer " * 10) for i in range(4)])
    # each pair: (22 + 3) + (10 + 3) = 38 tokens: only the newest fits in 65
    out = assemble(
        system=system,
        history=history,
        user=user,
        n_ctx=100,
        answer_tokens=20,
        count=words,
        overhead=3,
    )
    assert out.messages[0] == {"role": "system", "content": system}
    assert out.messages[-1] == {"role": "user", "content": user}
    assert out.messages[1:-1] == [t.message() for t in history[-2:]]
    assert (out.kept, out.dropped) == (2, 6)
    assert out.prompt_tokens == 5 + 7 + 3 + 38


def test_assemble_keeps_system_and_new_message_when_nothing_else_fits() -> None:
    history = turns(("old question", "old answer"))
    out = assemble(
        system="s", history=history, user="u v", n_ctx=20, answer_tokens=10, count=words, overhead=2
    )
    # 20 - 10 - 3 - 4 - 2 = 1 token left: not enough for the old pair
    assert out.messages == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u v"},
    ]
    assert out.dropped == 2


def test_assemble_refuses_a_message_that_cannot_fit() -> None:
    with pytest.raises(ChatError, match="context window holds 20"):
        assemble(
            system="s",
            history=[],
            user="w " * 30,
            n_ctx=20,
            answer_tokens=5,
            count=words,
            overhead=1,
        )


def test_message_tokens_and_answer_tokens() -> None:
    assert message_tokens("a b c", words) == 3 + MESSAGE_OVERHEAD
    assert answer_tokens(16, 2048) == 64
    assert answer_tokens(1000, 2048) == 512  # bounded
    assert answer_tokens(100, 256) == 128  # at most half the window


# ----- store ----------------------------------------------------------------------------------


def test_store_round_trip_across_instances(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "chat")
    store.append("s1", [("user", "안녕하세요?"), ("assistant", "네, 안녕하세요.")])
    store.append("s1", [("user", "second"), ("assistant", "reply")])
    store.append("s2", [("user", "other"), ("assistant", "session")])
    store.close()

    reopened = SessionStore(tmp_path / "chat")  # as after a server restart
    got = reopened.turns("s1")
    assert [(t.role, t.content) for t in got] == [
        ("user", "안녕하세요?"),
        ("assistant", "네, 안녕하세요."),
        ("user", "second"),
        ("assistant", "reply"),
    ]
    assert all(t.created > 0 for t in got)
    assert reopened.exists("s2") and not reopened.exists("nope")
    assert reopened.turns("nope") == []


def test_store_reset_and_limits(tmp_path: Path) -> None:
    store = SessionStore(tmp_path, max_turns=4)
    for i in range(3):
        store.append("s", [("user", f"q{i}"), ("assistant", f"a{i}")])
    assert [t.content for t in store.turns("s")] == ["q1", "a1", "q2", "a2"]  # oldest gone
    assert store.reset("s") == 4
    assert store.turns("s") == [] and not store.exists("s")
    assert store.reset("s") == 0
    with pytest.raises(sqlite3.IntegrityError):
        store.append("s", [("system", "not a stored role")])
    assert store.turns("s") == []  # the failed append left nothing behind


def test_store_prunes_least_recently_used_sessions(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    for name in ("a", "b", "c"):
        store.append(name, [("user", "q"), ("assistant", "a")])
    store.append("a", [("user", "again"), ("assistant", "yes")])  # a is now the newest
    store.close()
    store = SessionStore(tmp_path, max_sessions=2)
    assert store.exists("a") and store.exists("c") and not store.exists("b")
    assert store.turns("b") == []


def test_store_replaces_a_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / SessionStore.FILE_NAME).write_bytes(b"this is not a database" * 100)
    store = SessionStore(tmp_path)
    store.append("s", [("user", "q"), ("assistant", "a")])
    assert len(store.turns("s")) == 2
    assert (tmp_path / (SessionStore.FILE_NAME + ".corrupt")).exists()


# ----- prompts per language -------------------------------------------------------------------


def test_system_prompt_per_language() -> None:
    data = prompt_file("chat.yaml")
    assert system_prompt("ko") == data["system"]["ko"]
    assert system_prompt("en") == data["system"]["en"]
    assert "한국어로" in system_prompt("ko")
    assert "Answer in English" in system_prompt("en")
    assert "답하지 못했습니다" in empty_answer("ko") and "no answer" in empty_answer("en")


def test_fallback_template_keys_still_work() -> None:
    from codesaga.prompts import chat_fallback

    fallback = chat_fallback()
    assert "\n### User:" in fallback.stop
    text = fallback.render([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert text == "### System:\nS\n\n### User:\nU\n\n### Assistant:"


SOURCE = (
    "import os\n"
    "\n"
    "def greet(name):\n"
    '    """인사말."""\n'
    '    message = "안녕 " + name\n'
    "    return message\n"
    "\n"
    "\n"
    "def other():\n"
    "    return 1\n"
)


def python_doc(text: str = SOURCE):  # noqa: ANN201
    return DocumentStore().open("file:///work/proj/hello%20world.py", "python", 3, text)


def at(doc: Document, line: int, character: int) -> TextSpan:
    """The cursor at an LSP position of ``doc``."""
    return TextSpan.at(doc.offset_at(types.Position(line=line, character=character)))


def test_code_context_enclosing_function() -> None:
    doc = python_doc()
    ctx = code_context(doc, at(doc, 4, 12), budget=1000, count=words)
    assert ctx.source == "function_definition"
    assert (ctx.first_line, ctx.last_line) == (2, 5)
    assert ctx.code == "\n".join(SOURCE.splitlines()[2:6])
    assert ctx.path == "hello world.py" and ctx.language == "python"
    assert not ctx.truncated


def test_code_context_selection_and_file_and_window() -> None:
    doc = python_doc()
    sel = TextSpan(doc.line_start(8), doc.line_start(10))
    ctx = code_context(doc, sel, budget=1000, count=words)
    assert ctx.source == "selection" and ctx.code == "def other():\n    return 1"
    whole = code_context(doc, None, budget=1000, count=words)
    assert whole.source == "file" and whole.code == SOURCE.rstrip("\n")
    top = code_context(doc, at(doc, 0, 3), budget=1000, count=words)  # no scope around `import`
    assert top.source == "lines" and top.first_line == 0


def test_code_context_clipped_around_the_cursor() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(100))
    doc = python_doc(f"def big():\n{body}    return x1\n")
    ctx = code_context(doc, at(doc, 50, 4), budget=30, count=words)  # 3 words a line: 10 lines
    assert ctx.truncated
    assert ctx.last_line - ctx.first_line + 1 == 10
    assert ctx.first_line <= 50 <= ctx.last_line
    with pytest.raises(PositionError):
        code_context(doc, TextSpan.at(len(doc.text) + 1), budget=30, count=words)


def test_clip_lines_cuts_one_huge_line() -> None:
    lo, hi, clipped = clip_lines(["a " * 100], 0, 10, words)
    assert (lo, hi) == (0, 0)
    assert clipped is not None and 0 < words(clipped) <= 10


def test_user_message_with_code_per_language() -> None:
    doc = python_doc()
    ctx = code_context(doc, at(doc, 4, 12), budget=1000, count=words)
    en = user_message("What does it do?", ctx, "en")
    ko = user_message("무슨 일을 하나요?", ctx, "ko")
    assert en.startswith("Current code: hello world.py (python, lines 3-6)\n```python\n")
    assert ko.startswith("현재 코드: hello world.py (python, 3-6행)\n```python\n")
    assert ctx.code in en and ctx.code in ko
    assert en.endswith("```\n\nWhat does it do?") and ko.endswith("```\n\n무슨 일을 하나요?")
    assert user_message("plain", None, "ko") == "plain"
    fenced = code_context(python_doc("x = '```'\n"), None, budget=100, count=words)
    assert "````python\nx = '```'\n````" in user_message("q", fenced, "en")


def test_plan_turn_per_language() -> None:
    history = turns(("first question", "first answer"))
    for language in ("ko", "en"):
        plan = plan_turn(
            session_id="s",
            message="and then?",
            history=history,
            language=language,
            doc=python_doc(),
            selection=at(python_doc(), 4, 0),
            n_ctx=2048,
            max_tokens=16,
            count=words,
        )
        messages = plan.assembled.messages
        assert messages[0] == {"role": "system", "content": system_prompt(language)}
        assert messages[1:3] == [t.message() for t in history]
        assert messages[3]["role"] == "user" and messages[3]["content"].endswith("and then?")
        assert plan.message == "and then?"  # stored without the code
        assert plan.answer_tokens == 64


def test_file_name() -> None:
    assert file_name("file:///a/b/c.py") == "c.py"
    assert file_name("untitled:Untitled-1") == "Untitled-1"


# ----- params ---------------------------------------------------------------------------------


def test_parse_args_from_pygls_objects() -> None:
    raw = {
        "sessionId": SID,
        "message": "hi",
        "textDocument": {"uri": "file:///x.py"},
        "range": {"start": {"line": 1, "character": 2}, "end": {"line": 3, "character": 0}},
        "partialResultToken": "tok",
    }
    as_object = plain(_dict_to_object(dict(raw)))  # what pygls hands a custom method
    assert as_object == raw
    params = chat_params(as_object)
    assert params.partial_result_token == "tok"
    server = CodeSagaServer()
    doc = server.store.open("file:///x.py", "python", 1, "a = 1\nb = '한글'\nc = 3\nd = 4\n")
    args = chat_turn(server, params)  # the range decoded in the open document
    assert args == ChatArgs(
        message="hi",
        session_id=SID,
        uri="file:///x.py",
        selection=TextSpan(doc.line_start(1) + 2, doc.line_start(3)),
    )
    assert chat_turn(server, chat_params("just text")) == ChatArgs(message="just text")


def test_chat_turn_decodes_the_range_in_the_open_document() -> None:
    server = CodeSagaServer()
    doc = server.store.open("file:///e.py", "python", 1, "s = '😀'\nt = 1\n")

    def turn(uri: str, line: int, character: int) -> ChatArgs:
        start = {"line": 0, "character": 7}  # after the emoji (2 UTF-16 units): offset 6
        end = {"line": line, "character": character}
        raw = {"message": "q", "textDocument": {"uri": uri}, "range": {"start": start, "end": end}}
        return chat_turn(server, chat_params(raw))

    assert turn(doc.uri, 1, 0).selection == TextSpan(6, doc.line_start(1))
    with pytest.raises(PositionError):
        turn(doc.uri, 5, 0)
    with pytest.raises(UnknownDocumentError):
        turn("file:///nope.py", 0, 0)


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"message": ""},
        {"message": "   "},
        {"message": 3},
        {"message": "m", "sessionId": ""},
        {"message": "m", "sessionId": 5},
        {"message": "m", "textDocument": "file:///x"},
        {"message": "m", "range": {"start": {"line": 0, "character": 0}}},
        {"message": "m", "textDocument": {"uri": "u"}, "range": {"start": {"line": -1}}},
        [1, 2],
    ],
)
def test_parse_args_rejects(raw: Any) -> None:
    with pytest.raises(InvalidParams):
        chat_params(raw)


# ----- the service, with a scripted engine ----------------------------------------------------


@dataclass
class ChatFakeEngine(FakeEngine):
    """FakeEngine with ``chat``: streams ``answer`` word by word, records the messages."""

    conversations: list[list[ChatMessage]] = field(default_factory=list)

    def chat(self, messages: Sequence[ChatMessage], request: GenerationRequest) -> Generation:
        self.conversations.append([dict(m) for m in messages])  # type: ignore[misc]
        self.started.set()
        if self.block:
            request.cancel.wait(10)
        text = ""
        if not request.cancel.is_set():
            for piece in self.answer.split(" "):
                chunk = piece if not text else " " + piece
                text += chunk
                if request.on_text is not None:
                    request.on_text(chunk)
        return Generation(text, 10, 0, len(text.split()), 0.0, request.cancel.is_set())


def make_server(tmp_path: Path, engine: ChatFakeEngine, language: str = "en") -> CodeSagaServer:
    server = CodeSagaServer()
    server.settings = Settings(cache_dir=str(tmp_path), language=language, max_tokens=8)
    # the model is "loaded"
    server.model.use(
        engine, Completer(engine, server.scheduler, None, max_tokens=8, temperature=0.0)
    )
    sent: list[Any] = []
    server.protocol.notify = lambda method, params=None: sent.append(params)  # type: ignore[method-assign]
    server.notified = sent  # type: ignore[attr-defined]
    return server


async def test_service_two_turns_store_and_stream(tmp_path: Path) -> None:
    engine = ChatFakeEngine(answer="  Hello there friend")
    server = make_server(tmp_path, engine)
    service = ChatService(server)
    first = await service.chat(ChatArgs(message="first"), on_delta=partial_results(server, "p1"))
    assert first.text == "Hello there friend"
    sid = first.session_id
    assert len(sid) == 32
    deltas = [p.value["delta"] for p in server.notified if p.token == "p1"]  # type: ignore[attr-defined]
    assert "".join(deltas) == "Hello there friend"
    second = await service.chat(ChatArgs(message="second", session_id=sid))
    assert second.session_id == sid
    # turn 2 carried turn 1
    assert engine.conversations[1][1:] == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "Hello there friend"},
        {"role": "user", "content": "second"},
    ]
    assert [h.content for h in service.history(sid)] == [
        "first",
        "Hello there friend",
        "second",
        "Hello there friend",
    ]
    # a new service (a restarted server) on the same cache dir still has the session
    assert len(ChatService(make_server(tmp_path, engine)).history(sid)) == 4
    assert service.reset(sid) == 4
    assert service.history(sid) == []


async def test_service_language_and_preview(tmp_path: Path) -> None:
    engine = ChatFakeEngine()
    server = make_server(tmp_path, engine, language="ko")
    preview = await ChatService(server).preview(ChatArgs(message="질문", session_id="k"))
    assert preview.language == "ko"
    assert preview.assembled.messages[0] == {"role": "system", "content": system_prompt("ko")}
    server.settings = Settings(cache_dir=str(tmp_path), language="auto")
    server.locale = "ko-KR"
    await ChatService(server).chat(ChatArgs(message="질문"))
    assert engine.conversations[-1][0]["content"] == system_prompt("ko")
    server.locale = "en-US"
    await ChatService(server).chat(ChatArgs(message="question"))
    assert engine.conversations[-1][0]["content"] == system_prompt("en")


async def test_service_empty_answer_is_explained_not_stored(tmp_path: Path) -> None:
    server = make_server(tmp_path, ChatFakeEngine(answer="   "))
    service = ChatService(server)
    result = await service.chat(ChatArgs(message="q", session_id="e"))
    assert result == Reply("e", empty_answer("en"))
    assert service.history("e") == []


async def test_service_superseded_turn_is_cancelled_and_not_stored(tmp_path: Path) -> None:
    engine = ChatFakeEngine(answer="late", block=True)
    server = make_server(tmp_path, engine)
    service = ChatService(server)
    older = asyncio.ensure_future(service.chat(ChatArgs(message="old", session_id="s")))
    await asyncio.to_thread(engine.started.wait, 5)
    engine.block = False
    newer = await service.chat(ChatArgs(message="new", session_id="s"))
    with pytest.raises(Superseded):
        await older
    assert newer.text == "late"
    assert [h.content for h in service.history("s")] == ["new", "late"]


async def test_service_cancelled_task_stops_generation(tmp_path: Path) -> None:
    engine = ChatFakeEngine(answer="never", block=True)
    server = make_server(tmp_path, engine)
    service = ChatService(server)
    task = asyncio.ensure_future(service.chat(ChatArgs(message="q", session_id="c")))
    await asyncio.to_thread(engine.started.wait, 5)
    task.cancel()  # what pygls does on $/cancelRequest
    with pytest.raises(asyncio.CancelledError):
        await task
    # the scheduler set the generation's event: the model thread is free again
    done = threading.Event()
    await server.scheduler.run(threading.Event(), done.set)
    assert done.is_set()
    assert service.history("c") == []


async def test_service_errors(tmp_path: Path) -> None:
    server = make_server(tmp_path, ChatFakeEngine())
    service = ChatService(server)
    with pytest.raises(InvalidParams):  # never opened
        await service.chat(ChatArgs(message="q", uri="file:///nope.py"))
    server.store.open("file:///a.py", "python", 1, "x = 1\n")
    with pytest.raises(InvalidParams):  # range outside the document
        await service.chat(ChatArgs(message="q", uri="file:///a.py", selection=TextSpan.at(40)))
    with pytest.raises(InvalidParams):  # does not fit the window
        await service.chat(ChatArgs(message="word " * 5000))
    ok = await service.chat(ChatArgs(message="q", uri="file:///a.py", selection=TextSpan.at(1)))
    assert ok.text == "result"


def test_command_arguments() -> None:
    server = CodeSagaServer()
    assert command_args(server, ({"message": "hi", "sessionId": SID},)) == ChatArgs("hi", SID)
    assert command_args(server, ("just text",)) == ChatArgs(message="just text")
    assert session_arg((SID,)) == SID
    for bad in ((), ("a", "b")):
        with pytest.raises(InvalidParams, match="expected one argument"):
            command_args(server, bad)
        with pytest.raises(InvalidParams, match="expected one argument: the sessionId"):
            session_arg(bad)
    with pytest.raises(InvalidParams, match="sessionId: must be a session id the server issued"):
        session_arg(("x" * 201,))
    with pytest.raises(InvalidParams, match="message: must not be blank"):
        command_args(server, ({"message": " "},))


async def test_service_reports_progress_with_the_outcome(tmp_path: Path) -> None:
    engine = ChatFakeEngine(answer="fine", block=True)
    service = ChatService(make_server(tmp_path, engine))
    events: list[str] = []

    async def progress() -> Any:
        events.append("begin")
        return lambda outcome: events.append(outcome)

    older = asyncio.ensure_future(
        service.chat(ChatArgs(message="old", session_id="p"), progress=progress)
    )
    await asyncio.to_thread(engine.started.wait, 5)
    engine.block = False
    await service.chat(ChatArgs(message="new", session_id="p"), progress=progress)
    with pytest.raises(Superseded):
        await older
    assert sorted(events) == sorted(["begin", "begin", "cancelled", "done"])
    events.clear()
    with pytest.raises(InvalidParams):  # does not fit the window
        await service.chat(ChatArgs(message="word " * 5000), progress=progress)
    assert events == ["begin", "failed"]


def test_the_question_sees_the_definitions_its_code_uses() -> None:
    doc = python_doc()
    asked: list[tuple[int, int]] = []

    def definitions(d: Document, start: int, end: int) -> tuple[RepoFile, ...]:
        asked.append((start, end))
        return (RepoFile("shop/tax.py", "def vat(amount: Decimal) -> Decimal"),)

    plan = plan_turn(
        session_id="s",
        message="what does it return?",
        history=[],
        language="en",
        doc=doc,
        selection=at(doc, 4, 0),
        n_ctx=2048,
        max_tokens=16,
        count=words,
        definitions=definitions,
    )
    user = plan.assembled.messages[-1]["content"]
    assert "shop/tax.py:\ndef vat(amount: Decimal) -> Decimal" in user
    assert user.endswith("what does it return?")
    context = plan.context
    assert context is not None
    assert asked == [(doc.line_start(context.first_line), doc.line_end(context.last_line))]
