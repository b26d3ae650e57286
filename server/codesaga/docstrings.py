"""Doc comments in each language's own convention, placed and formatted by CodeSaga.

The model is only asked for the text; this module decides where it goes and how it is
written, so that even a weak model's answer yields code that parses:

* Python: a docstring as the first statement of the body, at the body's indentation.
* JavaScript / TypeScript: a JSDoc ``/** ... */`` block above the function or class.
* Java: Javadoc ``/** ... */``; C / C++: a Doxygen ``/** ... */`` block.
* Rust: ``///`` lines (above the item's attributes).
* Go: ``//`` lines starting with the name (``// Sum adds ...``).

An existing doc comment (docstring, ``/** */``, ``///``, or any comment right above a Go
declaration) is replaced rather than duplicated. Offsets are ``str`` indices (code points)
into the document's text.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Literal

from tree_sitter import Node

from codesaga.documents import Document
from codesaga.syntax.scopes import enclosing_scopes
from codesaga.syntax.tags import definition_of
from codesaga.targets import (
    Target,
    line_target,
    node_name,
    scope_node,
    statement_level,
)

__all__ = ["DocTarget", "doc_edit", "doc_target", "format_doc", "CONVENTIONS"]

Style = Literal["python", "block", "rust", "go"]

_STYLES: dict[str, Style] = {
    "python": "python",
    "javascript": "block",
    "typescript": "block",
    "tsx": "block",
    "java": "block",
    "c": "block",
    "cpp": "block",
    "rust": "rust",
    "go": "go",
}
CONVENTIONS: dict[str, str] = {
    "python": "Python docstring",
    "javascript": "JSDoc comment",
    "typescript": "TSDoc/JSDoc comment",
    "tsx": "TSDoc/JSDoc comment",
    "java": "Javadoc comment",
    "c": "Doxygen comment",
    "cpp": "Doxygen comment",
    "rust": "Rustdoc comment",
    "go": "Go doc comment",
}
"""What the doc comment is called in each grammar (for prompts and titles)."""

_WIDTH = 80
_MAX_LINES = 12


@dataclass(frozen=True)
class DocTarget:
    """Where a doc comment goes: replace ``[start, end)`` (``start == end``: insert) with
    :func:`format_doc`'s text. ``definition`` is the documented code (for the prompt),
    ``indent`` the doc comment's indentation, ``inline`` is True for a Python body on the
    header line (``def f(): return 1``), ``existing`` when a doc comment is replaced."""

    grammar: str
    style: Style
    name: str
    kind: str
    definition: Target
    start: int
    end: int
    indent: str
    inline: bool = False
    existing: bool = False


def _documented_node(doc: Document, offset: int) -> Node | None:
    """The innermost scope around ``offset`` that is a definition by the grammar's tags.scm
    (a function, method, class, interface, module, type, ...; :mod:`codesaga.syntax.tags`),
    or a function bound to a name (``const f = () => ...``: tags.scm tags the binding)."""
    tree, grammar = doc.tree, doc.grammar
    assert tree is not None and grammar is not None
    for span in enclosing_scopes(tree, grammar, doc.byte_at(offset)):
        node = scope_node(tree, span.start_byte, span.end_byte, span.kind)
        if node is None:
            continue
        if definition_of(tree, grammar, node) is not None:
            return node
        binding = definition_of(tree, grammar, node.parent) if node.parent is not None else None
        if binding is not None and binding.kind == "function":
            return node
    return None


def _line_start(doc: Document, offset: int) -> int:
    return doc.line_start(doc.line_at(offset))


def _indent_of_line(doc: Document, line: int) -> str:
    text = doc.line_text(line)
    return text[: len(text) - len(text.lstrip())]


def _python_target(doc: Document, node: Node, definition: Target) -> DocTarget | None:
    body = node.child_by_field_name("body")
    if body is None:
        return None
    name = node_name(node)
    first = body.named_children[0] if body.named_children else None
    if (
        first is not None
        and first.type == "expression_statement"
        and first.named_child_count == 1
        and first.named_children[0].type == "string"
    ):
        string = first.named_children[0]
        return DocTarget(
            grammar="python",
            style="python",
            name=name,
            kind=node.type,
            definition=definition,
            start=doc.offset_of_byte(string.start_byte),
            end=doc.offset_of_byte(string.end_byte),
            indent=_indent_of_line(doc, string.start_point.row),
            existing=True,
        )
    colon = None
    for child in node.children:
        if child.type == ":":
            colon = child
    if colon is None:
        return None
    header_indent = _indent_of_line(doc, node.start_point.row)
    if body.start_point.row == colon.end_point.row:  # def f(): return 1
        return DocTarget(
            grammar="python",
            style="python",
            name=name,
            kind=node.type,
            definition=definition,
            start=doc.offset_of_byte(colon.end_byte),
            end=doc.offset_of_byte(body.start_byte),
            indent=header_indent + _indent_unit(doc, header_indent),
            inline=True,
        )
    at = doc.line_start(colon.end_point.row + 1)
    return DocTarget(
        grammar="python",
        style="python",
        name=name,
        kind=node.type,
        definition=definition,
        start=at,
        end=at,
        indent=_indent_of_line(doc, body.start_point.row),
    )


def _indent_unit(doc: Document, base: str) -> str:
    """Indentation one level deeper than ``base`` as the document writes it."""
    if base.startswith("\t"):
        return "\t"
    for line in doc.text.split("\n", 400)[:400]:
        stripped = line.lstrip(" ")
        width = len(line) - len(stripped)
        if stripped and width > len(base) and line.startswith(base):
            return " " * (width - len(base))
    return "    "


def _last_row(node: Node) -> int:
    """The last row holding text of ``node`` (a line comment may end at the next row's start)."""
    end = node.end_point
    return end.row - 1 if end.column == 0 and end.row > node.start_point.row else end.row


def _is_doc_comment(node: Node, style: Style) -> bool:
    text = (node.text or b"").lstrip()
    if style == "go":
        return node.type == "comment"
    if style == "rust":
        return text.startswith((b"///", b"/**")) and not text.startswith((b"////", b"/***"))
    return text.startswith(b"/**") and not text.startswith(b"/***")


def _above_target(doc: Document, node: Node, style: Style, definition: Target) -> DocTarget:
    outer = statement_level(node)
    if style == "rust":  # doc comments go above #[attributes]
        while (
            (prev := outer.prev_named_sibling) is not None
            and prev.type == "attribute_item"
            and prev.end_point.row >= outer.start_point.row - 1
        ):
            outer = prev
    start = _line_start(doc, doc.offset_of_byte(outer.start_byte))
    end = start
    existing = False
    first = outer
    comments: list[Node] = []
    while (
        (prev := first.prev_sibling) is not None
        and "comment" in prev.type
        and _last_row(prev) == first.start_point.row - 1
    ):
        comments.append(prev)
        first = prev
    if comments and all(_is_doc_comment(c, style) for c in comments):
        start = _line_start(doc, doc.offset_of_byte(comments[-1].start_byte))
        existing = True
    return DocTarget(
        grammar=doc.grammar or "",
        style=style,
        name=node_name(node),
        kind=node.type,
        definition=definition,
        start=start,
        end=end,
        indent=_indent_of_line(doc, outer.start_point.row),
        existing=existing,
    )


def doc_target(doc: Document, offset: int) -> DocTarget | None:
    """The definition to document around str ``offset`` (the selection's start: innermost
    function, method, class, struct, ...), or ``None`` when there is none or the language has
    no convention here. Raises PositionError for an offset outside ``0..len(doc.text)``."""
    if doc.tree is None or doc.grammar is None or doc.grammar not in _STYLES:
        return None
    line_number = doc.line_at(offset)
    line = doc.line_text(line_number)
    # a cursor in the leading whitespace of a header line means that header
    line_start = doc.line_start(line_number)
    lead = len(line) - len(line.lstrip())
    if offset - line_start <= lead < len(line):
        offset = line_start + lead + 1
    node = _documented_node(doc, offset)
    if node is None:
        return None
    style = _STYLES[doc.grammar]
    outer = statement_level(node) if style != "python" else node
    if style == "python" and node.parent is not None and node.parent.type == "decorated_definition":
        outer = node.parent
    definition = line_target(
        doc,
        doc.offset_of_byte(outer.start_byte),
        doc.offset_of_byte(node.end_byte),
        node.type,
        node_name(node),
    )
    if style == "python":
        return _python_target(doc, node, definition)
    return _above_target(doc, node, style, definition)


def _wrap(text: str, width: int) -> list[str]:
    """Lines of ``text`` wrapped at ``width`` columns; blank lines kept (one at most)."""
    out: list[str] = []
    for raw in text.strip().split("\n"):
        line = raw.rstrip()
        if not line.strip():
            if out and out[-1]:
                out.append("")
            continue
        lead = line[: len(line) - len(line.lstrip())]
        out.extend(
            textwrap.wrap(
                line.strip(),
                width=max(20, width - len(lead)),
                initial_indent=lead,
                subsequent_indent=lead,
                break_long_words=False,
                break_on_hyphens=False,
            )
            or [""]
        )
    while out and not out[-1]:
        out.pop()
    return out[:_MAX_LINES]


def _python_literal(lines: list[str], indent: str) -> str:
    escaped = [ln.replace("\\", "\\\\").replace('"""', '\\"\\"\\"') for ln in lines]
    if escaped and escaped[-1].endswith('"'):
        escaped[-1] = escaped[-1][:-1] + '\\"'
    if len(escaped) == 1 and len(indent) + len(escaped[0]) + 6 <= 88:
        return f'"""{escaped[0]}"""'
    body = "\n".join(indent + ln if ln else "" for ln in escaped[1:])
    return f'"""{escaped[0]}\n' + (body + "\n" if body else "") + f'{indent}"""'


def format_doc(target: DocTarget, text: str) -> str:
    """The replacement for ``[target.start, target.end)``: ``text`` written as the language's
    doc comment, wrapped to about 80 columns, at most 12 lines. ``text`` must be non-empty
    (the caller checks); comment terminators inside it are escaped."""
    indent = target.indent
    width = _WIDTH - len(indent.expandtabs(4))
    if target.style == "python":
        lines = _wrap(text, width - 6) or [""]
        literal = _python_literal(lines, indent)
        if target.existing:
            return literal
        if target.inline:
            return f"\n{indent}{literal}\n{indent}"
        return f"{indent}{literal}\n"
    if target.style == "go":
        first, *rest = text.strip().split("\n")
        name = target.name
        if name and not first.startswith(name):
            lowered = first[:1].lower() + first[1:] if first[:1].isupper() else first
            first = f"{name} {lowered}"
        lines = _wrap("\n".join([first, *rest]), width - 3)
        return "".join(f"{indent}// {ln}\n" if ln else f"{indent}//\n" for ln in lines)
    if target.style == "rust":
        lines = _wrap(text, width - 4)
        return "".join(f"{indent}/// {ln}\n" if ln else f"{indent}///\n" for ln in lines)
    lines = [ln.replace("*/", "*\\/") for ln in _wrap(text, width - 3)]
    body = "".join(f"{indent} * {ln}\n" if ln else f"{indent} *\n" for ln in lines)
    return f"{indent}/**\n{body}{indent} */\n"


def doc_edit(target: DocTarget, text: str) -> tuple[int, int, str]:
    """``(start, end, new_text)``: the edit that writes ``text`` as ``target``'s doc comment."""
    return target.start, target.end, format_doc(target, text)
