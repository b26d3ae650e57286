"""Property tests (hypothesis): random incremental ``didChange`` sequences, positions in UTF-16
code units, over Hangul, emoji (surrogate pairs in UTF-16), CRLF, lone CR and empty texts.

The reference applies each edit to a plain ``str`` with its own UTF-16 arithmetic (nothing
from :mod:`codesaga.documents`); the store's text must equal it after every notification, and
its incrementally parsed tree must equal a fresh parse of that text."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol.types import Position, Range, TextDocumentContentChangePartial

from codesaga.documents import DocumentStore
from codesaga.syntax.languages import new_parser

from .test_documents import node_list

PIECES = ["a", "x", " ", "\t", "\n", "\r\n", "\r", "한", "글", "😀", "🎉", "(", ")", ":", '"']
PIECES.append("def ")
"""What texts are made of: Hangul (3 UTF-8 bytes, 1 UTF-16 unit), emoji (4 bytes, 2 units),
every line terminator LSP knows, and characters that change a Python parse."""

texts = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")


def reference_lines(text: str) -> list[tuple[int, str]]:
    """(str offset of the line start, line text without its terminator) for each LSP line;
    a text ending in a terminator has an empty last line, and "" has one empty line."""
    lines: list[tuple[int, str]] = []
    offset = 0
    while True:
        match = _LINE.match(text, offset)
        assert match is not None
        chunk = match.group(0)
        lines.append((offset, chunk.rstrip("\r\n")))
        if not chunk or not chunk.endswith(("\n", "\r")):
            return lines
        offset += len(chunk)
        if offset == len(text):
            lines.append((offset, ""))
            return lines


def utf16_units(text: str) -> int:
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


@st.composite
def position(draw: st.DrawFn, text: str) -> tuple[int, Position]:
    """A valid position in ``text``: (str offset, LSP position in UTF-16 units)."""
    lines = reference_lines(text)
    line = draw(st.integers(0, len(lines) - 1))
    start, line_text = lines[line]
    column = draw(st.integers(0, len(line_text)))  # in code points: never inside a pair
    return start + column, Position(line=line, character=utf16_units(line_text[:column]))


@st.composite
def edit(draw: st.DrawFn, text: str) -> tuple[str, TextDocumentContentChangePartial]:
    """One change to ``text``: the reference's new text and the LSP change event."""
    (a, pa), (b, pb) = draw(position(text)), draw(position(text))
    if b < a:
        (a, pa), (b, pb) = (b, pb), (a, pa)
    new = draw(texts)
    change = TextDocumentContentChangePartial(range=Range(start=pa, end=pb), text=new)
    return text[:a] + new + text[b:], change


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    language=st.sampled_from(["python", "typescript"]),
    initial=texts,
    data=st.data(),
)
def test_incremental_edits_match_a_reference_and_a_fresh_parse(
    language: str, initial: str, data: st.DataObject
) -> None:
    store = DocumentStore(parse_idle_seconds=0.0)
    uri = "file:///prop." + ("py" if language == "python" else "ts")
    store.open(uri, language, 0, initial)
    reference = initial
    for version in range(1, data.draw(st.integers(1, 8), label="notifications") + 1):
        changes = []
        for _ in range(data.draw(st.integers(1, 3), label="changes")):
            reference, change = data.draw(edit(reference), label="edit")
            changes.append(change)
        doc = store.change(uri, version, changes)
        assert doc.text == reference
        assert doc.utf8() == reference.encode("utf-8")
        for offset, line_text in reference_lines(reference)[:50]:
            end = offset + len(line_text)
            assert doc.position_at(end) == Position(
                line=doc.line_at(offset), character=utf16_units(line_text)
            )
        if data.draw(st.booleans(), label="parse now"):  # else edits pile onto a stale tree
            parsed = store.parsed(uri)
            assert parsed.text == reference
            assert_fresh(parsed.tree, parsed.grammar, reference)
    final = store.parsed(uri)
    assert final.text == reference
    assert_fresh(final.tree, final.grammar, reference)
    store.close(uri)


def assert_fresh(tree: object, grammar: str | None, text: str) -> None:
    assert tree is not None and grammar is not None
    fresh = new_parser(grammar).parse(text.encode("utf-8"))
    assert node_list(tree) == node_list(fresh)  # type: ignore[arg-type]
