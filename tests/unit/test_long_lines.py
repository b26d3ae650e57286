"""A 1 MB single line: windows by characters, bounded token counting, bounded memory."""

from __future__ import annotations

from lsprotocol.types import Range, TextDocumentContentChangePartial

from codesaga.completion import Completer
from codesaga.completion.prompt import PromptBuilder
from codesaga.context import MAX_LINE_CACHE, MEMO_LINE_CHARS, SNAP_CHARS, Budget, LineTokens
from codesaga.documents import DocumentStore
from codesaga.scheduler import Scheduler

from .fakes import FakeEngine

LONG = "data = [" + ", ".join(str(i) for i in range(200_000))  # one line, about 1.3 MB


class CountingEngine(FakeEngine):
    """Counts 3 characters a token and remembers the longest text it was asked to count."""

    longest: int = 0

    def count_tokens(self, text: str) -> int:
        self.longest = max(self.longest, len(text))
        return len(text) // 3 + 1


def test_a_cursor_in_a_long_line_gets_a_window_of_it() -> None:
    engine = CountingEngine(n_ctx=2048)
    builder = PromptBuilder(engine, max_tokens=64, temperature=0.0)
    doc = DocumentStore().open("file:///min.js", "javascript", 1, "import x;\n" + LONG + "\n")
    middle = 10 + len(LONG) // 2
    ctx = builder.context_at(doc, middle)
    prompt = builder.prompt_for(ctx)
    assert engine.count_tokens(ctx.prefix) <= builder.budget.prefix
    assert engine.count_tokens(ctx.suffix) <= builder.budget.suffix
    assert doc.text[: ctx.offset].endswith(ctx.prefix) and ctx.prefix
    assert doc.text[ctx.offset :].startswith(ctx.suffix) and ctx.suffix
    assert ctx.cursor.following == ""
    assert engine.count_tokens(prompt) <= engine.n_ctx - 64  # it fits the context window
    assert engine.longest < 20_000  # the line was never tokenized whole


def test_a_long_line_window_stays_put_while_typing() -> None:
    engine = CountingEngine(n_ctx=2048)
    builder = PromptBuilder(engine, max_tokens=64, temperature=0.0)
    store = DocumentStore()
    doc = store.open("file:///min.js", "javascript", 1, LONG)
    starts = []
    for n in range(40):  # type 40 characters at the end: prompts keep their head
        ctx = builder.context_at(doc, len(doc.text))
        starts.append(ctx.offset - len(ctx.prefix))
        end = doc.position_at(len(doc.text))
        doc = store.change(
            doc.uri, n + 2, [TextDocumentContentChangePartial(range=Range(end, end), text="7")]
        )
    assert len(set(starts)) <= 2 and starts == sorted(starts)
    assert all(start % SNAP_CHARS == 0 for start in starts)


def test_lines_around_a_long_line_are_windowed_without_it() -> None:
    engine = CountingEngine(n_ctx=2048)
    builder = PromptBuilder(engine, max_tokens=64, temperature=0.0)
    text = "import os\n" + LONG + "\nvalue = os.getenv('X')\nprint(val"
    doc = DocumentStore().open("file:///a.py", "python", 1, text)
    ctx = builder.context_at(doc, len(text))
    assert ctx.prefix.endswith("print(val") and LONG[-100:] not in ctx.prefix  # too long
    assert engine.longest < 20_000
    first = builder.first_window(doc)  # the prefill's window stops before it too
    assert len(builder.prompt_for(first)) < 20_000


def test_line_memo_keeps_no_long_lines() -> None:
    calls: list[int] = []

    def count(text: str) -> int:
        calls.append(len(text))
        return len(text) // 3 + 1

    tokens = LineTokens(count)
    for i in range(50):  # every keystroke in a long line makes a new line text
        assert tokens(LONG[: 5_000 + i]) == (5_001 + i) // 3 + 1
        assert tokens(LONG + str(i)) >= len(LONG) // 3  # an upper bound, never tokenized
    assert max(calls) < 10_000
    memo = tokens._memo
    assert all(len(line) <= MEMO_LINE_CHARS for line in memo) and len(memo) <= MAX_LINE_CACHE


def test_tail_and_head_within_fit_their_budget() -> None:
    tokens = LineTokens(lambda text: len(text) // 3 + 1)
    assert tokens.tail_within("short", 10) == "short"
    tail = tokens.tail_within(LONG, 100)
    head = tokens.head_within(LONG, 100)
    assert LONG.endswith(tail) and LONG.startswith(head)
    assert 0 < len(tail) // 3 + 1 <= 100 and 0 < len(head) // 3 + 1 <= 100
    assert tokens.tail_within(LONG, 0) == "" == tokens.head_within(LONG, 0)


async def test_completion_at_the_end_of_a_long_line_answers() -> None:
    engine = CountingEngine(answer="199999, 200000", n_ctx=2048)
    completer = Completer(engine, Scheduler(), None, max_tokens=32, temperature=0.0)
    doc = DocumentStore().open("file:///big.py", "python", 1, LONG + ", ")
    suggestion = await completer.complete(doc, len(doc.text))
    assert suggestion.text == "199999, 200000"
    assert len(engine.prompts[-1]) < 20_000 and engine.longest < 20_000
    assert Budget.for_window(2048, 32, False).prefix >= engine.count_tokens(engine.prompts[-1]) - 8
