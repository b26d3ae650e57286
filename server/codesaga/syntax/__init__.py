"""Tree-sitter support: the grammar registry and the tree queries context building uses.

Offsets in this package are UTF-8 byte offsets (tree-sitter's unit); convert to and from
LSP positions with :class:`codesaga.documents.Document`.
"""

from codesaga.syntax.languages import GRAMMARS, get_language, grammar_name, new_parser
from codesaga.syntax.scopes import Span, enclosing_scopes, has_errors, import_spans

__all__ = [
    "GRAMMARS",
    "Span",
    "enclosing_scopes",
    "get_language",
    "grammar_name",
    "has_errors",
    "import_spans",
    "new_parser",
]
