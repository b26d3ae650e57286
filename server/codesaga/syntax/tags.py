"""Definitions and references from each grammar's own ``queries/tags.scm``.

Every grammar wheel ships a tags query (the one GitHub's code navigation and ``tree-sitter
tags`` use) that marks definitions (``@definition.function``, ``@definition.class``,
``@definition.method``, ...) and references (``@reference.call``, ...) with a ``@name``.
This module reads it from the wheel, combined as the grammar's ``tree-sitter.json`` says
(TypeScript and TSX: their own patterns, then JavaScript's; C++'s file already repeats C's),
and then CodeSaga's small supplement from ``syntax/queries/<name>.scm`` where tags.scm leaves
out something CodeSaga relied on (each pattern there says why). Each grammar's query is
compiled once and cached.

Predicates: tree-sitter's Python binding applies the text predicates itself (``#eq?``,
``#not-eq?``, ``#match?``, ``#not-match?``, ``#any-of?``, ...; so JavaScript's ``require``
calls and ``constructor`` methods are filtered by the binding), and hands every other
predicate to a callback. The tags queries use three such directives, all about the ``@doc``
comment capture, never about whether a pattern matches; so the callback accepts every match
and this module applies them while building a :class:`Tag`:

* ``#strip! @doc "regex"``: remove the regex's matches from each line of the comment.
* ``#select-adjacent! @doc @definition.x`` (and Go's ``#set-adjacent!``, read the same way):
  keep only the comments in an unbroken run of lines ending right above the definition.

Offsets are UTF-8 bytes and rows are tree-sitter rows, as in :mod:`codesaga.syntax.scopes`.
Names and docs are read from the text the tree was parsed from.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib.resources import files
from typing import Literal

from tree_sitter import Node, Query, QueryCursor, Tree

from codesaga.syntax.languages import get_language

__all__ = ["Tag", "call_names", "definition_of", "definitions", "references", "tags_query"]

Role = Literal["definition", "reference"]

_WHEEL = "queries/tags.scm"
_JS = ("tree_sitter_javascript", _WHEEL)
_TS = ("tree_sitter_typescript", _WHEEL)
_OURS = "codesaga.syntax"

# grammar -> the query files read, in order: (package, path inside it). The wheels' files
# first, in the order of the grammar's tree-sitter.json `tags` entry, then our supplements
# (so that, for a node two patterns tag, the wheel's pattern wins).
_SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "python": (("tree_sitter_python", _WHEEL), (_OURS, "queries/python.scm")),
    "javascript": (_JS, (_OURS, "queries/javascript.scm")),
    "typescript": (_TS, _JS, (_OURS, "queries/typescript.scm"), (_OURS, "queries/javascript.scm")),
    "tsx": (_TS, _JS, (_OURS, "queries/typescript.scm"), (_OURS, "queries/javascript.scm")),
    "rust": (("tree_sitter_rust", _WHEEL), (_OURS, "queries/rust.scm")),
    "go": (("tree_sitter_go", _WHEEL), (_OURS, "queries/go.scm")),
    "java": (("tree_sitter_java", _WHEEL), (_OURS, "queries/java.scm")),
    "c": (("tree_sitter_c", _WHEEL), (_OURS, "queries/c.scm")),
    "cpp": (("tree_sitter_cpp", _WHEEL), (_OURS, "queries/c.scm"), (_OURS, "queries/cpp.scm")),
}

_ADJACENT = ("select-adjacent!", "set-adjacent!")
# JavaScript's tags.scm also tags *named* function and class expressions
# (`(function setup() {...})()`, `items.map(function each(x) {...})`). Their name is visible
# only inside them, so they are not definitions of the scope around them; one bound to a name
# (`const f = function g() {}`) is tagged through its binding like an arrow function is.
_EXPRESSION_FORMS = frozenset({"function_expression", "generator_function", "class"})
_MAX_CALLEE_CHARS = 60


@dataclass(frozen=True)
class Tag:
    """One definition or reference that the tags query found.

    ``role`` is ``"definition"`` or ``"reference"``; ``kind`` what the capture calls it
    after the role (definitions: ``"function"``, ``"method"``, ``"class"``,
    ``"interface"``, ``"module"``, ``"type"``, ``"macro"``, ``"constant"``; references:
    ``"call"``, ``"class"``, ``"type"``, ``"implementation"``). ``name`` is the ``@name``
    text (``""`` when the pattern has none, e.g. an anonymous struct). ``node`` is the
    whole definition or reference: tags.scm's capture, widened where that capture is only
    a part of it (C/C++ capture a function's declarator: ``node`` is the
    ``function_definition`` or declaration around it; JavaScript and Java capture a method
    call's arguments: ``node`` is the call). ``doc`` is the comment right above a definition,
    stripped by the tags.scm's own ``#strip!`` pattern (which leaves a one-line ``/** x */``
    as ``x */``), for the grammars whose tags.scm captures one (JavaScript/TypeScript, Go);
    ``""`` otherwise.
    """

    role: Role
    kind: str
    name: str
    node: Node
    doc: str = ""

    @property
    def start_byte(self) -> int:
        """UTF-8 byte offset where :attr:`node` starts."""
        return self.node.start_byte

    @property
    def end_byte(self) -> int:
        """UTF-8 byte offset where :attr:`node` ends (exclusive)."""
        return self.node.end_byte

    @property
    def start_line(self) -> int:
        """0-based row where :attr:`node` starts."""
        return self.node.start_point.row

    @property
    def end_line(self) -> int:
        """0-based row where :attr:`node` ends (inclusive)."""
        return self.node.end_point.row


@dataclass
class _Compiled:
    query: Query
    # pattern index -> directive (`strip!`, `select-adjacent!`) -> its arguments as
    # (value, "capture" | "string"): what the binding hands the predicate callback, recorded
    # there (the same each time a pattern matches)
    directives: dict[int, dict[str, list[tuple[str, str]]]]


def _read(package: str, path: str) -> str:
    return files(package).joinpath(path).read_text(encoding="utf-8")


@functools.cache
def _compiled(grammar: str) -> _Compiled | None:
    sources = _SOURCES.get(grammar)
    if sources is None:
        return None
    text = "\n".join(_read(package, path) for package, path in sources)
    return _Compiled(Query(get_language(grammar), text), {})


def tags_query(grammar: str) -> Query | None:
    """The compiled tags query of ``grammar`` (cached), or ``None`` for a grammar this module
    has no tags for. Raises :class:`tree_sitter.QueryError` if a query file does not compile
    against the installed grammar and :class:`OSError` if one cannot be read."""
    compiled = _compiled(grammar)
    return compiled.query if compiled is not None else None


def _matches(
    compiled: _Compiled, tree: Tree, start_byte: int, end_byte: int | None
) -> list[tuple[int, dict[str, list[Node]]]]:
    def record(
        predicate: str,
        args: list[tuple[str, Literal["capture", "string"]]],
        pattern_index: int,
        captures: dict[str, list[Node]],
    ) -> bool:
        compiled.directives.setdefault(pattern_index, {})[predicate] = list(args)
        return True  # directives only shape the @doc text; they never reject a match

    cursor = QueryCursor(compiled.query)
    root = tree.root_node
    end = root.end_byte if end_byte is None else end_byte
    cursor.set_byte_range(max(0, start_byte), max(max(0, start_byte), end))
    return cursor.matches(root, record)


def _widen_declarator(node: Node) -> Node:
    """C/C++: from a ``function_declarator`` up to the definition or declaration whose
    declarator it is (through pointer and reference declarators)."""
    current = node
    while (parent := current.parent) is not None:
        declarator = parent.child_by_field_name("declarator")
        if declarator is None or declarator.id != current.id:
            break
        current = parent
    return current


def _widen_to(node: Node, name: Node | None) -> Node:
    """The smallest of ``node`` and its ancestors that contains the ``name`` node."""
    if name is None:
        return node
    current = node
    while not (current.start_byte <= name.start_byte and name.end_byte <= current.end_byte):
        if current.parent is None:
            break
        current = current.parent
    return current


def _doc(compiled: _Compiled, pattern: int, docs: list[Node], definition: Node) -> str:
    if not docs:
        return ""
    directives = compiled.directives.get(pattern, {})
    if any(name in directives for name in _ADJACENT):
        kept: list[Node] = []
        row = definition.start_point.row
        for comment in reversed(docs):
            if comment.end_point.row + 1 < row:
                break
            kept.append(comment)
            row = comment.start_point.row
        docs = kept[::-1]
    texts = [(c.text or b"").decode("utf-8", "replace") for c in docs]
    strip = directives.get("strip!", [])
    if len(strip) == 2 and strip[1][1] == "string":
        texts = [_line_regex(strip[1][0]).sub("", text) for text in texts]
    return "\n".join(texts).strip()


@functools.cache
def _line_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.MULTILINE)


def _tags(tree: Tree, grammar: str, start_byte: int, end_byte: int | None, role: Role) -> list[Tag]:
    compiled = _compiled(grammar)
    if compiled is None:
        return []
    prefix = role + "."
    # definitions: one per node; references: one per node and kind (`new C()` is a call and
    # a class reference). key -> (pattern index, tag)
    best: dict[tuple[int, str], tuple[int, Tag]] = {}
    for pattern, captures in _matches(compiled, tree, start_byte, end_byte):
        for capture, nodes in captures.items():
            if not capture.startswith(prefix) or not nodes:
                continue
            names = captures.get("name") or []
            name = names[0] if names else None
            node = nodes[0]
            if role == "definition" and node.type in _EXPRESSION_FORMS:
                continue
            if node.type == "function_declarator":
                node = _widen_declarator(node)
            else:
                node = _widen_to(node, name)
            kind = capture[len(prefix) :]
            key = (node.id, kind if role == "reference" else "")
            if key in best and best[key][0] <= pattern:
                continue
            doc = _doc(compiled, pattern, captures.get("doc", []), node)
            text = name.text if name is not None and name.text is not None else b""
            tag = Tag(role, kind, text.decode("utf-8", "replace"), node, doc)
            best[key] = (pattern, tag)
    last = tree.root_node.end_byte if end_byte is None else end_byte
    tags = [tag for _, tag in best.values() if tag.end_byte > start_byte and tag.start_byte < last]
    tags.sort(key=lambda tag: (tag.start_byte, -tag.end_byte))
    return tags


def definitions(
    tree: Tree, grammar: str, start_byte: int = 0, end_byte: int | None = None
) -> list[Tag]:
    """The definitions whose node overlaps bytes ``[start_byte, end_byte)`` (the whole tree
    by default), enclosing ones included, sorted by start byte (an enclosing definition
    before the ones inside it). One tag per node: where several patterns tag the same node,
    the first pattern's kind wins. ``[]`` for a grammar without tags."""
    return _tags(tree, grammar, start_byte, end_byte, "definition")


def references(
    tree: Tree, grammar: str, start_byte: int = 0, end_byte: int | None = None
) -> list[Tag]:
    """The references (calls, type and class uses, ...) whose node overlaps bytes
    ``[start_byte, end_byte)``, sorted like :func:`definitions`. One tag per node and kind:
    a node can be two references (``new C()`` is a class reference and, by our supplement,
    a call); filter on :attr:`Tag.kind` (or use :func:`call_names`)."""
    return _tags(tree, grammar, start_byte, end_byte, "reference")


def definition_of(tree: Tree, grammar: str, node: Node) -> Tag | None:
    """The definition whose (widened) node is ``node`` itself, or ``None`` when tags.scm
    (with our supplement) does not call ``node`` a definition."""
    for tag in definitions(tree, grammar, node.start_byte, node.end_byte):
        if tag.node.id == node.id:
            return tag
    return None


def _callee(call: Node) -> bytes:
    """The callee text of a call node: its ``function``/``macro``/``constructor`` field, or
    Java's ``object.name``."""
    callee = (
        call.child_by_field_name("function")
        or call.child_by_field_name("macro")
        or call.child_by_field_name("constructor")
    )
    if callee is not None:
        return callee.text or b""
    name = call.child_by_field_name("name")
    if name is None or not name.text:
        return b""
    obj = call.child_by_field_name("object")
    return (obj.text + b"." if obj is not None and obj.text else b"") + name.text


def call_names(
    tree: Tree, grammar: str, start_byte: int, end_byte: int, limit: int = 15
) -> list[str]:
    """Distinct callees of the calls overlapping bytes ``[start_byte, end_byte)``, in
    document order (an outer call before the calls in its arguments), at most ``limit``.

    A callee is written as in the code, whitespace runs collapsed to one space
    (``json.dumps``, ``self.path.write_text``, ``Vec::new``, ``System.out.println``,
    ``println`` for ``println!``); callees with a ``(`` in them (``f()()``, chained calls'
    outer parts) or over 60 characters are left out. ``[]`` for a grammar without tags.
    Calls are what tags.scm tags ``@reference.call`` plus our supplement (every C/C++ call,
    ``new C()``, ``super()``, ``require()``, Rust paths, calls through a subscript).
    """
    found: list[str] = []
    for tag in references(tree, grammar, start_byte, end_byte):
        if tag.kind != "call":
            continue
        label = " ".join(_callee(tag.node).decode("utf-8", "replace").split())
        if label and "(" not in label and len(label) <= _MAX_CALLEE_CHARS and label not in found:
            found.append(label)
            if len(found) >= limit:
                break
    return found
