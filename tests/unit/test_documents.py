"""DocumentStore / Document: unit conversions, line handling, incremental edits and parses."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from lsprotocol.types import (
    Position,
    Range,
    TextDocumentContentChangePartial,
    TextDocumentContentChangeWholeDocument,
)
from tree_sitter import Node, Tree

from codesaga.documents import (
    Document,
    DocumentError,
    DocumentStore,
    PositionError,
    UnknownDocumentError,
)
from codesaga.syntax import new_parser

HANGUL = '# 한국어 주석\nx = "안녕하세요"\n'
EMOJI = 's = "😀!"\n'


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
    assert_tree_matches_fresh_parse(doc)


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
        doc = store.change(uri, version, [change])
        assert_tree_matches_fresh_parse(doc)
    assert doc.text == expected


def test_whole_document_change_reparses() -> None:
    uri = "file:///w.ts"
    store = DocumentStore()
    store.open(uri, "typescript", 1, "let a = 1;\n")
    doc = store.change(uri, 2, [whole("const b: number = 2;\n"), edit((0, 6), (0, 7), "c")])
    assert doc.text == "const c: number = 2;\n"
    assert_tree_matches_fresh_parse(doc)


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
    assert store.get(uri) is new
    bumped = store.change(uri, 3, [])
    assert bumped.version == 3 and bumped.text == new.text


def test_unknown_language_keeps_text_without_tree() -> None:
    uri = "file:///notes.txt"
    store = DocumentStore()
    doc = store.open(uri, "plaintext", 1, "hello\nworld\n")
    assert doc.grammar is None
    assert doc.tree is None
    doc = store.change(uri, 2, [edit((1, 0), (1, 5), "there"), edit((0, 5), (0, 5), ",")])
    assert doc.text == "hello,\nthere\n"
    assert doc.tree is None


def test_language_from_extension_when_id_unknown() -> None:
    store = DocumentStore()
    doc = store.open("file:///src/main.rs", "", 1, "fn main() {}\n")
    assert doc.grammar == "rust"
    assert doc.tree is not None


def test_binary_and_huge_documents_are_not_parsed() -> None:
    store = DocumentStore(max_bytes=100)
    binary = store.open("file:///blob.py", "python", 1, "x = 1\x00\x01\x02\n")
    assert binary.tree is None
    binary = store.change("file:///blob.py", 2, [edit((0, 0), (0, 0), "y")])
    assert binary.tree is None
    assert binary.text == "yx = 1\x00\x01\x02\n"

    huge_text = "# " + "한" * 40 + "\n"  # 43 chars but 123 UTF-8 bytes
    huge = store.open("file:///huge.py", "python", 1, huge_text)
    assert huge.tree is None
    # shrinking below the limit parses again
    small = store.change("file:///huge.py", 2, [edit((0, 2), (0, 42), "")])
    assert small.text == "# \n"
    assert small.tree is not None
    # growing past it drops the tree, without raising
    big = store.change("file:///huge.py", 3, [edit((0, 2), (0, 2), "x" * 200)])
    assert big.tree is None


def test_lone_surrogates_do_not_raise() -> None:
    store = DocumentStore()
    doc = store.open("file:///s.py", "python", 1, 'x = "\ud800"\ny = 2\n')
    assert doc.tree is not None
    assert doc.byte_at(6) == 8  # "\ud800" encodes to 3 bytes with surrogatepass
    assert doc.position_at(6) == pos(0, 6)
    doc = store.change("file:///s.py", 2, [edit((1, 4), (1, 5), "3")])
    assert doc.text == 'x = "\ud800"\ny = 3\n'
    assert_tree_matches_fresh_parse(doc)


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
        assert_tree_matches_fresh_parse(doc)


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
