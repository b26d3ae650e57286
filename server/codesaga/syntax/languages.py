"""Language registry: LSP language ids / file names -> tree-sitter grammars.

Grammar packages (``tree_sitter_python`` and friends) are imported lazily, the first time
a grammar is asked for, so importing this module costs nothing beyond ``tree_sitter``.
"""

from __future__ import annotations

import functools
import importlib
from urllib.parse import unquote, urlsplit

from tree_sitter import Language, Parser

__all__ = ["GRAMMARS", "get_language", "grammar_name", "new_parser"]

# grammar name -> (module, function returning the TSLanguage pointer)
_GRAMMAR_MODULES: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "rust": ("tree_sitter_rust", "language"),
    "go": ("tree_sitter_go", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
}

#: Every grammar name this module knows, in a stable order.
GRAMMARS: tuple[str, ...] = tuple(_GRAMMAR_MODULES)

# LSP languageId (lower-cased) -> grammar name. The JavaScript grammar parses JSX itself.
_LANGUAGE_IDS: dict[str, str] = {
    "python": "python",
    "py": "python",
    "python3": "python",
    "javascript": "javascript",
    "js": "javascript",
    "javascriptreact": "javascript",
    "jsx": "javascript",
    "typescript": "typescript",
    "ts": "typescript",
    "typescriptreact": "tsx",
    "tsx": "tsx",
    "rust": "rust",
    "rs": "rust",
    "go": "go",
    "golang": "go",
    "java": "java",
    "c": "c",
    "h": "c",
    "cpp": "cpp",
    "c++": "cpp",
    "cxx": "cpp",
    "cc": "cpp",
    "hpp": "cpp",
}

# file extension (lower-cased, with the dot) -> grammar name
_EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".rs": "rust",
    ".go": "go",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
}


def _extension(uri: str) -> str:
    """The lower-cased extension (with the dot) of the last path segment of ``uri``, or ""."""
    path = unquote(urlsplit(uri).path) or uri
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def grammar_name(language_id: str, uri: str | None = None) -> str | None:
    """Map an LSP ``languageId`` (and, failing that, the ``uri``'s extension) to a grammar.

    Returns one of :data:`GRAMMARS`, or ``None`` when neither the language id nor the file
    extension is known (the document is then treated as plain text). Language ids are
    matched case-insensitively; ``javascriptreact`` uses the ``javascript`` grammar (which
    handles JSX) and ``typescriptreact`` uses ``tsx``.
    """
    grammar = _LANGUAGE_IDS.get(language_id.strip().lower()) if language_id else None
    if grammar is None and uri:
        grammar = _EXTENSIONS.get(_extension(uri))
    return grammar


@functools.cache
def get_language(name: str) -> Language:
    """The tree-sitter :class:`~tree_sitter.Language` for grammar ``name`` (cached).

    The grammar's Python package is imported on first use. Raises :class:`KeyError` for a
    name that is not in :data:`GRAMMARS`.
    """
    try:
        module_name, function_name = _GRAMMAR_MODULES[name]
    except KeyError:
        raise KeyError(f"unknown grammar: {name!r}") from None
    module = importlib.import_module(module_name)
    return Language(getattr(module, function_name)())


def new_parser(name: str) -> Parser:
    """A fresh :class:`~tree_sitter.Parser` for grammar ``name`` (:class:`KeyError` if unknown).

    Parsers are reusable but not thread-safe; keep one per grammar per owner.
    """
    return Parser(get_language(name))
