"""The layering rule of DESIGN.md: lsprotocol types only at the protocol edge.

The core (documents, targets, actions, chat, completion, ...) works in str offsets; only the
handlers in ``lsp/``, the LSP clients (``bench/``, ``evals/``, ``demo.py``, ``cli.py``) and
the two edge converters of ``documents/`` (positions and content changes) may import lsprotocol.
"""

from __future__ import annotations

import ast
from pathlib import Path

import codesaga

PACKAGE = Path(codesaga.__file__).resolve().parent
EDGE_DIRECTORIES = ("lsp", "bench", "evals")
EDGE_MODULES = ("demo.py", "cli.py", "documents/text.py", "documents/store.py")


def imported_modules(tree: ast.AST) -> set[str]:
    """Every module an ``import`` or ``from ... import`` names, anywhere in ``tree``
    (also inside functions and ``TYPE_CHECKING`` blocks)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def is_edge(relative: Path) -> bool:
    return relative.parts[0] in EDGE_DIRECTORIES or relative.as_posix() in EDGE_MODULES


def test_only_the_edge_imports_lsprotocol() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if is_edge(relative):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        lsp_imports = {
            name
            for name in imported_modules(tree)
            if name == "lsprotocol" or name.startswith("lsprotocol.")
        }
        if lsp_imports:
            offenders.append(f"{relative}: {', '.join(sorted(lsp_imports))}")
    assert offenders == [], "lsprotocol imported below lsp/: " + "; ".join(offenders)


def test_the_rule_sees_every_kind_of_import() -> None:
    source = (
        "import lsprotocol.types\n"
        "from lsprotocol import types\n"
        "def f():\n    from lsprotocol.types import Range\n"
        "from . import lsprotocol_like\n"
    )
    assert imported_modules(ast.parse(source)) == {"lsprotocol.types", "lsprotocol"}
    assert is_edge(Path("lsp/chat.py")) and is_edge(Path("documents/text.py"))
    assert not is_edge(Path("chat/params.py")) and not is_edge(Path("targets.py"))
    assert (PACKAGE / "targets.py").is_file()  # walking the real package
