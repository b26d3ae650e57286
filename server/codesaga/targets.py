"""What a code action works on, found with tree-sitter, and whether its result still parses.

A :class:`Target` is always a run of whole lines: rewriting whole lines keeps indentation
simple (the model sees the code dedented; CodeSaga indents its answer back). Offsets are
``str`` indices (code points) into :attr:`Document.text` unless a name says ``byte`` (UTF-8,
tree-sitter); selections and problems arrive as :class:`~codesaga.documents.span.TextSpan`.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass

from tree_sitter import Node, Tree

from codesaga.documents import Document
from codesaga.documents.span import TextSpan
from codesaga.syntax.languages import new_parser
from codesaga.syntax.scopes import enclosing_scopes
from codesaga.syntax.tags import definition_of

__all__ = [
    "CONTAINERS",
    "Target",
    "base_indent",
    "bounds",
    "code_target",
    "fix_target",
    "indent_code",
    "is_function",
    "line_target",
    "node_name",
    "parse_problem",
    "scope_node",
    "statement_level",
]

CONTAINERS = frozenset(
    {
        "module",
        "program",
        "source_file",
        "block",
        "statement_block",
        "statement_list",
        "compound_statement",
        "class_body",
        "declaration_list",
        "field_declaration_list",
        "translation_unit",
        "compilation_unit",
        "interface_body",
        "enum_body",
        "switch_body",
        "switch_block",
        "switch_block_statement_group",
        "switch_case",
        "switch_default",
        "case_clause",
        "default_clause",
        "expression_case",
        "default_case",
        "type_case",
        "communication_case",
        "match_block",
        "namespace_definition",
        "linkage_specification",
    }
)
"""Node types whose children are statements or definitions (what a fix rewrites and where a doc
comment goes; tags.scm says which nodes are definitions, not where statements sit)."""

_STATEMENT_SUFFIXES = ("_statement", "_definition", "_declaration", "_item", "declaration")
_NOT_STATEMENTS = frozenset(
    {
        "parameter_declaration",
        "optional_parameter_declaration",
        "variadic_parameter_declaration",
        "type_parameter_declaration",
        "field_declaration",  # a struct member: its struct is the unit to rewrite
    }
)


@dataclass(frozen=True)
class Target:
    """Whole lines ``first_line..last_line`` (0-based, inclusive) of a document.

    ``start`` is the str offset of the first line's start, ``end`` that of the last line's
    end (before its terminator). ``kind`` is ``"selection"``, ``"lines"`` or the tree-sitter
    node type it came from; ``name`` the definition's name (``""`` when none).
    """

    start: int
    end: int
    first_line: int
    last_line: int
    kind: str
    name: str
    text: str


def line_target(doc: Document, start: int, end: int, kind: str, name: str = "") -> Target:
    """The whole lines that str offsets ``start..end`` touch; an ``end`` at the very start of
    a later line does not pull that line in (a selection of full lines ends there). Raises
    PositionError for an offset outside ``0..len(doc.text)``."""
    first = doc.line_at(start)
    end = max(start, end)
    last = doc.line_at(end)
    if last > first and doc.line_start(last) == end:
        last -= 1
    line_start = doc.line_start(first)
    last_start = doc.line_start(last)
    line_end = last_start + len(doc.line_text(last))
    return Target(
        start=line_start,
        end=line_end,
        first_line=first,
        last_line=last,
        kind=kind,
        name=name,
        text=doc.text[line_start:line_end],
    )


def bounds(doc: Document, span: TextSpan) -> tuple[int, int]:
    """``(span.start, span.end)``, checked to lie in ``doc`` (``0..len(doc.text)``); raises
    PositionError otherwise."""
    doc.line_at(span.start)
    doc.line_at(span.end)
    return span.start, span.end


def _probe_offset(doc: Document, offset: int) -> int:
    """A cursor in a line's leading whitespace counts as just after its first character."""
    line_number = doc.line_at(offset)
    line = doc.line_text(line_number)
    line_start = doc.line_start(line_number)
    stripped = len(line) - len(line.lstrip())
    if offset - line_start <= stripped < len(line):
        return line_start + stripped + 1
    return offset


def node_name(node: Node) -> str:
    """The name of a definition node (or of the variable an anonymous function is bound to)."""
    name = node.child_by_field_name("name")
    if name is None and node.parent is not None and node.parent.type == "variable_declarator":
        name = node.parent.child_by_field_name("name")
    if name is None:
        declarator = node.child_by_field_name("declarator")  # C/C++ functions
        while declarator is not None and declarator.type not in ("identifier", "field_identifier"):
            inner = declarator.child_by_field_name("declarator")
            if inner is None:
                break
            declarator = inner
        name = declarator
    if name is None or name.text is None:
        return ""
    return name.text.decode("utf-8", "replace")[:80]


def is_function(tree: Tree, grammar: str, node: Node) -> bool:
    """Whether ``node`` is a named function or method: what the grammar's tags.scm (with
    CodeSaga's supplement, :mod:`codesaga.syntax.tags`) tags ``@definition.function`` or
    ``@definition.method``. Lambdas, closures and arrow functions are not (a JavaScript
    arrow function bound to a name is tagged through its declarator, not itself)."""
    tag = definition_of(tree, grammar, node)
    return tag is not None and tag.kind in ("function", "method")


def scope_node(tree: Tree, start_byte: int, end_byte: int, kind: str) -> Node | None:
    """The node of type ``kind`` spanning (about) ``start_byte..end_byte``: the scope that
    :func:`enclosing_scopes` reported, found again (its span may start at a wrapper)."""
    node: Node | None = tree.root_node.descendant_for_byte_range(start_byte, end_byte)
    while node is not None and node.start_byte >= start_byte and node.end_byte <= end_byte:
        if node.type == kind:
            return node
        node = node.parent
    # the span is a wrapper (decorators, `export`): look inside it
    stack = [tree.root_node.descendant_for_byte_range(start_byte, end_byte)]
    while stack:
        current = stack.pop()
        if current is None:
            continue
        if current.type == kind and current.end_byte == end_byte:
            return current
        stack.extend(current.named_children)
    return None


def code_target(doc: Document, selection: TextSpan) -> Target | None:
    """What refactor and explain work on: the selected lines, or, when the selection is
    empty, the innermost named function around it (else the innermost scope of any kind:
    a class, an arrow function). ``None`` when nothing is selected and no scope encloses the
    cursor (or the document has no syntax tree). Raises PositionError for a selection
    outside ``doc``."""
    start, end = bounds(doc, selection.ordered())
    if doc.text[start:end].strip():
        return line_target(doc, start, end, "selection")
    if doc.tree is None or doc.grammar is None:
        return None
    probe = _probe_offset(doc, start)
    tree, grammar = doc.tree, doc.grammar
    scopes = enclosing_scopes(tree, grammar, doc.byte_at(probe))
    if not scopes:
        return None
    nodes = [scope_node(tree, s.start_byte, s.end_byte, s.kind) for s in scopes]
    functions = (i for i, n in enumerate(nodes) if n is not None and is_function(tree, grammar, n))
    index = next(functions, 0)
    span, node = scopes[index], nodes[index]
    return line_target(
        doc,
        doc.offset_of_byte(span.start_byte),
        doc.offset_of_byte(span.end_byte),
        span.kind,
        node_name(node) if node is not None else "",
    )


def _is_statement(node: Node) -> bool:
    if not node.is_named or node.type in _NOT_STATEMENTS:
        return False
    if node.is_error:
        return True  # what the parser could not read is the broken statement
    parent = node.parent
    if parent is None:
        return False
    return parent.type in CONTAINERS or node.type.endswith(_STATEMENT_SUFFIXES)


def statement_level(node: Node) -> Node:
    """``node`` or its nearest ancestor whose parent holds statements (the unit a doc
    comment goes above: ``export function f``, ``const f = () => ...``)."""
    current = node
    while current.parent is not None and current.parent.type not in CONTAINERS:
        if current.parent.parent is None:
            break
        current = current.parent
    return current


def fix_target(doc: Document, problem: TextSpan) -> Target:
    """What a quickfix rewrites: the smallest statement or definition that contains the
    diagnostic's span (an ERROR node counts: it is the broken statement), else the
    enclosing function, else the diagnostic's own lines. Raises PositionError for a span
    outside ``doc``."""
    start, end = bounds(doc, problem)
    end = max(start, end)
    if doc.tree is not None and doc.grammar is not None:
        start_byte, end_byte = doc.byte_at(start), doc.byte_at(end)
        if end_byte == start_byte and end < len(doc.text):
            end_byte = doc.byte_at(end + 1)
        node: Node | None = doc.tree.root_node.descendant_for_byte_range(start_byte, end_byte)
        while node is not None and node.parent is not None:
            if _is_statement(node):
                return line_target(
                    doc,
                    doc.offset_of_byte(node.start_byte),
                    doc.offset_of_byte(node.end_byte),
                    node.type,
                    node_name(node) if node.type.endswith(("_definition", "_item")) else "",
                )
            node = node.parent
    scoped = code_target(doc, TextSpan.at(start))
    if scoped is not None:
        return scoped
    return line_target(doc, start, end, "lines")


def base_indent(text: str) -> str:
    """The leading whitespace that every non-blank line of ``text`` shares."""
    indents = [line[: len(line) - len(line.lstrip())] for line in text.split("\n") if line.strip()]
    return os.path.commonprefix(indents) if indents else ""


def indent_code(code: str, indent: str) -> str:
    """``code`` dedented, stripped of blank lines around it, then indented by ``indent``
    (blank lines stay empty, trailing whitespace goes)."""
    lines = textwrap.dedent(code.replace("\r\n", "\n")).split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(indent + line.rstrip() if line.strip() else "" for line in lines)


def _error_nodes(node: Node, out: list[Node]) -> None:
    if node.is_error or node.is_missing:
        out.append(node)
        return
    for child in node.children:
        if child.has_error or child.is_missing:
            _error_nodes(child, out)


def parse_problem(doc: Document, start: int, end: int, new_text: str) -> str | None:
    """Why ``doc.text`` with ``[start, end)`` replaced by ``new_text`` does not parse, as
    ``"line N"`` (1-based, where the first syntax error is); ``None`` when it parses.

    A document that already had syntax errors only has to be clean inside the replaced
    part. Documents without a grammar cannot be checked and always pass.
    """
    if doc.grammar is None:
        return None
    text = doc.text[:start] + new_text + doc.text[end:]
    data = text.encode("utf-8", "surrogatepass")
    tree = new_parser(doc.grammar).parse(data)
    if not tree.root_node.has_error:
        return None
    errors: list[Node] = []
    _error_nodes(tree.root_node, errors)
    if not errors:
        errors = [tree.root_node]
    had_errors = doc.tree.root_node.has_error if doc.tree is not None else False
    if had_errors:
        region_start = len(doc.text[:start].encode("utf-8", "surrogatepass"))
        region_end = region_start + len(new_text.encode("utf-8", "surrogatepass"))
        errors = [e for e in errors if e.start_byte <= region_end and e.end_byte >= region_start]
        if not errors:
            return None
    return f"line {errors[0].start_point.row + 1}"
