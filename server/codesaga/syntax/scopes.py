"""What context building needs from a syntax tree: enclosing scopes and imports.

Everything here works on tree-sitter trees parsed from UTF-8 bytes, so all offsets are
UTF-8 byte offsets and rows/columns are tree-sitter points (0-based row, column in bytes;
rows are counted at ``\\n``, so they equal LSP lines unless the document uses lone ``\\r``
line endings). Converting to LSP positions is :class:`codesaga.documents.Document`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node, Tree

__all__ = ["Span", "enclosing_scopes", "has_errors", "import_spans"]

# Headers longer than this (in UTF-8 bytes) are cut, at a line break where possible.
_MAX_HEADER_BYTES = 2048
_WHITESPACE = b" \t\r\n\f\v"
_WHITESPACE_BYTES = frozenset(_WHITESPACE)


@dataclass(frozen=True)
class Span:
    """A syntax node of interest, located in the document.

    ``kind`` is the tree-sitter node type (e.g. ``"function_definition"``). ``start_byte``
    and ``end_byte`` are UTF-8 byte offsets into the document (end exclusive);
    ``start_line``/``end_line`` are 0-based rows (inclusive). ``header`` is decoded text:
    for a scope, its signature up to the body (through the opening ``{`` in brace
    languages, through the ``:`` in Python); for an import, the whole statement. Trailing
    whitespace is stripped, and continuation lines are dedented by the first line's indent.
    """

    kind: str
    start_byte: int
    end_byte: int
    start_line: int
    end_line: int
    header: str


@dataclass(frozen=True)
class _Rules:
    scopes: frozenset[str]
    # node types that wrap a scope and belong to its header (decorators, `export`, templates)
    wrappers: frozenset[str] = frozenset()
    # scope types that only count when they have a body (`struct S;` vs `struct S { ... }`)
    need_body: frozenset[str] = frozenset()
    imports: frozenset[str] = frozenset()
    # container node types searched (recursively) for imports besides the root
    import_containers: frozenset[str] = frozenset()
    # Python: a cursor in the whitespace after a scope is inside it when indented deeper
    indentation: bool = False
    # JS/TS: `const x = require("m")` declarations count as imports
    requires: bool = False


def _f(*names: str) -> frozenset[str]:
    return frozenset(names)


_JS_SCOPES = _f(
    "function_declaration",
    "generator_function_declaration",
    "function_expression",
    "generator_function",
    "arrow_function",
    "method_definition",
    "class_declaration",
    "class",
)
_TS_SCOPES = _JS_SCOPES | _f(
    "abstract_class_declaration",
    "interface_declaration",
    "internal_module",  # namespace N { }
    "module",  # module M { } / declare module "m" { }
)
_TS_RULES = _Rules(
    scopes=_TS_SCOPES,
    wrappers=_f("export_statement", "ambient_declaration"),
    imports=_f("import_statement"),
    requires=True,
)
_C_SCOPES = _f("function_definition", "struct_specifier", "union_specifier", "enum_specifier")
_C_NEED_BODY = _f("struct_specifier", "union_specifier", "enum_specifier", "class_specifier")
_C_IMPORT_CONTAINERS = _f(
    "preproc_if", "preproc_ifdef", "preproc_elif", "preproc_elifdef", "preproc_else"
)

_RULES: dict[str, _Rules] = {
    "python": _Rules(
        scopes=_f("function_definition", "class_definition"),
        wrappers=_f("decorated_definition"),
        imports=_f("import_statement", "import_from_statement", "future_import_statement"),
        # module-level `if TYPE_CHECKING:` / `try: import x` blocks, not function bodies
        import_containers=_f(
            "if_statement",
            "elif_clause",
            "else_clause",
            "try_statement",
            "except_clause",
            "except_group_clause",
            "finally_clause",
            "block",
        ),
        indentation=True,
    ),
    "javascript": _Rules(
        scopes=_JS_SCOPES,
        wrappers=_f("export_statement"),
        imports=_f("import_statement"),
        requires=True,
    ),
    "typescript": _TS_RULES,
    "tsx": _TS_RULES,
    "rust": _Rules(
        scopes=_f(
            "function_item",
            "impl_item",
            "trait_item",
            "mod_item",
            "struct_item",
            "enum_item",
            "union_item",
            "closure_expression",
        ),
        imports=_f("use_declaration", "extern_crate_declaration"),
    ),
    "go": _Rules(
        # type_spec only when it declares a struct or interface; a `type` declaration with a
        # single spec wraps it so the header reads `type S struct {`.
        scopes=_f("function_declaration", "method_declaration", "func_literal", "type_spec"),
        wrappers=_f("type_declaration"),
        imports=_f("package_clause", "import_declaration"),
    ),
    "java": _Rules(
        scopes=_f(
            "method_declaration",
            "constructor_declaration",
            "compact_constructor_declaration",
            "class_declaration",
            "interface_declaration",
            "enum_declaration",
            "record_declaration",
            "annotation_type_declaration",
            "lambda_expression",
        ),
        imports=_f("package_declaration", "import_declaration"),
    ),
    "c": _Rules(
        scopes=_C_SCOPES,
        need_body=_C_NEED_BODY,
        imports=_f("preproc_include"),
        import_containers=_C_IMPORT_CONTAINERS,
    ),
    "cpp": _Rules(
        scopes=_C_SCOPES | _f("class_specifier", "namespace_definition", "lambda_expression"),
        wrappers=_f("template_declaration"),
        need_body=_C_NEED_BODY,
        imports=_f("preproc_include", "using_declaration", "namespace_alias_definition"),
        import_containers=_C_IMPORT_CONTAINERS | _f("linkage_specification", "declaration_list"),
    ),
}


def has_errors(tree: Tree) -> bool:
    """Whether the tree contains syntax errors (ERROR or MISSING nodes)."""
    return tree.root_node.has_error


def _is_scope(node: Node, rules: _Rules) -> bool:
    kind = node.type
    if kind not in rules.scopes:
        return False
    if kind in rules.need_body:
        return node.child_by_field_name("body") is not None
    if kind == "type_spec":  # Go
        value = node.child_by_field_name("type")
        return value is not None and value.type in ("struct_type", "interface_type")
    return True


def _wrapped_child(wrapper: Node, rules: _Rules) -> Node | None:
    """The scope, or nested wrapper, that ``wrapper`` directly wraps (``None`` if neither)."""
    if wrapper.type == "type_declaration":  # Go: only `type X struct {...}` with one spec
        if wrapper.child_count != 2:
            return None
        spec = wrapper.child(1)
        return spec if spec is not None and _is_scope(spec, rules) else None
    for child in wrapper.named_children:
        if child.type in rules.wrappers or _is_scope(child, rules):
            return child
    return None


def _wrapped_scope(wrapper: Node, rules: _Rules) -> Node | None:
    """The scope node that ``wrapper`` (decorators, `export`, a template, ...) wraps."""
    child = _wrapped_child(wrapper, rules)
    while child is not None and not _is_scope(child, rules):
        child = _wrapped_child(child, rules)
    return child


def _outer(scope: Node, rules: _Rules) -> Node:
    """The outermost wrapper around ``scope`` whose text belongs to its header, or ``scope``."""
    current = scope
    while (parent := current.parent) is not None and parent.type in rules.wrappers:
        child = _wrapped_child(parent, rules)
        if child is None or child.id != current.id:
            break
        current = parent
    return current


def _last_leaf(node: Node) -> Node:
    while node.child_count:
        last = node.child(node.child_count - 1)
        if last is None:
            break
        node = last
    return node


def _contains(outer: Node, offset: int, source: bytes, rules: _Rules, cursor_column: int) -> bool:
    """Whether the cursor at byte ``offset`` is inside ``outer``.

    Callers only ask about nodes containing the last non-whitespace byte before the
    cursor, so when ``offset > outer.end_byte`` only whitespace lies in between.
    """
    start, end = outer.start_byte, outer.end_byte
    if offset <= start:
        return False
    if offset < end:
        return True
    if rules.indentation:
        # Python: the end of the last line belongs to the scope; on a later line, the
        # cursor is inside when it is indented deeper than the scope's first line.
        gap = source[end:offset]
        if b"\n" not in gap and b"\r" not in gap:
            return True
        return cursor_column > outer.start_point.column
    last = _last_leaf(outer)
    if last.is_missing:  # unclosed `{` while typing: extends over trailing whitespace
        return True
    return offset == end and last.type not in ("}", ";")


def _header_end(node: Node) -> int:
    """Byte offset where ``node``'s header ends (after the body's ``{`` if it has one)."""
    body = node.child_by_field_name("body")
    if body is None and node.type == "type_spec":  # Go struct / interface
        value = node.child_by_field_name("type")
        if value is not None:
            for child in value.children:
                if child.type == "field_declaration_list":
                    body = child
                    break
                if child.type == "{":
                    return child.end_byte
    if body is None:
        for child in node.children:
            if child.type == "{":
                return child.end_byte
        return node.end_byte
    first = body.child(0) if body.child_count else None
    if first is not None and first.type == "{" and not first.is_missing:
        return first.end_byte
    return body.start_byte


def _clean(source: bytes, start: int, end: int) -> bytes:
    """``source[start:end]`` with trailing whitespace stripped, capped and dedented."""
    text = source[start:end].rstrip(_WHITESPACE)
    if len(text) > _MAX_HEADER_BYTES:
        text = text[:_MAX_HEADER_BYTES]
        cut = text.rfind(b"\n")
        if cut > 0:
            text = text[:cut]
        text = text.rstrip(_WHITESPACE)
    if b"\n" not in text:
        return text
    line_start = source.rfind(b"\n", 0, start) + 1
    indent = source[line_start:start]
    if not indent or indent.strip(b" \t"):
        return text
    lines = text.split(b"\n")
    return b"\n".join(
        [lines[0]] + [ln[len(indent) :] if ln.startswith(indent) else ln for ln in lines[1:]]
    )


def _span(kind: str, outer: Node, header_end: int, source: bytes) -> Span:
    return Span(
        kind=kind,
        start_byte=outer.start_byte,
        end_byte=outer.end_byte,
        start_line=outer.start_point.row,
        end_line=outer.end_point.row,
        header=_clean(source, outer.start_byte, header_end).decode("utf-8", "replace"),
    )


def enclosing_scopes(
    tree: Tree, grammar: str, byte_offset: int, source: bytes | None = None
) -> list[Span]:
    """Definitions (functions, methods, classes, impls, namespaces, ...) around a cursor.

    ``byte_offset`` is a UTF-8 byte offset of a cursor (a position *between* bytes); a
    scope contains it when the cursor is after the scope's first byte and before its end.
    Returns the scopes innermost first; ``[]`` for an unknown ``grammar``.

    Also treated as inside (the cases that matter while typing):

    * Python: a cursor at the very end of a scope, or in whitespace after it on a later
      line indented deeper than the scope's first line (``def f():\\n    x = 1\\n    |``).
    * Brace languages: a cursor after a scope whose closing ``}`` is missing (parser error
      recovery), and a cursor right after an expression-bodied lambda/arrow function.

    Decorators (Python), ``export``/``declare`` (JS/TS), ``template <...>`` (C++) and a
    single-spec Go ``type`` declaration belong to the scope they wrap: its span starts there
    and its header includes them, while ``kind`` stays the wrapped node's type.

    ``source`` is the UTF-8 text that the tree's byte ranges index; by default the text the
    tree was parsed from. Give it for a tree edited with ``Tree.edit`` but not re-parsed
    (tree-sitter drops an edited tree's text: ``[]`` without it).
    """
    rules = _RULES.get(grammar)
    if source is None:
        source = tree.root_node.text
    if rules is None or source is None or byte_offset <= 0:
        return []
    offset = min(byte_offset, len(source))
    # The last non-whitespace byte before the cursor; every scope that can contain the
    # cursor contains that byte, so walking up from it finds them all.
    probe = offset
    while probe > 0 and source[probe - 1] in _WHITESPACE_BYTES:
        probe -= 1
    if probe == 0:
        return []
    cursor_column = offset - (source.rfind(b"\n", 0, offset) + 1)
    node: Node | None = tree.root_node.descendant_for_byte_range(probe - 1, probe)
    spans: list[Span] = []
    seen: set[int] = set()
    while node is not None:
        scope: Node | None = None
        if _is_scope(node, rules):
            scope = node
        elif node.type in rules.wrappers:
            scope = _wrapped_scope(node, rules)
        if scope is not None and scope.id not in seen:
            seen.add(scope.id)
            outer = _outer(scope, rules)
            if _contains(outer, offset, source, rules, cursor_column):
                spans.append(_span(scope.type, outer, _header_end(scope), source))
        node = node.parent
    return spans


def _import_nodes(node: Node, rules: _Rules, source: bytes, out: list[Node]) -> None:
    for child in node.named_children:
        if child.type in rules.imports:
            out.append(child)
        elif child.type in rules.import_containers:
            _import_nodes(child, rules, source, out)
        elif rules.requires and _is_require(child, source):
            out.append(child)


def _is_require(node: Node, source: bytes) -> bool:
    """JS/TS: a top-level ``const x = require("m")`` style declaration."""
    if node.type not in ("lexical_declaration", "variable_declaration"):
        return False
    for declarator in node.named_children:
        if declarator.type != "variable_declarator":
            continue
        value = declarator.child_by_field_name("value")
        while value is not None and value.type in ("member_expression", "await_expression"):
            value = value.named_children[0] if value.named_children else None
        if value is not None and value.type == "call_expression":
            function = value.child_by_field_name("function")
            if function is None:
                continue
            if source[function.start_byte : function.end_byte] == b"require":
                return True
    return False


def import_spans(tree: Tree, grammar: str, source: bytes | None = None) -> list[Span]:
    """Module-level import statements in document order; ``[]`` for an unknown grammar.

    Per grammar: Python ``import``/``from ... import``/``from __future__`` (also inside
    module-level ``if``/``try`` blocks, e.g. ``if TYPE_CHECKING:``); JS/TS ``import``
    statements and ``const x = require("m")`` declarations; Rust ``use`` and
    ``extern crate``; Go ``package`` and ``import``; Java ``package`` and ``import``; C/C++
    ``#include`` (also inside ``#if``/``#ifdef`` blocks such as include guards), plus C++
    ``using`` and namespace aliases. ``header`` is the statement's text without trailing
    whitespace, and ``end_byte``/``end_line`` exclude that whitespace too (``#include``
    nodes otherwise end at the next line). ``source`` as for :func:`enclosing_scopes`.
    """
    rules = _RULES.get(grammar)
    if source is None:
        source = tree.root_node.text
    if rules is None or source is None:
        return []
    nodes: list[Node] = []
    _import_nodes(tree.root_node, rules, source, nodes)
    spans: list[Span] = []
    for node in nodes:
        raw = source[node.start_byte : node.end_byte]
        text = raw.rstrip(_WHITESPACE)
        spans.append(
            Span(
                kind=node.type,
                start_byte=node.start_byte,
                end_byte=node.start_byte + len(text),
                start_line=node.start_point.row,
                end_line=node.start_point.row + text.count(b"\n"),
                header=text.decode("utf-8", "replace"),
            )
        )
    return spans
