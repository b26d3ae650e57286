"""Files cut into chunks from the grammars' tags.scm (codesaga.repo.chunks)."""

from __future__ import annotations

from codesaga.repo.chunks import WINDOW_LINES, Chunk, chunk_file

PYTHON = '''import os

LIMIT = 10


@dataclass
class Store(Base):
    """Keeps things.

    Longer text."""

    size: int = 3

    def __init__(self, root: str,
                 limit: int = LIMIT) -> None:
        """Open the store."""
        self.root = root
        self.items = []

    def add(self, item):
        self.items.append(item)
        return len(self.items)


def helper(x):
    """Double it."""
    def inner():
        return x
    return inner() * 2


print(helper(2))
'''

TYPESCRIPT = """import { A } from "./a";

/** Adds two numbers. */
export function add(a: number, b: number): number {
  return a + b;
}

export const double = (a: number): number => a * 2;

export class Box<T> {
  constructor(private value: T) {
    this.value = value;
  }

  get(): T {
    return this.value;
  }
}
"""

GO = """package shapes

// Point is a place.
type Point struct {
\tX int
\tY int
}

func (p *Point) Move(dx int) int {
\treturn p.X + dx
}
"""


def by_name(chunks: list[Chunk]) -> dict[str, Chunk]:
    return {c.name: c for c in chunks if c.name}


def test_python_definitions_lines_and_signatures() -> None:
    chunks = chunk_file("pkg/store.py", PYTHON)
    named = by_name(chunks)
    store, init, add, helper = named["Store"], named["__init__"], named["add"], named["helper"]
    assert (store.kind, store.start_line, store.end_line) == ("class", 5, 21)
    assert store.signature == '@dataclass\nclass Store(Base):\n    """Keeps things."""'
    assert (init.kind, init.start_line, init.end_line) == ("method", 13, 17)
    assert init.signature == (
        "def __init__(self, root: str,\n             limit: int = LIMIT) -> None:\n"
        '    """Open the store."""'
    )
    assert (add.kind, add.start_line, add.end_line) == ("method", 19, 21)
    assert (helper.kind, helper.start_line, helper.end_line) == ("function", 24, 28)
    assert helper.signature == 'def helper(x):\n    """Double it."""'
    assert "inner" not in named  # a function inside a function is part of its text
    assert named["LIMIT"].kind == "constant" and all(c.path == "pkg/store.py" for c in chunks)


def test_a_class_chunk_keeps_member_signatures_not_bodies() -> None:
    store = by_name(chunk_file("pkg/store.py", PYTHON))["Store"]
    assert "size: int = 3" in store.text
    assert "def __init__(self, root: str," in store.text and "def add(self, item):" in store.text
    assert "self.root = root" not in store.text and "append" not in store.text


def test_code_outside_definitions_goes_in_windows() -> None:
    chunks = chunk_file("pkg/store.py", PYTHON)
    windows = [c for c in chunks if c.kind == "lines"]
    assert [(w.start_line, w.end_line) for w in windows] == [(0, 2), (31, 31)]
    assert windows[1].text == "print(helper(2))" and windows[0].signature == ""
    assert chunks == sorted(chunks, key=lambda c: (c.start_line, -c.end_line))


def test_typescript_chunks() -> None:
    named = by_name(chunk_file("src/math.ts", TYPESCRIPT))
    add = named["add"]
    assert (add.kind, add.start_line, add.end_line) == ("function", 2, 5)  # with its doc
    assert add.signature.endswith("export function add(a: number, b: number): number")
    assert named["double"].signature == "export const double = (a: number): number =>"
    box = named["Box"]
    assert (box.kind, box.start_line, box.end_line) == ("class", 9, 17)
    assert box.signature == "export class Box<T>"
    assert "constructor(private value: T)" in box.text and "this.value = value" not in box.text
    assert named["get"].kind == "method" and named["get"].signature == "get(): T"


def test_go_chunks() -> None:
    named = by_name(chunk_file("shapes/point.go", GO))
    point, move = named["Point"], named["Move"]
    assert (point.start_line, point.end_line) == (2, 6)  # the comment above belongs to it
    assert "type Point struct" in point.signature and "X int" in point.text
    assert move.signature == "func (p *Point) Move(dx int) int"
    assert (move.kind, move.start_line, move.end_line) == ("method", 8, 10)


def test_unknown_language_in_windows() -> None:
    text = "".join(f"line {i}\n" for i in range(70))
    chunks = chunk_file("notes.txt", text)
    assert [(c.start_line, c.end_line) for c in chunks] == [
        (0, WINDOW_LINES - 1),
        (WINDOW_LINES, 2 * WINDOW_LINES - 1),
        (2 * WINDOW_LINES, 69),
    ]
    assert chunks[0].text.startswith("line 0\n") and chunks[0].kind == "lines"


def test_broken_code_does_not_raise() -> None:
    chunks = chunk_file("x.py", "def f(:\n  return (\nclass")
    assert all(c.path == "x.py" for c in chunks) and chunks
    assert chunk_file("empty.py", "") == []


def test_a_class_inside_a_class_gets_its_members_signatures() -> None:
    text = (
        "class Outer:\n"
        "    class Inner:\n"
        "        def deep(self, x: int) -> int:\n"
        "            return x * 2\n"
        "\n"
        "    def shallow(self) -> None:\n"
        "        pass\n"
    )
    chunks = {c.name: c for c in chunk_file("m.py", text)}
    assert "def deep(self, x: int) -> int" in chunks["Inner"].text
    assert "return x * 2" not in chunks["Outer"].text
    assert chunks["deep"].kind == "method"
