"""DocumentStore / Document: unit conversions, line handling, incremental edits and parses
(stale edited trees on change, the background re-parse, ``parsed()``)."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from lsprotocol.types import (
    Position,
    Range,
    TextDocumentContentChangePartial,
    TextDocumentContentChangeWholeDocument,
)
from tree_sitter import Node, Tree

import codesaga.documents.store as store_module
from codesaga import documents
from codesaga.documents import (
    Document,
    DocumentError,
    DocumentStore,
    PositionError,
    UnknownDocumentError,
)
from codesaga.documents.encoding import (
    ENCODINGS,
    UTF8,
    UTF16,
    UTF32,
    decode,
    encode,
    index_of_units,
    units,
)
from codesaga.documents.lines import LineIndex
from codesaga.documents.utf8 import Utf8Index
from codesaga.syntax import enclosing_scopes, import_spans, new_parser

HANGUL = '# 한국어 주석\nx = "안녕하세요"\n'
EMOJI = 's = "😀!"\n'


@pytest.fixture(autouse=True)
def _parse_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Background re-parses start at once here (the idle wait has a test of its own)."""
    monkeypatch.setattr(store_module, "PARSE_IDLE_SECONDS", 0.0)


def pos(line: int, character: int) -> Position:
    return Position(line=line, character=character)


def edit(
    start: tuple[int, int], end: tuple[int, int], text: str
) -> TextDocumentContentChangePartial:
    return TextDocumentContentChangePartial(
        range=Range(start=pos(*start), end=pos(*end)), text=text
    )


def whole(text: str) -> TextDocumentContentChangeWholeDocument:
    return TextDocumentContentChangeWholeDocument(text=text)


def node_list(tree: Tree) -> list[tuple[object, ...]]:
    """Every node with its byte range and points: stricter than comparing s-expressions."""
    out: list[tuple[object, ...]] = []

    def visit(node: Node) -> None:
        out.append(
            (
                node.type,
                node.start_byte,
                node.end_byte,
                tuple(node.start_point),
                tuple(node.end_point),
                node.is_missing,
            )
        )
        for child in node.children:
            visit(child)

    visit(tree.root_node)
    return out


def assert_tree_matches_fresh_parse(document: Document) -> None:
    assert document.tree is not None
    assert not document.tree_stale
    assert document.grammar is not None
    fresh = new_parser(document.grammar).parse(document.text.encode("utf-8", "surrogatepass"))
    assert str(document.tree.root_node) == str(fresh.root_node)
    assert node_list(document.tree) == node_list(fresh)


# --------------------------------------------------------------------------- conversions


def test_hangul_conversions() -> None:
    doc = Document("file:///k.py", "python", 1, HANGUL)
    assert doc.line_count == 3  # the empty line after the final "\n" counts
    assert doc.line_text(0) == "# 한국어 주석"
    assert doc.line_text(1) == 'x = "안녕하세요"'
    assert doc.line_text(2) == ""
    # line 0: "# " + 3 Hangul (3 bytes each) + " " + 2 Hangul + "\n" = 8 chars, 18 bytes
    assert doc.offset_at(pos(0, 3)) == 3  # after "한": 3 UTF-16 units, 3 code points
    assert doc.byte_at(3) == 5  # "# " (2) + "한" (3)
    assert doc.offset_at(pos(1, 0)) == 9
    assert doc.byte_at(9) == 19
    assert doc.offset_at(pos(1, 5)) == 14  # before "안"
    assert doc.byte_at(14) == 24
    assert doc.offset_at(pos(1, 6)) == 15  # after "안"
    assert doc.byte_at(15) == 27
    assert doc.byte_at(len(HANGUL)) == len(HANGUL.encode()) == 41
    assert doc.position_at(15) == pos(1, 6)
    assert doc.offset_of_byte(27) == 15
    assert doc.offset_of_byte(41) == len(HANGUL)
    # a byte offset inside "안" (bytes 24..27) rounds down to its start
    assert doc.offset_of_byte(25) == 14
    assert doc.offset_of_byte(26) == 14
    # round trips over every offset
    for offset in range(len(HANGUL) + 1):
        assert doc.offset_at(doc.position_at(offset)) == offset
        assert doc.offset_of_byte(doc.byte_at(offset)) == offset


def test_emoji_is_two_utf16_units_and_four_bytes() -> None:
    doc = Document("file:///e.py", "python", 1, EMOJI)
    # 's = "' is 5 chars; the emoji is 1 code point, 2 UTF-16 units, 4 UTF-8 bytes
    assert doc.offset_at(pos(0, 5)) == 5
    assert doc.byte_at(5) == 5
    assert doc.offset_at(pos(0, 7)) == 6  # after the emoji
    assert doc.byte_at(6) == 9
    assert doc.position_at(6) == pos(0, 7)
    assert doc.offset_at(pos(0, 8)) == 7  # after "!"
    assert doc.byte_at(7) == 10
    assert doc.position_at(7) == pos(0, 8)
    assert doc.offset_of_byte(9) == 6
    assert doc.offset_of_byte(7) == 5  # inside the emoji: rounds down
    # a character pointing into the middle of the surrogate pair rounds down
    assert doc.offset_at(pos(0, 6)) == 5
    assert doc.offset_at(pos(0, 100)) == 8  # clamps before "\n"
    for offset in range(len(EMOJI) + 1):
        assert doc.offset_at(doc.position_at(offset)) == offset
        assert doc.offset_of_byte(doc.byte_at(offset)) == offset


def test_ascii_fast_path_round_trips() -> None:
    text = "def f(a):\n    return a\n"
    doc = Document("file:///a.py", "python", 1, text)
    for offset in range(len(text) + 1):
        assert doc.byte_at(offset) == offset
        assert doc.offset_of_byte(offset) == offset
        assert doc.offset_at(doc.position_at(offset)) == offset
    assert doc.position_at(14) == pos(1, 4)


def test_character_past_end_of_line_clamps() -> None:
    doc = Document("file:///a.py", "python", 1, "ab\ncde\nf")
    assert doc.offset_at(pos(0, 2)) == 2
    assert doc.offset_at(pos(0, 3)) == 2  # the "\n" is not part of the line
    assert doc.offset_at(pos(0, 999)) == 2
    assert doc.offset_at(pos(1, 999)) == 6
    assert doc.offset_at(pos(2, 999)) == 8  # last line, no terminator


def test_line_past_the_end() -> None:
    doc = Document("file:///a.py", "python", 1, "ab\ncd\n")
    assert doc.line_count == 3
    assert doc.offset_at(pos(2, 0)) == 6  # the empty last line
    assert doc.offset_at(pos(3, 0)) == 6  # one past the last line: end of text
    assert doc.offset_at(pos(3, 5)) == 6
    with pytest.raises(PositionError):
        doc.offset_at(pos(4, 0))
    with pytest.raises(PositionError):
        doc.line_text(3)
    with pytest.raises(PositionError):
        doc.position_at(7)
    with pytest.raises(PositionError):
        doc.byte_at(-1)
    with pytest.raises(PositionError):
        doc.offset_of_byte(7)


def test_negative_positions_raise() -> None:
    @dataclass
    class RawPosition:  # lsprotocol's Position refuses negative numbers itself
        line: int
        character: int

    doc = Document("file:///a.py", "python", 1, "ab\n")
    with pytest.raises(PositionError):
        doc.offset_at(RawPosition(-1, 0))  # type: ignore[arg-type]
    with pytest.raises(PositionError):
        doc.offset_at(RawPosition(0, -1))  # type: ignore[arg-type]
    assert issubclass(PositionError, DocumentError)


def test_crlf_and_lone_cr_line_endings() -> None:
    doc = Document("file:///w.py", "python", 1, "a\r\nbc\r\n")
    assert doc.line_count == 3
    assert [doc.line_text(i) for i in range(3)] == ["a", "bc", ""]
    assert doc.offset_at(pos(0, 5)) == 1  # clamps before "\r\n"
    assert doc.offset_at(pos(1, 1)) == 4
    assert doc.offset_at(pos(1, 9)) == 5
    assert doc.offset_at(pos(2, 0)) == 7
    assert doc.position_at(4) == pos(1, 1)
    assert doc.position_at(7) == pos(2, 0)

    mac = Document("file:///m.py", "python", 1, "a\rb\n\rc")
    assert mac.line_count == 4
    assert [mac.line_text(i) for i in range(4)] == ["a", "b", "", "c"]
    assert mac.offset_at(pos(3, 0)) == 5
    assert mac.position_at(2) == pos(1, 0)


def test_line_text_with_unicode_line() -> None:
    doc = Document("file:///k.py", "python", 1, HANGUL)
    assert doc.position_at(doc.offset_at(pos(1, 10))) == pos(1, 10)
    assert doc.line_text(1)[5:10] == "안녕하세요"


# ----------------------------------------------------------------------------- line API


def test_line_api_counts_code_points_with_hangul_and_emoji() -> None:
    doc = Document("file:///k.py", "python", 1, "가나다\n😀x\n")
    assert doc.line_count == 3
    assert [doc.line_start(i) for i in range(4)] == [0, 4, 7, 7]  # 3: one past the last line
    assert [doc.line_end(i) for i in range(3)] == [3, 6, 7]  # the emoji is one code point
    assert [doc.line_at(o) for o in range(8)] == [0, 0, 0, 0, 1, 1, 1, 2]
    assert doc.text[doc.line_start(1) : doc.line_end(1)] == "😀x" == doc.line_text(1)
    emoji = Document("file:///e.py", "python", 1, EMOJI)
    assert emoji.line_end(0) == len('s = "😀!"') == 8 and emoji.line_at(8) == 0


def test_line_api_with_crlf_and_a_lone_cr() -> None:
    crlf = Document("file:///w.py", "python", 1, "a\r\nbc\r\n")
    assert [crlf.line_start(i) for i in range(3)] == [0, 3, 7]
    assert [crlf.line_end(i) for i in range(3)] == [1, 5, 7]  # before "\r\n"
    assert [crlf.line_at(o) for o in range(8)] == [0, 0, 0, 1, 1, 1, 1, 2]  # "\r\n": line 0
    lone = Document("file:///m.py", "python", 1, "a\rb\r\nc")
    assert lone.line_count == 3
    assert [lone.line_start(i) for i in range(4)] == [0, 2, 5, 6]
    assert [lone.line_end(i) for i in range(3)] == [1, 3, 6]
    assert [lone.line_at(o) for o in range(7)] == [0, 0, 1, 1, 1, 2, 2]


def test_line_api_empty_last_line_and_empty_text() -> None:
    doc = Document("file:///a.py", "python", 1, "x = 1\n")
    last = doc.line_count - 1
    assert last == 1 and doc.line_start(last) == doc.line_end(last) == len(doc.text)
    assert doc.line_at(len(doc.text)) == last and doc.line_text(last) == ""
    empty = Document("file:///b.py", "python", 1, "")
    assert empty.line_count == 1
    assert empty.line_start(0) == empty.line_end(0) == empty.line_start(1) == 0
    assert empty.line_at(0) == 0


def test_line_api_out_of_range_raises_position_error() -> None:
    doc = Document("file:///a.py", "python", 1, "ab\n가")  # 2 lines, 4 characters
    for call, arg in (
        (doc.line_start, -1),
        (doc.line_start, 3),  # line_count (2) is allowed: the end of the text
        (doc.line_end, -1),
        (doc.line_end, 2),
        (doc.line_at, -1),
        (doc.line_at, 5),
    ):
        with pytest.raises(PositionError) as raised:
            call(arg)
        assert raised.value.code == -32602  # InvalidParams
    assert doc.line_start(2) == 4 and doc.line_at(4) == 1


@pytest.mark.parametrize(
    "text", ["", "a", HANGUL, EMOJI, "a\r\nb\rc\n\n", "\r\r\n😀\r가\n", "x\ry"]
)
def test_line_api_agrees_with_the_lsp_conversions(text: str) -> None:
    for encoding in documents.ENCODINGS:
        doc = Document("file:///a.py", "python", 1, text, encoding=encoding)
        for line in range(doc.line_count):
            assert doc.line_start(line) == doc.offset_at(pos(line, 0))
            assert doc.line_end(line) == doc.offset_at(pos(line, 10**6))
            assert doc.text[doc.line_start(line) : doc.line_end(line)] == doc.line_text(line)
        for offset in range(len(text) + 1):
            assert doc.line_at(offset) == doc.position_at(offset).line


# ---------------------------------------------------------------------------- the store


def test_open_get_close_and_unknown_uri() -> None:
    store = DocumentStore()
    with pytest.raises(UnknownDocumentError):
        store.get("file:///missing.py")
    with pytest.raises(UnknownDocumentError):
        store.change("file:///missing.py", 2, [whole("x")])
    doc = store.open("file:///a.py", "python", 3, "x = 1\n")
    assert "file:///a.py" in store
    assert store.get("file:///a.py") is doc
    assert (doc.uri, doc.language_id, doc.version, doc.grammar) == (
        "file:///a.py",
        "python",
        3,
        "python",
    )
    assert doc.tree is not None
    assert str(doc.tree.root_node).startswith("(module")
    store.close("file:///a.py")
    assert "file:///a.py" not in store
    store.close("file:///a.py")  # closing twice is harmless
    with pytest.raises(UnknownDocumentError):
        store.get("file:///a.py")


def test_incremental_python_edits() -> None:
    uri = "file:///edit.py"
    store = DocumentStore()
    text = 'def greet(name):\n    # 한국어 주석\n    return "안녕 " + name\n'
    store.open(uri, "python", 1, text)

    steps: list[tuple[TextDocumentContentChangePartial, str]] = [
        # insert a character
        (
            edit((0, 9), (0, 9), "_"),
            'def greet_(name):\n    # 한국어 주석\n    return "안녕 " + name\n',
        ),
        # delete it again
        (edit((0, 9), (0, 10), ""), text),
        # replace a word
        (
            edit((0, 10), (0, 14), "who"),
            'def greet(who):\n    # 한국어 주석\n    return "안녕 " + name\n',
        ),
        # edit on the Hangul line: replace "주석" (UTF-16 columns 10..12)
        (
            edit((1, 10), (1, 12), "설명 😀"),
            'def greet(who):\n    # 한국어 설명 😀\n    return "안녕 " + name\n',
        ),
        # after the emoji (2 units): append text to that line
        (
            edit((1, 15), (1, 15), "!"),
            'def greet(who):\n    # 한국어 설명 😀!\n    return "안녕 " + name\n',
        ),
        # a Hangul string: replace "안녕" (columns 12..14) on line 2
        (
            edit((2, 12), (2, 14), "잘 가"),
            'def greet(who):\n    # 한국어 설명 😀!\n    return "잘 가 " + name\n',
        ),
        # multi-line insert
        (
            edit((1, 0), (1, 0), "    x = 1\n    if x:\n        pass\n"),
            "def greet(who):\n    x = 1\n    if x:\n        pass\n    # 한국어 설명 😀!\n"
            '    return "잘 가 " + name\n',
        ),
        # multi-line delete joining two lines
        (
            edit((2, 9), (4, 4), " "),
            'def greet(who):\n    x = 1\n    if x: # 한국어 설명 😀!\n    return "잘 가 " + name\n',
        ),
        # replace across lines with new lines; fix the name
        (
            edit((4, 0), (4, 0), "\nclass K:\n    def m(self) -> None: ...\n"),
            'def greet(who):\n    x = 1\n    if x: # 한국어 설명 😀!\n    return "잘 가 " + name\n'
            "\nclass K:\n    def m(self) -> None: ...\n",
        ),
    ]
    for version, (change, expected) in enumerate(steps, start=2):
        doc = store.change(uri, version, [change])
        assert doc.text == expected
        assert doc.version == version
        assert doc.tree_stale
        if version % 2:
            assert store.wait_idle(10)
            doc = store.get(uri)  # the background parse landed
        else:
            doc = store.parsed(uri)
        assert doc.text == expected and doc.version == version
        assert_tree_matches_fresh_parse(doc)


def test_several_changes_in_one_notification() -> None:
    uri = "file:///multi.py"
    store = DocumentStore()
    store.open(uri, "python", 1, "a = 1\nb = 2\n")
    doc = store.change(
        uri,
        2,
        [
            edit((0, 4), (0, 5), "10"),  # a = 10
            edit((1, 0), (1, 0), "c = 3\n"),  # positions refer to the text after change 1
            edit((3, 0), (3, 0), "d = '한'\n"),
        ],
    )
    assert doc.text == "a = 10\nc = 3\nb = 2\nd = '한'\n"
    assert_tree_matches_fresh_parse(store.parsed(uri))


def test_incremental_typescript_edits() -> None:
    uri = "file:///app.ts"
    store = DocumentStore()
    text = (
        'import { x } from "./x";\n'
        "export class Greeter {\n"
        "  greet(name: string): string {\n"
        '    return "안녕 " + name;\n'
        "  }\n"
        "}\n"
    )
    doc = store.open(uri, "typescript", 1, text)
    assert doc.grammar == "typescript"
    changes = [
        edit((2, 8), (2, 12), "who"),
        edit((3, 19), (3, 23), "who"),
        edit((3, 12), (3, 14), "😀"),
        edit((4, 3), (4, 3), "\n  static make(): Greeter {\n    return new Greeter();\n  }"),
        edit((0, 0), (1, 0), ""),
        edit((6, 3), (6, 3), " // done"),
    ]
    expected = (
        "export class Greeter {\n"
        "  greet(who: string): string {\n"
        '    return "😀 " + who;\n'
        "  }\n"
        "  static make(): Greeter {\n"
        "    return new Greeter();\n"
        "  } // done\n"
        "}\n"
    )
    version = 1
    for change in changes:
        version += 1
        store.change(uri, version, [change])
        assert store.wait_idle(10)
        doc = store.get(uri)
        assert_tree_matches_fresh_parse(doc)
    assert doc.text == expected


def test_whole_document_change_reparses() -> None:
    uri = "file:///w.ts"
    store = DocumentStore()
    store.open(uri, "typescript", 1, "let a = 1;\n")
    doc = store.change(uri, 2, [whole("const b: number = 2;\n"), edit((0, 6), (0, 7), "c")])
    assert doc.text == "const c: number = 2;\n"
    assert doc.tree is None and doc.tree_stale  # no old tree to edit: a full parse is due
    assert_tree_matches_fresh_parse(store.parsed(uri))
    store.change(uri, 3, [whole("let d = 4;\n")])
    assert store.wait_idle(10)
    assert_tree_matches_fresh_parse(store.get(uri))


def test_documents_are_snapshots() -> None:
    uri = "file:///snap.py"
    store = DocumentStore()
    old = store.open(uri, "python", 1, "x = 1\n")
    assert old.tree is not None
    old_sexp = str(old.tree.root_node)
    new = store.change(uri, 2, [edit((0, 5), (0, 5), "\ndef f(): pass")])
    assert new is not old
    assert old.text == "x = 1\n" and old.version == 1
    assert str(old.tree.root_node) == old_sexp  # the old tree was not edited
    assert old.tree.root_node.end_byte == 6
    assert store.get(uri).version == 2  # `new`, or its re-parsed copy
    fresh = store.parsed(uri)
    assert new.tree_stale and not fresh.tree_stale  # `new` itself was not touched
    assert new.tree is not None and new.tree is not fresh.tree
    bumped = store.change(uri, 3, [])
    assert bumped.version == 3 and bumped.text == new.text
    assert bumped.tree is fresh.tree and not bumped.tree_stale  # nothing to parse


def test_unknown_language_keeps_text_without_tree() -> None:
    uri = "file:///notes.txt"
    store = DocumentStore()
    doc = store.open(uri, "plaintext", 1, "hello\nworld\n")
    assert doc.grammar is None
    assert doc.tree is None
    doc = store.change(uri, 2, [edit((1, 0), (1, 5), "there"), edit((0, 5), (0, 5), ",")])
    assert doc.text == "hello,\nthere\n"
    assert doc.tree is None and not doc.tree_stale
    assert store.parsed(uri) is doc


def test_language_from_extension_when_id_unknown() -> None:
    store = DocumentStore()
    doc = store.open("file:///src/main.rs", "", 1, "fn main() {}\n")
    assert doc.grammar == "rust"
    assert doc.tree is not None


def test_a_keystroke_does_not_encode_the_whole_text() -> None:
    store = DocumentStore()
    store.open("file:///k.py", "python", 1, HANGUL * 100)
    typed = store.change("file:///k.py", 2, [edit((1, 0), (1, 0), "y")])
    assert typed.tree is not None and typed.tree_stale
    assert typed._bytes._data is None  # UTF-8 of the text: made only when a parse needs it
    assert_tree_matches_fresh_parse(store.parsed("file:///k.py"))


def test_a_nul_typed_or_deleted_switches_parsing() -> None:
    store = DocumentStore()
    store.open("file:///n.py", "python", 1, HANGUL)
    binary = store.change("file:///n.py", 2, [edit((0, 0), (0, 0), "\x00")])
    assert binary.tree is None and not binary.tree_stale
    still = store.change("file:///n.py", 3, [edit((1, 0), (1, 0), "y")])
    assert still.tree is None and not still.tree_stale
    clean = store.change("file:///n.py", 4, [edit((0, 0), (0, 1), "")])
    assert clean.text == HANGUL.replace("x =", "yx =") and clean.tree_stale
    assert_tree_matches_fresh_parse(store.parsed("file:///n.py"))


def test_binary_and_huge_documents_are_not_parsed() -> None:
    store = DocumentStore(max_bytes=100)
    binary = store.open("file:///blob.py", "python", 1, "x = 1\x00\x01\x02\n")
    assert binary.tree is None
    binary = store.change("file:///blob.py", 2, [edit((0, 0), (0, 0), "y")])
    assert binary.tree is None and not binary.tree_stale
    assert binary.text == "yx = 1\x00\x01\x02\n"
    assert store.parsed("file:///blob.py").tree is None

    huge_text = "# " + "한" * 40 + "\n"  # 43 chars but 123 UTF-8 bytes
    huge = store.open("file:///huge.py", "python", 1, huge_text)
    assert huge.tree is None
    # shrinking below the limit parses again
    small = store.change("file:///huge.py", 2, [edit((0, 2), (0, 42), "")])
    assert small.text == "# \n"
    assert small.tree is None and small.tree_stale  # no tree to edit: a full parse is due
    assert_tree_matches_fresh_parse(store.parsed("file:///huge.py"))
    # growing past it drops the tree, without raising
    big = store.change("file:///huge.py", 3, [edit((0, 2), (0, 2), "x" * 200)])
    assert big.tree is None and not big.tree_stale
    assert store.wait_idle(10)
    assert store.get("file:///huge.py").tree is None


def test_lone_surrogates_do_not_raise() -> None:
    store = DocumentStore()
    doc = store.open("file:///s.py", "python", 1, 'x = "\ud800"\ny = 2\n')
    assert doc.tree is not None
    assert doc.byte_at(6) == 8  # "\ud800" encodes to 3 bytes with surrogatepass
    assert doc.position_at(6) == pos(0, 6)
    doc = store.change("file:///s.py", 2, [edit((1, 4), (1, 5), "3")])
    assert doc.text == 'x = "\ud800"\ny = 3\n'
    assert_tree_matches_fresh_parse(store.parsed("file:///s.py"))


def test_random_edits_match_fresh_state() -> None:
    """Line index, byte index and tree stay equal to a from-scratch build under random edits
    (including CRLF, lone CR, Hangul and emoji)."""
    rng = random.Random(20250101)
    pieces = ["a", " ", "\n", "\r\n", "\r", "한", "😀", "(", ")", ":", "def ", "x = 1\n", "\t"]
    uri = "file:///random.py"
    store = DocumentStore()
    reference = "def f(x):\n    return '한국어' + 😀\r\nclass A:\r    pass\n"
    store.open(uri, "python", 0, reference)
    for version in range(1, 300):
        changes = []
        for _ in range(rng.randint(1, 3)):
            current = Document(uri, "python", 0, reference)
            start = rng.randint(0, len(reference))
            end = min(len(reference), start + rng.choice([0, 0, 1, 2, 5]))
            # positions cannot point between "\r" and "\n"
            if 0 < start < len(reference) and reference[start - 1 : start + 1] == "\r\n":
                start -= 1
            if 0 < end < len(reference) and reference[end - 1 : end + 1] == "\r\n":
                end += 1
            new_text = "".join(rng.choice(pieces) for _ in range(rng.choice([0, 1, 2, 4])))
            changes.append(
                TextDocumentContentChangePartial(
                    range=Range(start=current.position_at(start), end=current.position_at(end)),
                    text=new_text,
                )
            )
            reference = reference[:start] + new_text + reference[end:]
        doc = store.change(uri, version, changes)
        assert doc.text == reference
        fresh = Document(uri, "python", 0, reference)
        assert doc.line_count == fresh.line_count
        assert [doc.line_text(i) for i in range(doc.line_count)] == [
            fresh.line_text(i) for i in range(fresh.line_count)
        ]
        for offset in range(0, len(reference) + 1, 7):
            assert doc.byte_at(offset) == fresh.byte_at(offset)
            assert doc.position_at(offset) == fresh.position_at(offset)
        assert doc.tree is not None  # the edited tree spans the new text
        assert doc.tree.root_node.end_byte == len(reference.encode("utf-8", "surrogatepass"))
        if version % 3 == 0:  # else the next edits apply to a stale tree
            assert_tree_matches_fresh_parse(store.parsed(uri))
    assert store.wait_idle(10)
    assert_tree_matches_fresh_parse(store.get(uri))


def test_line_and_byte_indexes_follow_edits_like_fresh_ones() -> None:
    """LineIndex.replaced and Utf8Index.replaced (the incremental update of one keystroke)
    give the same line starts, str and UTF-8, as indexes built from the new text."""
    rng = random.Random(14)
    pieces = ["a", "\n", "\r\n", "\r", "한", "😀", "x = 1\n"]
    text = "a\r\n한\rb😀\nc\n"
    lines = LineIndex(text, "file:///i.py")
    data = Utf8Index(lines)
    data.line_starts()  # known byte line starts are updated, not dropped
    for _ in range(300):
        start = rng.randint(0, len(text))
        end = min(len(text), start + rng.choice([0, 1, 3]))
        new_text = "".join(rng.choice(pieces) for _ in range(rng.choice([0, 1, 3])))
        lines, rescan = lines.replaced(start, end, new_text)
        data = data.replaced(lines, rescan)
        text = text[:start] + new_text + text[end:]
        fresh = LineIndex(text)
        assert lines.text == text and lines.starts == fresh.starts
        assert lines.lone_cr == fresh.lone_cr
        assert data.line_starts() == Utf8Index(fresh).line_starts()
        assert data.data() == text.encode("utf-8", "surrogatepass")
        assert data.ascii == text.isascii()


def test_position_encoding_units_of_one_line() -> None:
    line = "a한😀b"
    assert [units(line, e) for e in (UTF8, UTF16, UTF32)] == [1 + 3 + 4 + 1, 1 + 1 + 2 + 1, 4]
    assert [index_of_units(line, 3, e) for e in (UTF8, UTF16, UTF32)] == [1, 2, 3]
    assert index_of_units(line, 5, UTF8) == 2  # inside the emoji's 4 bytes: its start
    assert index_of_units(line, 3, UTF16) == 2  # inside the surrogate pair: its start
    assert [index_of_units(line, 99, e) for e in ENCODINGS] == [4, 4, 4]  # clamps
    assert decode(encode("\ud800x")) == "\ud800x"  # a lone surrogate survives


# --- negotiated position encodings (Neovim asks for UTF-8 first) ----------------------------

HANGUL_LINE = 'x = "안녕"  # 😀 끝\n'


@pytest.mark.parametrize(
    ("encoding", "column_of_end_quote", "column_of_end"),
    [
        # x = "안녕" : 5 ASCII, 2 Hangul, then the closing quote
        ("utf-16", 7, 16),  # Hangul = 1 unit, emoji = 2 units
        ("utf-8", 11, 24),  # Hangul = 3 bytes, emoji = 4 bytes
        ("utf-32", 7, 15),  # one unit per code point
    ],
)
def test_position_encodings(encoding: str, column_of_end_quote: int, column_of_end: int) -> None:
    store = DocumentStore(encoding=encoding)
    doc = store.open("file:///enc.py", "python", 1, HANGUL_LINE)
    quote = HANGUL_LINE.index('"', 5)
    assert doc.position_at(quote) == Position(line=0, character=column_of_end_quote)
    assert doc.offset_at(Position(line=0, character=column_of_end_quote)) == quote
    end = len(HANGUL_LINE) - 1
    assert doc.position_at(end) == Position(line=0, character=column_of_end)
    # an edit keeps the encoding, and ranges are read in it
    doc = store.change(
        "file:///enc.py",
        2,
        [
            TextDocumentContentChangePartial(
                range=Range(
                    start=Position(line=0, character=column_of_end_quote),
                    end=Position(line=0, character=column_of_end_quote),
                ),
                text="요",
            )
        ],
    )
    assert doc.encoding == encoding
    assert doc.text == 'x = "안녕요"  # 😀 끝\n'


def test_utf8_column_inside_a_character_rounds_down() -> None:
    doc = DocumentStore(encoding="utf-8").open("file:///r.py", "python", 1, "가나\n")
    assert doc.offset_at(Position(line=0, character=4)) == 1  # byte 4 is inside "나"


# --- the background re-parse -------------------------------------------------------------------

GATE_SECONDS = 30.0
"""Longest a gated background parse waits (a test that forgot to open the gate still ends)."""


@dataclass
class ParseSpy:
    """Counts tree-sitter parses per thread; ``gate`` (open unless cleared) holds the
    background thread's parses; ``fail_background``/``fail_caller`` make parses raise."""

    calls: list[tuple[bool, bytes]] = field(default_factory=list)  # (background?, text)
    gate: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)
    fail_background: bool = False
    fail_caller: bool = False

    def parses(self, *, background: bool) -> list[bytes]:
        return [data for on_worker, data in self.calls if on_worker == background]


class _SpyParser:
    def __init__(self, grammar: str, spy: ParseSpy) -> None:
        self._parser = new_parser(grammar)
        self._spy = spy

    def parse(self, data: bytes, old_tree: Tree | None = None) -> Tree:
        background = threading.current_thread() is not threading.main_thread()
        self._spy.calls.append((background, data))
        if background:
            self._spy.entered.set()
            self._spy.gate.wait(GATE_SECONDS)
        if self._spy.fail_background if background else self._spy.fail_caller:
            raise RuntimeError("tree-sitter exploded")
        if old_tree is None:
            return self._parser.parse(data)
        return self._parser.parse(data, old_tree)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ParseSpy]:
    spy = ParseSpy()
    spy.gate.set()
    monkeypatch.setattr(store_module, "new_parser", lambda grammar: _SpyParser(grammar, spy))
    yield spy
    spy.gate.set()  # never leave the background thread waiting


MODULE = "import os\nfrom pathlib import Path\n\n\nclass Shop:\n" + "".join(
    f"    def item_{i}(self, sku: str) -> str:\n        return sku * {i}\n\n" for i in range(60)
)


def test_change_hands_out_the_edited_tree_without_parsing(spy: ParseSpy) -> None:
    uri = "file:///shop.py"
    store = DocumentStore()
    store.open(uri, "python", 1, MODULE)
    spy.gate.clear()
    line = MODULE.splitlines().index("    def item_30(self, sku: str) -> str:")
    end = len("        return sku * 30")  # type a line at the end of item_30's body
    doc = store.change(
        uri, 2, [edit((line + 1, end), (line + 1, end), '\n        x = "한국어 abc')]
    )
    assert spy.parses(background=False) == [MODULE.encode()]  # only open() parsed here
    assert doc.tree_stale and doc.tree is not None
    data = doc.utf8()
    assert doc.tree.root_node.end_byte == len(data)
    assert doc.tree.root_node.text is None  # tree-sitter drops an edited tree's text
    # nodes after the edit moved with the text (bytes and rows)
    later = data.index(b"def item_31")
    node = doc.tree.root_node.descendant_for_byte_range(later, later + 3)
    assert node is not None and node.type == "def" and node.start_point.row == line + 4
    # imports and scope headers read from the current text, as the completion context does
    cursor = data.index(b"abc") + 3
    headers = [s.header for s in enclosing_scopes(doc.tree, "python", cursor, data)]
    assert headers == ["def item_30(self, sku: str) -> str:", "class Shop:"]
    imports = [s.header for s in import_spans(doc.tree, "python", data)]
    assert imports == ["import os", "from pathlib import Path"]
    assert enclosing_scopes(doc.tree, "python", cursor) == []  # no text without `source`
    spy.gate.set()
    assert store.wait_idle(10)
    fresh = store.get(uri)
    assert fresh.version == 2 and fresh.text == doc.text
    assert_tree_matches_fresh_parse(fresh)
    assert fresh.tree is not None and fresh.tree.root_node.has_error  # the open string


def test_typing_an_unclosed_string_never_waits_for_the_parser(spy: ParseSpy) -> None:
    uri = "file:///shop.py"
    store = DocumentStore()
    store.open(uri, "python", 1, MODULE)
    spy.gate.clear()  # the background parse of the first key never finishes while we type
    line = MODULE.splitlines().index("    def item_30(self, sku: str) -> str:") + 1
    store.change(uri, 2, [edit((line, 0), (line, 0), "\n")])
    assert spy.entered.wait(10)  # held at the gate
    typed = '        x = "abc (def'
    started = time.perf_counter()
    for column, key in enumerate(typed):
        doc = store.change(uri, 3 + column, [edit((line, column), (line, column), key)])
        assert doc.tree_stale and doc.tree is not None
        assert doc.tree.root_node.end_byte == len(doc.utf8())
    assert time.perf_counter() - started < GATE_SECONDS / 3  # no key waited on the gate
    assert spy.parses(background=False) == [MODULE.encode()]
    assert len(spy.parses(background=True)) == 1  # the one held at the gate
    spy.gate.set()
    assert store.wait_idle(10)
    # intermediate versions were skipped: the held parse, then the newest one
    assert spy.parses(background=True)[-1] == store.get(uri).utf8()
    assert len(spy.parses(background=True)) == 2
    doc = store.get(uri)
    assert doc.version == 2 + len(typed) and doc.line_text(line) == typed
    assert_tree_matches_fresh_parse(doc)


def test_parsed_does_not_wait_for_a_slow_background_parse(spy: ParseSpy) -> None:
    uri = "file:///shop.py"
    store = DocumentStore()
    store.open(uri, "python", 1, MODULE)
    spy.gate.clear()
    stale = store.change(uri, 2, [edit((4, 0), (4, 0), "@dataclass\n")])
    assert spy.entered.wait(10)  # the background is parsing version 2, held at the gate
    started = time.perf_counter()
    fresh = store.parsed(uri)
    assert time.perf_counter() - started < GATE_SECONDS / 3
    assert fresh.version == 2 and fresh.text == stale.text
    assert_tree_matches_fresh_parse(fresh)
    assert store.get(uri) is fresh
    assert store.parsed(uri) is fresh  # no second parse
    assert len(spy.parses(background=False)) == 2  # open() and parsed()
    spy.gate.set()
    assert store.wait_idle(10)
    assert store.get(uri) is fresh  # the late background result was not swapped in


def test_closing_drops_the_pending_parse(spy: ParseSpy) -> None:
    uri = "file:///shop.py"
    store = DocumentStore()
    store.open(uri, "python", 1, MODULE)
    spy.gate.clear()
    first = store.change(uri, 2, [edit((0, 0), (0, 0), "# one\n")])
    assert spy.entered.wait(10)  # version 2 is being parsed
    second = store.change(uri, 3, [edit((0, 0), (0, 0), "# two\n")])  # pending
    store.close(uri)
    spy.gate.set()
    assert store.wait_idle(10)
    assert spy.parses(background=True) == [first.utf8()]  # version 3 never parsed
    assert second.utf8() not in spy.parses(background=True)
    assert uri not in store  # the finished parse of version 2 did not bring it back
    # re-opening while an older version is being parsed keeps the new text
    store.open(uri, "python", 1, MODULE)
    spy.gate.clear()
    spy.entered.clear()
    store.change(uri, 2, [edit((0, 0), (0, 0), "# three\n")])
    assert spy.entered.wait(10)
    reopened = store.open(uri, "python", 5, "y = 2\n")
    spy.gate.set()
    assert store.wait_idle(10)
    assert store.get(uri) is reopened


def test_a_failing_parse_is_logged_and_keeps_the_stale_tree(
    spy: ParseSpy, caplog: pytest.LogCaptureFixture
) -> None:
    uri = "file:///shop.py"
    store = DocumentStore()
    store.open(uri, "python", 1, MODULE)
    spy.fail_background = True
    with caplog.at_level(logging.ERROR, logger="codesaga.documents"):
        doc = store.change(uri, 2, [edit((0, 0), (0, 0), "import re\n")])
        assert store.wait_idle(10)
    assert "tree-sitter failed to parse file:///shop.py" in caplog.text
    assert store.get(uri) is doc and doc.tree_stale and doc.tree is not None
    # the store goes on: more edits, and the background thread is still there
    doc = store.change(uri, 3, [edit((0, 0), (0, 0), "import io\n")])
    assert store.wait_idle(10)
    assert len(spy.parses(background=True)) == 2
    assert store.get(uri) is doc
    # the stale tree knows only the old nodes, moved to where their text is now
    assert [s.header for s in import_spans(doc.tree, "python", doc.utf8())] == [
        "import os",
        "from pathlib import Path",
    ]
    # parsed() parses on this thread (which does not fail) ...
    assert_tree_matches_fresh_parse(store.parsed(uri))
    # ... and when that fails too, logs and answers with the stale tree
    spy.fail_caller = True
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="codesaga.documents"):
        doc = store.change(uri, 4, [edit((0, 0), (0, 0), "import abc\n")])
        assert store.parsed(uri) is doc
        assert store.wait_idle(10)
    assert caplog.text.count("tree-sitter failed to parse") == 2
    assert store.get(uri) is doc and doc.tree_stale


def test_a_version_bump_of_a_stale_document_still_gets_parsed(spy: ParseSpy) -> None:
    uri = "file:///shop.py"
    store = DocumentStore()
    store.open(uri, "python", 1, MODULE)
    spy.gate.clear()
    stale = store.change(uri, 2, [edit((0, 0), (0, 0), "import re\n")])
    bumped = store.change(uri, 3, [])
    assert bumped.tree_stale and bumped.tree is stale.tree and bumped.text == stale.text
    spy.gate.set()
    assert store.wait_idle(10)
    doc = store.get(uri)
    assert doc.version == 3
    assert_tree_matches_fresh_parse(doc)


def test_background_parse_waits_until_typing_stops() -> None:
    store = DocumentStore(parse_idle_seconds=0.2)
    uri = "file:///idle.py"
    store.open(uri, "python", 1, "def f():\n    return 1\n")
    for version, ch in enumerate("x = 2", start=2):
        store.change(uri, version, [edit((2, version - 2), (2, version - 2), ch)])
        time.sleep(0.05)  # keys 50 ms apart: never idle long enough to parse
        assert store.get(uri).tree_stale
    assert store.wait_idle(5)
    fresh = store.get(uri)
    assert not fresh.tree_stale and fresh.text.endswith("x = 2")
