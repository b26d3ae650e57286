"""What a model's rewrite brings that the code it replaces did not have.

A refactor or fix answer is an edit of one target; an answer that adds a definition beside
it (a second top-level function, one that shadows another of the file) or calls something
the file never names (``os.system``, ``subprocess.run``, ``eval``) is not a rewrite of that
code, whatever the model meant, and is refused (:func:`codesaga.actions.edits.code_edit`).

Both checks read syntax trees (the grammar's tags.scm definitions and calls,
:mod:`codesaga.syntax.tags`): definitions are compared by name between the old and the new
text of the replaced range; a call in the new text is accepted when every name in its callee
(``os``, ``system`` in ``os.system``) is a name the old document already has, or, for Python,
a name of the interpreter's own builtins (functions and methods of the built-in types) other
than those that run or reach arbitrary code (:data:`PYTHON_UNSAFE_BUILTINS`).
"""

from __future__ import annotations

import builtins
from collections import Counter
from collections.abc import Iterator

from tree_sitter import Node, Tree

from codesaga.documents import Document
from codesaga.syntax import definitions, new_parser, references

__all__ = ["PYTHON_UNSAFE_BUILTINS", "introduced"]

PYTHON_UNSAFE_BUILTINS = frozenset(
    {
        "__import__",
        "breakpoint",
        "compile",
        "delattr",
        "eval",
        "exec",
        "exit",
        "getattr",
        "globals",
        "help",
        "input",
        "locals",
        "open",
        "quit",
        "setattr",
        "vars",
    }
)
"""Python builtins a rewrite may not call unless the file already names them: they run code
given as data, reach any attribute or module, read or write files, or stop the process."""

_BUILTIN_TYPES = (str, bytes, list, dict, set, frozenset, tuple, int, float, complex, object)
_PYTHON_SAFE = (
    frozenset(
        {name for name in dir(builtins) if not name.startswith("_")}
        | {name for kind in _BUILTIN_TYPES for name in dir(kind) if not name.startswith("__")}
    )
    - PYTHON_UNSAFE_BUILTINS
)
_CALLEE_FIELDS = ("function", "macro", "constructor")
_NOT_CALLEE_FIELDS = ("arguments", "type_arguments")


def introduced(doc: Document, start: int, end: int, new_text: str) -> str | None:
    """What ``new_text`` in place of ``doc.text[start:end]`` (str offsets) adds that was not
    there, for the user's message: ``"the definition `name`"`` for a definition at the top
    of the replaced range whose name the old range did not define as often, ``"a call to
    `callee`"`` for a call naming something the old document never names; ``None`` when it
    adds neither, or when the document has no grammar or tree (nothing can be checked)."""
    if doc.grammar is None or doc.tree is None:
        return None
    grammar = doc.grammar
    first = doc.byte_at(start)
    old_last = doc.byte_at(end)
    text = doc.text[:start] + new_text + doc.text[end:]
    new_tree = new_parser(grammar).parse(text.encode("utf-8", "surrogatepass"))
    new_last = first + len(new_text.encode("utf-8", "surrogatepass"))
    added = Counter(_outer_definitions(new_tree, grammar, first, new_last))
    added.subtract(_outer_definitions(doc.tree, grammar, first, old_last))
    for name, count in added.items():
        if count > 0:
            return f"the definition `{name}`"
    known = set(_names(doc.tree.root_node))
    if grammar == "python":
        known |= _PYTHON_SAFE
    for call in _calls(new_tree, grammar, first, new_last):
        callee = _callee_names(call)
        if any(name not in known for name in callee):
            label = " ".join(_text(_callee_node(call) or call).split())[:60]
            return f"a call to `{label}`"
    return None


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _outer_definitions(tree: Tree, grammar: str, first: int, last: int) -> list[str]:
    """Names of the definitions inside bytes ``[first, last)`` that no other definition
    there contains."""
    inside = [
        tag
        for tag in definitions(tree, grammar, first, last)
        if tag.start_byte >= first and tag.end_byte <= last
    ]
    return [
        tag.name
        for tag in inside
        if not any(
            other is not tag
            and other.start_byte <= tag.start_byte
            and tag.end_byte <= other.end_byte
            and (other.start_byte, other.end_byte) != (tag.start_byte, tag.end_byte)
            for other in inside
        )
    ]


def _calls(tree: Tree, grammar: str, first: int, last: int) -> list[Node]:
    return [
        tag.node
        for tag in references(tree, grammar, first, last)
        if tag.kind == "call" and tag.start_byte >= first and tag.end_byte <= last
    ]


def _callee_node(call: Node) -> Node | None:
    for field in _CALLEE_FIELDS:
        node = call.child_by_field_name(field)
        if node is not None:
            return node
    return None


def _callee_names(call: Node) -> list[str]:
    """The named leaves' texts of what ``call`` calls: its callee field, or (Java's
    ``object.name(...)``) the call without its arguments."""
    callee = _callee_node(call)
    if callee is not None:
        return list(_names(callee))
    skipped = {
        node.id
        for field in _NOT_CALLEE_FIELDS
        if (node := call.child_by_field_name(field)) is not None
    }
    return [
        name for child in call.named_children if child.id not in skipped for name in _names(child)
    ]


def _names(node: Node) -> Iterator[str]:
    """The texts of the named leaves under ``node`` (identifiers, keywords like ``self``,
    string contents), comments left out."""
    stack = [node]
    while stack:
        current = stack.pop()
        if "comment" in current.type:
            continue
        if current.named_child_count == 0:
            if current.is_named:
                yield _text(current)
            continue
        stack.extend(current.named_children)
