"""A file cut into chunks: its definitions (from the grammar's tags.scm) and line windows.

Lines are 0-based rows counted at ``\\n`` (tree-sitter's rows); :attr:`Chunk.text` is a
str slice of whole lines. A definition's chunk starts at its decorators / ``export`` /
declaration keyword (``const f = () => ...``) when it has them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tree_sitter import Node, Parser

from codesaga.syntax.languages import grammar_name, new_parser
from codesaga.syntax.tags import Tag, definitions

__all__ = ["WINDOW_LINES", "Chunk", "chunk_file", "is_container"]

#: Lines per window for code outside definitions and for files of unknown language.
WINDOW_LINES = 30
_MAX_SIGNATURE_CHARS = 400
# node types around a definition that belong to its header
_WRAPPERS = frozenset(
    {
        "decorated_definition", "export_statement", "ambient_declaration", "lexical_declaration",
        "variable_declaration", "template_declaration", "type_declaration",
    }
)  # fmt: skip
_DECLARATIONS = frozenset({"lexical_declaration", "variable_declaration", "type_declaration"})
# tags kinds that hold other definitions (their chunk shows members' signatures only)
_CONTAINER_KINDS = frozenset({"class", "interface", "module", "type", "implementation"})
_FUNCTION_KINDS = frozenset({"function", "method"})
_PYTHON_BODY_STATEMENTS = frozenset({"expression_statement", "function_definition"})
_local = threading.local()


@dataclass(frozen=True)
class Chunk:
    """One piece of a file.

    ``path``: workspace-relative POSIX path. ``start_line``/``end_line``: 0-based rows,
    both inclusive. ``kind``: the tags.scm kind (``"function"``, ``"method"``, ``"class"``,
    ``"interface"``, ``"constant"``, ...; a Python function directly in a class is a
    ``"method"``) or ``"lines"`` for a window. ``name``: the defined name (``""`` for a
    window). ``signature``: the definition's header (Python: the ``def``/``class`` line(s)
    through ``:`` with decorators, then the docstring's first line; brace languages: up to
    the body's ``{``, preceded by the doc comment's first line as ``// ...``); ``""`` for a
    window. ``text``: the chunk's code; for a definition holding methods, its own lines
    with each method cut to its signature.
    """

    path: str
    start_line: int
    end_line: int
    kind: str
    name: str
    signature: str
    text: str


def is_container(chunk: Chunk) -> bool:
    """Whether ``chunk`` is a class-like definition (its text lists member signatures)."""
    return chunk.kind in _CONTAINER_KINDS


def _parser(grammar: str) -> Parser:
    parsers: dict[str, Parser] = _local.__dict__.setdefault("parsers", {})
    parser = parsers.get(grammar)
    if parser is None:
        parser = parsers[grammar] = new_parser(grammar)
    return parser


def _outer(node: Node) -> Node:
    """``node`` widened through the wrappers that carry its header (decorators, export,
    ``const x =``), while the wrapper holds nothing else that is named."""
    current = node
    while (parent := current.parent) is not None and parent.type in _WRAPPERS:
        declaration = parent.type in _DECLARATIONS
        if declaration and sum(1 for c in parent.named_children if c.type != "comment") > 1:
            break
        current = parent
    return current


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _body(node: Node) -> Node | None:
    body = node.child_by_field_name("body")
    if body is None:
        value = node.child_by_field_name("value") or node.child_by_field_name("type")
        if value is not None:
            body = value.child_by_field_name("body")
            if body is None:
                for child in value.children:
                    if child.type in ("field_declaration_list", "{"):
                        return child
    return body


def _docstring(body: Node) -> str:
    first = body.named_children[0] if body.named_children else None
    if first is None or first.type != "expression_statement" or not first.named_children:
        return ""
    string = first.named_children[0]
    if string.type != "string":
        return ""
    content = "".join(
        _decode(c.text or b"") for c in string.named_children if c.type == "string_content"
    )
    return _first_line(content)


def _signature(tag: Tag, outer: Node, source: bytes, grammar: str) -> str:
    node = tag.node
    body = _body(node)
    end = body.start_byte if body is not None else min(node.end_byte, outer.end_byte)
    header = _decode(source[outer.start_byte : end]).rstrip()
    if body is None:
        header = header.split("\n", 1)[0].rstrip()
    header = _dedent_tail(header, outer.start_point.column)[:_MAX_SIGNATURE_CHARS]
    if grammar == "python":
        doc = _docstring(body) if body is not None else ""
        if doc:
            header += '\n    """' + doc + '"""'
    elif tag.doc:
        header = "// " + _first_line(tag.doc) + "\n" + header
    return header


def _dedent_tail(text: str, indent: int) -> str:
    """Continuation lines of a header lose the first line's indent (``indent`` columns)."""
    lines = text.split("\n")
    return "\n".join(
        [lines[0]] + [ln[indent:] if ln[:indent].isspace() else ln for ln in lines[1:]]
    )


def _comment_start(node: Node) -> int:
    """The row where the run of comments right above ``node`` (no blank line between)
    starts, or ``node``'s own row."""
    row = node.start_point.row
    previous = node.prev_sibling
    while previous is not None and previous.type == "comment":
        if previous.end_point.row + 1 < row:
            break
        row = previous.start_point.row
        previous = previous.prev_sibling
    return row


@dataclass
class _Def:
    tag: Tag
    outer: Node
    kind: str
    members: list[_Def]

    @property
    def start_line(self) -> int:
        return _comment_start(self.outer)

    @property
    def end_line(self) -> int:
        return self.outer.end_point.row


def _nest(tags: list[Tag]) -> list[_Def]:
    """Top-level definitions with their direct members (definitions nested in functions
    are part of their function's text and get no chunk)."""
    roots: list[_Def] = []
    stack: list[_Def] = []
    for tag in tags:
        outer = _outer(tag.node)
        while stack and stack[-1].outer.end_byte <= outer.start_byte:
            stack.pop()
        parent = stack[-1] if stack else None
        if parent is not None and parent.kind in _FUNCTION_KINDS:
            continue
        if parent is not None and parent.kind == "constant":
            continue
        kind = tag.kind
        if parent is not None and kind == "function":
            kind = "method"
        entry = _Def(tag, outer, kind, [])
        (parent.members if parent is not None else roots).append(entry)
        stack.append(entry)
    return roots


def _lines_text(lines: list[str], start: int, end: int) -> str:
    return "".join(lines[start : end + 1]).rstrip("\n")


def _container_text(entry: _Def, lines: list[str], signatures: dict[int, str]) -> str:
    """The container's lines with each member's lines replaced by its signature (kept at
    the member's indentation)."""
    out: list[str] = []
    row = entry.start_line
    for member in entry.members:
        out.extend(lines[row : member.start_line])
        first = lines[member.start_line] if member.start_line < len(lines) else ""
        indent = first[: len(first) - len(first.lstrip())]
        for sig_line in signatures[id(member)].split("\n"):
            out.append(indent + sig_line + "\n")
        row = member.end_line + 1
    out.extend(lines[row : entry.end_line + 1])
    return "".join(out).rstrip("\n")


def _windows(path: str, lines: list[str], covered: list[bool]) -> list[Chunk]:
    chunks: list[Chunk] = []
    row = 0
    total = len(lines)
    while row < total:
        if covered[row] or not lines[row].strip():
            row += 1
            continue
        end = row
        while end + 1 < total and not covered[end + 1] and end + 1 - row < WINDOW_LINES:
            end += 1
        while end > row and not lines[end].strip():
            end -= 1
        chunks.append(Chunk(path, row, end, "lines", "", "", _lines_text(lines, row, end)))
        row = end + 1
    return chunks


def chunk_file(path: str, text: str) -> list[Chunk]:
    """Cut ``text`` (the content of workspace-relative ``path``) into chunks, sorted by
    start line: one per top-level definition and one per definition directly inside a
    class-like one (tags.scm of the grammar that ``path``'s extension names); the code
    outside definitions, and the whole of a file of unknown language, in windows of up to
    :data:`WINDOW_LINES` lines (blank lines at a window's edges left out). Module-level
    constants get a chunk and stay in the windows too. Never raises on broken code (what
    tree-sitter recovers is used)."""
    lines = text.splitlines(keepends=True)
    covered = [False] * len(lines)
    grammar = grammar_name("", path)
    chunks: list[Chunk] = []
    if grammar is not None:
        source = text.encode("utf-8")
        tree = _parser(grammar).parse(source)
        roots = _nest(definitions(tree, grammar))
        signatures: dict[int, str] = {}
        every: list[_Def] = []
        pending = list(reversed(roots))
        while pending:  # depth first: a class in a class has members of its own
            entry = pending.pop()
            every.append(entry)
            pending.extend(reversed(entry.members))
        for entry in every:
            signatures[id(entry)] = _signature(entry.tag, entry.outer, source, grammar)
        for entry in every:
            start, end = entry.start_line, min(entry.end_line, max(len(lines) - 1, 0))
            if entry.members and all(start < m.start_line for m in entry.members):
                body = _container_text(entry, lines, signatures)
            else:
                body = _lines_text(lines, start, end)
            kind = entry.kind
            chunks.append(
                Chunk(path, start, end, kind, entry.tag.name, signatures[id(entry)], body)
            )
            if kind != "constant" and entry in roots:
                for row in range(start, end + 1):
                    covered[row] = True
    chunks.extend(_windows(path, lines, covered))
    chunks.sort(key=lambda c: (c.start_line, -c.end_line))
    return chunks
