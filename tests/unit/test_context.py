"""Context building: token-budgeted windows on line boundaries, scope and imports kept."""

from __future__ import annotations

from lsprotocol.types import Position, Range, TextDocumentContentChangePartial

from codesaga.context import (
    SNAP_LINES,
    Budget,
    LineTokens,
    build_completion_context,
    first_window_end,
    past_blank_line,
)
from codesaga.documents import DocumentStore
from codesaga.postprocess import Mode


def count(text: str) -> int:
    return len(text) // 4 + 1


def python_doc(n_filler: int):  # noqa: ANN201
    body = "".join(f"        total += {i}\n" for i in range(n_filler))
    text = (
        "import os\nfrom pathlib import Path\n\n\n"
        "class Report:\n"
        "    def total(self, values):\n"
        "        total = 0\n" + body + "        return \n\n"
        "    def other(self):\n        pass\n"
    )
    return DocumentStore().open("file:///r.py", "python", 1, text), text


def test_small_file_has_everything_in_the_window() -> None:
    doc, text = python_doc(3)
    line = text.splitlines().index("        return ")
    ctx = build_completion_context(
        doc,
        doc.offset_at(Position(line=line, character=15)),
        LineTokens(count),
        Budget(500, 200, 100),
    )
    assert ctx.prefix == text[: ctx.offset]
    assert ctx.context == ""  # nothing lies outside the window
    assert ctx.suffix.startswith("\n\n    def other(self):")
    assert ctx.cursor.line_prefix == "        return "
    assert ctx.mode is Mode.SINGLE_LINE


def test_window_on_snapped_line_boundary_keeps_imports_and_scope() -> None:
    doc, text = python_doc(400)
    line = text.splitlines().index("        return ")
    ctx = build_completion_context(
        doc,
        doc.offset_at(Position(line=line, character=15)),
        LineTokens(count),
        Budget(300, 50, 100),
    )
    assert ctx.window_start_line % SNAP_LINES == 0
    assert ctx.prefix.startswith("        total += ")  # a whole line
    assert sum(count(x + "\n") for x in ctx.prefix.splitlines()) <= 300
    assert ctx.context == (
        "import os\nfrom pathlib import Path\nclass Report:\n    def total(self, values):\n"
    )
    assert sum(count(x + "\n") for x in ctx.suffix.splitlines()[1:]) <= 50


def test_first_window_end_reaches_as_far_as_a_window_from_line_zero() -> None:
    doc, text = python_doc(400)
    budget, tokens = Budget(300, 50, 100), LineTokens(count)
    end_offset = first_window_end(doc, tokens, budget)
    end = doc.position_at(end_offset)
    assert 0 < end.line < doc.line_count - 1 and end.character == 0
    fits = sum(count(x + "\n") for x in text.splitlines()[: end.line])
    assert fits <= 300 < fits + count(text.splitlines()[end.line] + "\n")
    # a cursor anywhere before it has a window from line 0: its prompt starts the same
    for line in (1, end.line // 2, end.line):
        ctx = build_completion_context(
            doc, doc.offset_at(Position(line=line, character=0)), tokens, budget
        )
        assert ctx.window_start_line == 0 and ctx.context == ""
    past = build_completion_context(
        doc, doc.offset_at(Position(line=end.line + 1, character=0)), tokens, budget
    )
    assert past.window_start_line > 0
    small, small_text = python_doc(3)
    assert first_window_end(small, tokens, budget) == len(small_text)


def test_window_start_is_stable_while_typing() -> None:
    doc, text = python_doc(400)
    line = text.splitlines().index("        return ")
    budget, tokens = Budget(300, 50, 100), LineTokens(count)
    first = build_completion_context(
        doc, doc.offset_at(Position(line=line, character=15)), tokens, budget
    )
    store = DocumentStore()
    typed = store.open(
        "file:///r.py", "python", 1, text.replace("        return ", "        return t")
    )
    second = build_completion_context(
        typed, typed.offset_at(Position(line=line, character=16)), tokens, budget
    )
    assert second.window_start_line == first.window_start_line
    assert second.prefix.startswith(first.prefix)


def test_stale_tree_after_a_keystroke_gives_the_same_context() -> None:
    """change() hands out the old tree edited, not re-parsed: imports and scope headers
    outside the window still come out, read from the current text."""
    _, text = python_doc(400)
    store = DocumentStore()
    store.open("file:///r.py", "python", 1, text)
    line = text.splitlines().index("        return ")
    budget, tokens = Budget(300, 50, 100), LineTokens(count)
    for version, key in enumerate("total + (", start=2):
        column = 15 + version - 2
        doc = store.change(
            "file:///r.py",
            version,
            [
                TextDocumentContentChangePartial(
                    range=Range(
                        start=Position(line=line, character=column),
                        end=Position(line=line, character=column),
                    ),
                    text=key,
                )
            ],
        )
        assert doc.tree_stale
        cursor = Position(line=line, character=column + 1)
        stale = build_completion_context(doc, doc.offset_at(cursor), tokens, budget)
        fresh = build_completion_context(
            store.parsed(doc.uri), doc.offset_at(cursor), tokens, budget
        )
        assert stale == fresh
        assert stale.context == (
            "import os\nfrom pathlib import Path\nclass Report:\n    def total(self, values):\n"
        )


def test_block_opener_gives_multi_line() -> None:
    text = "def f(x):\n    \n\ndef g():\n    pass\n"
    doc = DocumentStore().open("file:///m.py", "python", 1, text)
    ctx = build_completion_context(
        doc, doc.offset_at(Position(line=1, character=4)), LineTokens(count), Budget(500, 100, 100)
    )
    assert ctx.mode is Mode.MULTI_LINE


def test_past_a_blank_line() -> None:
    text = "def f(x):\n    y = x\n    \n"
    doc = DocumentStore().open("file:///b.py", "python", 1, text)
    at = build_completion_context(
        doc, doc.offset_at(Position(line=2, character=4)), LineTokens(count), Budget(500, 100, 100)
    )
    past = past_blank_line(at)
    assert past is not None
    assert past.prefix == "def f(x):\n    y = x\n\n"  # the indentation left behind is trimmed
    assert past.cursor.line_prefix == "" and past.cursor.previous_line == "    y = x"
    assert past.mode is Mode.SINGLE_LINE
    code = build_completion_context(
        doc, doc.offset_at(Position(line=1, character=9)), LineTokens(count), Budget(500, 100, 100)
    )
    assert past_blank_line(code) is None


def test_budget_split() -> None:
    fim = Budget.for_window(2048, 64, uses_suffix=True)
    prefix_only = Budget.for_window(2048, 64, uses_suffix=False)
    assert fim.prefix + fim.suffix + fim.context <= 2048 - 64
    assert prefix_only.prefix > fim.prefix
