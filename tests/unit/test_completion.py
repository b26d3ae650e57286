"""The completion path with a scripted engine: cache, type-through, latest-wins, healing,
lookahead, prefill, prefetch."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from lsprotocol.types import Position

from codesaga.cache import CompletionCache
from codesaga.completion import Completer, Suggestion
from codesaga.completion.flight import finished_words
from codesaga.completion.prefetch import prefetch_after_accept
from codesaga.documents import Document, DocumentStore
from codesaga.engine import Generation, GenerationRequest
from codesaga.errors import Superseded
from codesaga.scheduler import LatestWins, Scheduler

from .fakes import FakeEngine

TEXT = "def area(w, h):\n    return \n"
END = Position(line=1, character=11)


def completer(engine: FakeEngine, cache: CompletionCache | None = None) -> Completer:
    return Completer(engine, Scheduler(), cache, max_tokens=32, temperature=0.0)


async def complete(c: Completer, doc: Document, at: Position, *, fresh: bool = False) -> Suggestion:
    """``c.complete`` at an LSP position (the server converts it the same way)."""
    return await c.complete(doc, doc.offset_at(at), fresh=fresh)


async def answered_with_lookahead(store: DocumentStore) -> tuple[Completer, FakeEngine]:
    """A completer whose slow generation for ``file:///a.py`` answered and looks ahead still."""
    engine = FakeEngine(answer=" w * h\n    x = " + "1" * 200 + "\n", delay=0.01)
    c = completer(engine)
    first = store.open("file:///a.py", "python", 1, TEXT)
    assert (await complete(c, first, END)).text == "w * h"  # its lookahead goes on
    return c, engine


async def test_model_then_cache(tmp_path: Path) -> None:
    engine = FakeEngine(answer=" w * h\n")
    c = completer(engine, CompletionCache(tmp_path))
    doc = DocumentStore().open("file:///a.py", "python", 1, TEXT)
    first = await complete(c, doc, END)
    assert (first.text, first.source) == ("w * h", "model")
    # the trailing space after `return` is healed: not in the prompt, removed from the answer
    assert engine.prompts[0].endswith("return")
    c2 = completer(FakeEngine(answer="unused"), CompletionCache(tmp_path))
    again = await complete(c2, doc, END)
    assert (again.text, again.source) == ("w * h", "cache")


async def test_generation_of_a_model_answer_has_its_token_counts() -> None:
    engine = FakeEngine(answer=" w * h\n    x = 1\n")
    c = completer(engine)
    doc = DocumentStore().open("file:///a.py", "python", 1, TEXT)
    assert (await complete(c, doc, END)).source == "model"
    gen = await c.generation(doc.uri)
    assert gen is not None and gen.prompt_tokens > 0 and not gen.cancelled
    assert await c.generation("file:///never.py") is None


async def test_invoked_request_asks_the_model_again(tmp_path: Path) -> None:
    engine = FakeEngine(answer=" w * h\n")
    c = completer(engine, CompletionCache(tmp_path))
    doc = DocumentStore().open("file:///a.py", "python", 1, TEXT)
    await complete(c, doc, END)
    assert (await complete(c, doc, END)).source == "cache"
    engine.answer = " h * w\n"
    again = await complete(c, doc, END, fresh=True)
    assert (again.text, again.source) == ("h * w", "model") and len(engine.prompts) == 2


async def test_engine_error_reaches_the_request() -> None:
    from codesaga.engine import EngineError

    class Failing(FakeEngine):
        def generate(self, request: GenerationRequest) -> Generation:
            raise EngineError("prompt does not fit")

    c = completer(Failing())
    doc = DocumentStore().open("file:///a.py", "python", 1, TEXT)
    with pytest.raises(EngineError):
        await complete(c, doc, END)
    with pytest.raises(EngineError):  # and again: the failed generation is not reused
        await complete(c, doc, END)


async def test_type_through() -> None:
    engine = FakeEngine(answer=" width * height")
    c = completer(engine)
    store = DocumentStore()
    doc = store.open("file:///a.py", "python", 1, TEXT)
    await complete(c, doc, END)
    typed = store.open("file:///a.py", "python", 2, TEXT.replace("return ", "return wid"))
    hit = await complete(c, typed, Position(line=1, character=14))
    assert (hit.text, hit.source) == ("th * height", "type-through")
    assert len(engine.prompts) == 1


async def test_lookahead_answers_the_next_line_after_enter() -> None:
    # at the end of a line the generation goes on to the next line (lookahead)
    engine = FakeEngine(answer=" w * h\n    total = w\n    more = 1\n")
    c = completer(engine)
    store = DocumentStore()
    doc = store.open("file:///a.py", "python", 1, TEXT)
    first = await complete(c, doc, END)
    assert (first.text, first.source) == ("w * h", "model")
    await asyncio.sleep(0.1)  # the lookahead finishes while the user types
    # the user types the suggestion and presses Enter (the editor indents the new line)
    entered = store.open(doc.uri, "python", 2, TEXT.replace("return ", "return w * h\n    "))
    nxt = await complete(c, entered, Position(line=2, character=4))
    assert (nxt.text, nxt.source) == ("total = w", "type-through")
    assert len(engine.prompts) == 1


async def test_a_request_elsewhere_stops_another_files_lookahead() -> None:
    store = DocumentStore()
    c, engine = await answered_with_lookahead(store)
    engine.answer = " 2\n"
    other = store.open("file:///b.py", "python", 1, "x = ")
    started = asyncio.get_running_loop().time()
    got = await complete(c, other, Position(line=0, character=4))
    assert got.text == "2" and asyncio.get_running_loop().time() - started < 0.5


async def test_other_model_work_stops_the_lookahead() -> None:
    c, _ = await answered_with_lookahead(DocumentStore())
    started = asyncio.get_running_loop().time()
    # a chat turn or a code action queues model work: the lookahead yields
    assert await c.scheduler.run(threading.Event(), lambda: "done") == "done"
    assert asyncio.get_running_loop().time() - started < 0.5


async def test_fim_generation_is_not_reused_once_the_code_after_the_cursor_changed() -> None:
    engine = FakeEngine(answer=" w * h\n", family="qwen")  # a FIM template: the suffix counts
    c = completer(engine)
    store = DocumentStore()
    doc = store.open("file:///a.py", "python", 1, TEXT + "print(area(1, 2))\n")
    await complete(c, doc, END)
    edited = store.open(doc.uri, "python", 2, TEXT + "print(area(3, 4))\n")
    engine.answer = " h * w\n"
    again = await complete(c, edited, END)
    assert (again.text, again.source) == ("h * w", "model") and len(engine.prompts) == 2


async def test_a_lookahead_being_stopped_is_not_joined() -> None:
    engine = FakeEngine(answer=" w * h\n    x = " + "1" * 200 + "\n", delay=0.01)
    c = completer(engine)
    store = DocumentStore()
    doc = store.open("file:///a.py", "python", 1, TEXT)
    assert (await complete(c, doc, END)).text == "w * h"
    other = asyncio.ensure_future(c.scheduler.run(threading.Event(), lambda: "done"))
    await asyncio.sleep(0)  # the other work stops the lookahead, which has not returned yet
    engine.answer = "y = 2\n"
    entered = store.open(doc.uri, "python", 2, TEXT.replace("return ", "return w * h\n    "))
    got = await complete(c, entered, Position(line=2, character=4))
    assert got.text == "y = 2" and await other == "done"


async def test_typing_off_the_prediction_starts_a_new_generation() -> None:
    engine = FakeEngine(answer=" w * h\n    total = w\n")
    c = completer(engine)
    store = DocumentStore()
    doc = store.open("file:///a.py", "python", 1, TEXT)
    await complete(c, doc, END)
    engine.answer = " + 1\n"
    other = store.open(doc.uri, "python", 2, TEXT.replace("return ", "return 0"))
    got = await complete(c, other, Position(line=1, character=12))
    assert (got.text, got.source) == (" + 1", "model")
    assert len(engine.prompts) == 2


async def test_request_waits_for_the_generation_that_predicts_it() -> None:
    engine = FakeEngine(answer=" w * h\n    total = w\n", block=True)
    c = completer(engine)
    store = DocumentStore()
    doc = store.open("file:///a.py", "python", 1, TEXT)
    first = asyncio.ensure_future(complete(c, doc, END))
    await asyncio.to_thread(engine.started.wait, 5)
    # a key typed while the first generation is still running, as it predicted: join it
    typed = store.open(doc.uri, "python", 2, TEXT.replace("return ", "return w"))
    second = asyncio.ensure_future(complete(c, typed, Position(line=1, character=12)))
    await asyncio.sleep(0.05)
    engine.release.set()
    assert (await first).text == "w * h"
    assert (await second).text == " * h"
    assert len(engine.prompts) == 1


async def test_unfinished_block_shows_its_finished_lines_and_goes_on() -> None:
    block = "y = 1\n    z = 2\n    return z\n"
    engine = FakeEngine(answer=block, delay=0.02)  # the whole block takes about 0.6 s
    c = completer(engine)
    store = DocumentStore()
    doc = store.open("file:///f.py", "python", 1, "def f(x):\n    ")
    first = await complete(c, doc, Position(line=1, character=4))
    assert first.text == "y = 1" and first.seconds < 0.45
    # accepted, then Enter: the next line comes from the same generation
    nxt = store.open(doc.uri, "python", 2, "def f(x):\n    y = 1\n    ")
    second = await complete(c, nxt, Position(line=2, character=4))
    assert second.text == "z = 2" and len(engine.prompts) == 1


@dataclass
class SharedCpuFake(FakeEngine):
    """A scripted engine that says whether other processes take part of the CPU."""

    contended: bool = True

    def cpu_contended(self) -> bool:
        return self.contended


LINE = "width * height + depth"


@pytest.mark.parametrize("contended", [True, False])
async def test_on_a_busy_cpu_a_slow_line_shows_its_finished_words_and_goes_on(
    contended: bool,
) -> None:
    engine = SharedCpuFake(answer=f" {LINE}\n", delay=0.03, contended=contended)  # ~0.7 s
    c = completer(engine)
    store = DocumentStore()
    doc = store.open("file:///a.py", "python", 1, TEXT)
    first = await complete(c, doc, END)
    if not contended:
        assert first.text == LINE  # a quiet machine: the whole line, however long it takes
        return
    assert first.text and LINE.startswith(first.text) and first.text != LINE
    assert not (first.text[-1].isalnum() and LINE[len(first.text)].isalnum())  # whole words
    # accepted, again and again: the requests that follow get the rest from the same generation
    shown = first.text
    for version in range(2, 8):
        if shown == LINE:
            break
        typed = TEXT.replace("return ", f"return {shown}")
        nxt = store.open(doc.uri, "python", version, typed)
        more = await complete(c, nxt, Position(line=1, character=11 + len(shown)))
        assert more.text and LINE.startswith(shown + more.text)
        shown += more.text
    assert shown == LINE and len(engine.prompts) == 1
    # a request the user invoked waits for the whole line, however busy the CPU
    invoked = await complete(c, doc, END, fresh=True)
    assert invoked.text == LINE


def test_finished_words_drop_the_word_the_next_token_may_continue() -> None:
    assert finished_words("width * hei") == "width * "
    assert finished_words("self.items.app") == "self.items."
    assert finished_words("foo(bar)\nbaz") == "foo(bar)"
    assert finished_words("widt") == "" and finished_words("  (") == ""


async def test_newer_request_supersedes_older() -> None:
    engine = FakeEngine(block=True)
    c = completer(engine)
    doc = DocumentStore().open("file:///a.py", "python", 1, TEXT)
    older = asyncio.ensure_future(complete(c, doc, END))
    await asyncio.to_thread(engine.started.wait, 5)
    engine.block = False
    newer = await complete(c, doc, Position(line=0, character=4))
    with pytest.raises(Superseded):
        await older
    assert newer.source == "model"


async def test_cancelled_task_stops_the_generation() -> None:
    engine = FakeEngine(block=True)
    c = completer(engine)
    doc = DocumentStore().open("file:///a.py", "python", 1, TEXT)
    task = asyncio.ensure_future(complete(c, doc, END))
    await asyncio.to_thread(engine.started.wait, 5)
    task.cancel()  # what pygls does on $/cancelRequest
    with pytest.raises(asyncio.CancelledError):
        await task
    engine.block = False
    assert (await complete(c, doc, Position(line=0, character=4))).source == "model"


def test_latest_wins_sets_the_previous_event() -> None:
    latest = LatestWins()
    first = latest.begin("chat:a")
    second = latest.begin("chat:a")
    other = latest.begin("chat:b")
    assert first.is_set() and not second.is_set() and not other.is_set()


async def test_binary_document_gets_no_suggestion_and_no_model_call() -> None:
    engine = FakeEngine()
    doc = DocumentStore().open("file:///blob.bin", "plaintext", 1, "PK\x03\x04\x00\x00data\n")
    got = await complete(completer(engine), doc, Position(line=0, character=4))
    assert got.text == "" and engine.prompts == []


async def test_prefetch_after_accept_fills_the_cache(tmp_path: Path) -> None:
    engine = FakeEngine(answer=" w * h")
    c = completer(engine, CompletionCache(tmp_path))
    store = DocumentStore()
    doc = store.open("file:///a.py", "python", 1, TEXT)
    shown = await complete(c, doc, END)
    assert shown.text == "w * h"
    # the client inserts the suggestion a little after running the accept command
    task = asyncio.ensure_future(prefetch_after_accept(c, doc.uri, lambda: store.get(doc.uri)))
    await asyncio.sleep(0.05)
    accepted = TEXT.replace("return ", "return w * h")
    store.open(doc.uri, "python", 2, accepted)
    engine.answer = "  # area"
    prefetched = await task
    assert prefetched is not None and prefetched.source == "model"
    after = Position(line=1, character=16)
    hit = await complete(c, store.get(doc.uri), after)
    assert hit.source == "cache" and hit.text == prefetched.text


async def test_prefetch_gives_up_when_the_text_differs() -> None:
    engine = FakeEngine(answer=" w * h")
    c = completer(engine)
    store = DocumentStore()
    doc = store.open("file:///a.py", "python", 1, TEXT)
    await complete(c, doc, END)
    store.open(doc.uri, "python", 2, TEXT.replace("return ", "return 0"))  # not accepted
    assert await prefetch_after_accept(c, doc.uri, lambda: store.get(doc.uri), 0.1) is None


async def test_the_generation_stays_ahead_of_a_user_who_follows_it() -> None:
    # each line accepted and Enter pressed at once: every suggestion comes from one generation
    lines = [f"v{i} = {i}" for i in range(6)]
    engine = FakeEngine(answer=" w * h\n" + "".join(f"    {line}\n" for line in lines), delay=0.005)
    c = completer(engine)
    store = DocumentStore()
    doc = store.open("file:///a.py", "python", 1, TEXT)
    assert (await complete(c, doc, END)).text == "w * h"
    typed = TEXT.replace("return ", "return w * h\n    ")
    for n, line in enumerate(lines):
        doc = store.open(doc.uri, "python", n + 2, typed)
        got = await complete(c, doc, Position(line=n + 2, character=4))
        assert got.text == line
        typed = typed.replace("\n    \n", f"\n    {line}\n    \n")
    assert len(engine.prompts) == 1


async def test_a_cancelled_request_does_not_stop_a_lookahead_that_answered() -> None:
    engine = FakeEngine(answer=" w * h\n    total = " + "w" * 60 + "\n", delay=0.005)
    c = completer(engine)
    store = DocumentStore()
    doc = store.open("file:///a.py", "python", 1, TEXT)
    first = asyncio.ensure_future(complete(c, doc, END))
    await asyncio.to_thread(engine.started.wait, 5)
    first.cancel()  # the editor cancels it: the next key came
    with pytest.raises(asyncio.CancelledError):
        await first
    typed = store.open(doc.uri, "python", 2, TEXT.replace("return ", "return w"))
    assert (await complete(c, typed, Position(line=1, character=12))).text == " * h"
    await asyncio.sleep(0.5)  # longer than ABANDON_SECONDS: the lookahead went on regardless
    entered = store.open(doc.uri, "python", 3, TEXT.replace("return ", "return w * h\n    "))
    got = await complete(c, entered, Position(line=2, character=4))
    assert got.text == "total = " + "w" * 60 and len(engine.prompts) == 1


async def test_typing_through_past_the_lookahead_starts_the_next_one() -> None:
    engine = FakeEngine(answer=" w * h\n    total = w\n")
    c = completer(engine)
    store = DocumentStore()
    doc = store.open("file:///a.py", "python", 1, TEXT)
    assert (await complete(c, doc, END)).text == "w * h"
    await asyncio.sleep(0.05)  # that generation ends after the next line
    engine.answer = "total = w\n    return total\n"
    entered = store.open(doc.uri, "python", 2, TEXT.replace("return ", "return w * h\n    "))
    assert (await complete(c, entered, Position(line=2, character=4))).text == "total = w"
    await asyncio.sleep(0.05)  # (what follows should the user leave this line blank)
    engine.answer = " = w\n    return total\n"
    typed = store.open(doc.uri, "python", 3, TEXT.replace("return ", "return w * h\n    total"))
    assert (await complete(c, typed, Position(line=2, character=9))).text == " = w"
    # nothing prepares the line after it yet: a generation starts there in the background
    await asyncio.sleep(0.05)
    assert len(engine.prompts) == 3 and engine.prompts[2].endswith("return w * h\n    total")
    text = TEXT.replace("return ", "return w * h\n    total = w\n    ")
    got = await complete(c, store.open(doc.uri, "python", 4, text), Position(line=3, character=4))
    assert got.text == "return total" and len(engine.prompts) == 3


async def test_the_line_after_a_line_left_blank_is_prepared() -> None:
    engine = FakeEngine(answer="return x\n")
    c = completer(engine)
    store = DocumentStore()
    text = "def area(w, h):\n    x = w * h\n    \n"
    doc = store.open("file:///a.py", "python", 1, text)
    assert (await complete(c, doc, Position(line=2, character=4))).text == "return x"
    engine.answer = "    return x\n"
    await asyncio.sleep(0.05)  # a generation past a blank line starts in the background
    assert len(engine.prompts) == 2 and engine.prompts[1].endswith("x = w * h\n\n")
    # Enter leaves the line blank (the editor trims its indentation)
    entered = store.open(doc.uri, "python", 2, "def area(w, h):\n    x = w * h\n\n    \n")
    got = await complete(c, entered, Position(line=3, character=4))
    assert got.text == "return x" and len(engine.prompts) == 2


async def test_a_generation_that_predicts_the_blank_line_is_kept() -> None:
    engine = FakeEngine(answer="\n\n    return x\n")
    c = completer(engine)
    store = DocumentStore()
    text = "def area(w, h):\n    x = w * h"
    doc = store.open("file:///a.py", "python", 1, text)
    assert (await complete(c, doc, Position(line=1, character=13))).text == ""
    await asyncio.sleep(0.05)
    blank = store.open(doc.uri, "python", 2, text + "\n")
    assert (await complete(c, blank, Position(line=2, character=0))).text == ""
    await asyncio.sleep(0.05)
    entered = store.open(doc.uri, "python", 3, text + "\n\n    ")
    got = await complete(c, entered, Position(line=3, character=4))
    assert got.text == "return x" and len(engine.prompts) == 1


async def test_a_request_joining_a_lookahead_waits_no_longer_than_its_own_bound() -> None:
    engine = FakeEngine(answer=" w * h\n    x = " + "1" * 400 + "\n", delay=0.005)
    c = completer(engine)  # max_tokens 32: a single-line request stops after 32 tokens
    store = DocumentStore()
    doc = store.open("file:///a.py", "python", 1, TEXT)
    assert (await complete(c, doc, END)).text == "w * h"
    entered = store.open(doc.uri, "python", 2, TEXT.replace("return ", "return w * h\n    "))
    got = await complete(c, entered, Position(line=2, character=4))
    assert got.text.startswith("x = 1") and got.seconds < 1.0
    assert len(got.text) < 40 and len(engine.prompts) == 1


async def test_no_lookahead_starts_for_a_document_closed_right_after_its_answer() -> None:
    engine = FakeEngine(answer=" w * h\n    total = w\n")
    c = completer(engine)
    store = DocumentStore()
    doc = store.open("file:///a.py", "python", 1, TEXT)
    await complete(c, doc, END)
    await asyncio.sleep(0.05)
    entered = store.open(doc.uri, "python", 2, TEXT.replace("return ", "return w * h\n    "))
    assert (await complete(c, entered, Position(line=2, character=4))).text == "total = w"
    c.sessions.close(doc.uri)  # closed before the lookahead, deferred to the loop's next turn, ran
    await asyncio.sleep(0.05)
    assert len(engine.prompts) == 1


async def test_prefill_fills_the_kv_cache_with_the_first_window_and_yields() -> None:
    engine = FakeEngine(answer=" w * h\n")
    c = completer(engine)
    doc = DocumentStore().open("file:///a.py", "python", 1, TEXT)
    c.prefill(doc)
    for _ in range(100):
        if c.stats.counts.get("prefill"):
            break
        await asyncio.sleep(0.01)
    # the whole (small) document, as the prompt of a cursor at its end
    assert engine.prefills == [c.prompts.prompt_for(c.prompts.context_at(doc, len(TEXT)))]
    got = await complete(c, doc, END)
    assert got.text == "w * h" and engine.prefills[0].startswith(engine.prompts[0])


async def test_a_request_supersedes_the_prefill_of_its_document() -> None:
    engine = FakeEngine(answer=" w * h\n")
    c = completer(engine)
    doc = DocumentStore().open("file:///a.py", "python", 1, TEXT)
    c.prefill(doc)
    prefill = c.sessions.get(doc.uri).prefill
    assert (await complete(c, doc, END)).text == "w * h"
    assert prefill.is_set() and not c.stats.counts.get("prefill")


async def test_a_later_prefill_and_closing_stop_a_prefill_and_it_stops_no_lookahead() -> None:
    store = DocumentStore()
    c, _ = await answered_with_lookahead(store)
    lookahead = c.sessions.get("file:///a.py").flight.cancel  # type: ignore[union-attr]
    c.prefill(store.open("file:///b.py", "python", 1, "x = 1\n"))
    older = c.sessions.get("file:///b.py").prefill
    c.prefill(store.open("file:///c.py", "python", 1, "y = 2\n"))
    await asyncio.sleep(0)  # the prefills are queued (behind the lookahead)
    assert older.is_set() and not lookahead.is_set()
    newer = c.sessions.get("file:///c.py").prefill
    c.sessions.close("file:///c.py")  # closed: its prefill is dropped
    assert newer.is_set() and not lookahead.is_set()
    assert await c.scheduler.run(threading.Event(), lambda: "done") == "done"
    assert lookahead.is_set()
