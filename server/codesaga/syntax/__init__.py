"""Tree-sitter support: the grammar registry, the tree queries context building uses, and
definitions and calls from each grammar's own tags.scm (:mod:`codesaga.syntax.tags`).

Offsets in this package are UTF-8 byte offsets (tree-sitter's unit); convert to and from
LSP positions with :class:`codesaga.documents.Document`.
"""

from codesaga.syntax.languages import GRAMMARS, get_language, grammar_name, new_parser
from codesaga.syntax.scopes import Span, enclosing_scopes, has_errors, import_spans
from codesaga.syntax.tags import Tag, call_names, definition_of, definitions, references

__all__ = [
    "GRAMMARS",
    "Span",
    "Tag",
    "call_names",
    "definition_of",
    "definitions",
    "enclosing_scopes",
    "get_language",
    "grammar_name",
    "has_errors",
    "import_spans",
    "new_parser",
    "references",
]
