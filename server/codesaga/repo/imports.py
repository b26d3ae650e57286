"""Where the names a file imports come from: Python and TypeScript/JavaScript imports read
with regular expressions (fast on every keystroke, and tolerant of the half-typed code that
would trip a parser), mapped to the workspace-relative files that may define them.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

__all__ = ["Imported", "file_imports", "path_matches"]

_PY_FROM = re.compile(
    r"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)?|[^\n#]*(?:\\\n[^\n#]*)*)",
    re.MULTILINE,
)
_PY_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n#]+)", re.MULTILINE)
_JS_IMPORT = re.compile(
    r"""\bimport\s+(?:type\s+)?([\w$*{}\s,]+?)\s+from\s+['"]([^'"\n]+)['"]""", re.MULTILINE
)
_JS_EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs")
_NAME = re.compile(r"[A-Za-z_$][\w$]*")


@dataclass(frozen=True)
class Imported:
    """A name bound by an import. ``name``: what it is called in the module it comes from
    (``None`` when the local name is the module itself, ``import pkg.mod as m``).
    ``paths``: workspace-relative POSIX paths the module may be at; a path without a
    directory part, or any path of an absolute Python module, may also match as a suffix
    (``pkg/mod.py`` matches ``src/pkg/mod.py``, see :func:`path_matches`).
    ``submodule_paths``: for ``from pkg import name``, where ``name`` would be if it is a
    module itself (Python only)."""

    name: str | None
    paths: tuple[str, ...]
    submodule_paths: tuple[str, ...] = ()


def path_matches(path: str, candidates: tuple[str, ...]) -> bool:
    """Whether workspace-relative ``path`` is one of ``candidates`` or ends with one (at a
    ``/`` boundary)."""
    return any(path == c or path.endswith("/" + c) for c in candidates)


def _python_module_paths(current: str, module: str) -> tuple[str, ...]:
    level = len(module) - len(module.lstrip("."))
    parts = [p for p in module[level:].split(".") if p]
    if level:
        base = posixpath.dirname(current)
        for _ in range(level - 1):
            base = posixpath.dirname(base)
        stem = posixpath.join(base, *parts) if parts else base
    elif parts:
        stem = "/".join(parts)
    else:
        return ()
    stem = stem.lstrip("/")
    return (f"{stem}.py", f"{stem}/__init__.py") if stem else ("__init__.py",)


def _python(current: str, text: str) -> dict[str, Imported]:
    found: dict[str, Imported] = {}
    for match in _PY_FROM.finditer(text):
        module, names = match.group(1), match.group(2)
        paths = _python_module_paths(current, module)
        for item in names.replace("\\\n", " ").strip("() \t\n").split(","):
            words = item.split()
            if not words or words[0] == "*":
                continue
            name = words[0]
            local = words[2] if len(words) >= 3 and words[1] == "as" else name
            joiner = "" if module.endswith(".") else "."
            sub = _python_module_paths(current, module + joiner + name)
            found[local] = Imported(name, paths, sub)
    for match in _PY_IMPORT.finditer(text):
        for item in match.group(1).split(","):
            words = item.split()
            if not words or not re.fullmatch(r"[\w.]+", words[0]):
                continue
            module = words[0]
            if len(words) >= 3 and words[1] == "as":
                found[words[2]] = Imported(None, _python_module_paths(current, module))
            else:  # `import a.b` binds `a`
                head = module.split(".")[0]
                found.setdefault(head, Imported(None, _python_module_paths(current, head)))
    return found


def _js_module_paths(current: str, source: str) -> tuple[str, ...]:
    if not source.startswith("."):
        return ()
    stem = posixpath.normpath(posixpath.join(posixpath.dirname(current), source))
    stem = stem.lstrip("/")
    base, extension = posixpath.splitext(stem)
    out: list[str] = []
    if extension in _JS_EXTENSIONS:  # `./y.js` written for y.ts too
        out.append(stem)
        out.extend(base + ext for ext in _JS_EXTENSIONS)
    out.extend(stem + ext for ext in _JS_EXTENSIONS)
    out.extend(f"{stem}/index{ext}" for ext in _JS_EXTENSIONS)
    return tuple(dict.fromkeys(out))


def _javascript(current: str, text: str) -> dict[str, Imported]:
    found: dict[str, Imported] = {}
    for match in _JS_IMPORT.finditer(text):
        clause, source = match.group(1), match.group(2)
        paths = _js_module_paths(current, source)
        braces = re.search(r"\{([^}]*)\}", clause)
        outside = re.sub(r"\{[^}]*\}", " ", clause)
        namespace = re.search(r"\*\s*as\s+([\w$]+)", outside)
        if namespace:
            found[namespace.group(1)] = Imported(None, paths)
            outside = outside[: namespace.start()] + outside[namespace.end() :]
        default = _NAME.search(outside)
        if default:  # the default export: most often defined under the same name
            found[default.group(0)] = Imported(default.group(0), paths)
        if braces:
            for item in braces.group(1).split(","):
                words = [w for w in item.split() if w != "type"]
                if not words:
                    continue
                local = words[2] if len(words) >= 3 and words[1] == "as" else words[0]
                found[local] = Imported(words[0], paths)
    return found


def file_imports(path: str, text: str, grammar: str | None) -> dict[str, Imported]:
    """The names ``text`` (the file at workspace-relative ``path``) imports, by local
    name, for Python and TypeScript/JavaScript grammars; ``{}`` for other grammars (their
    names are looked up by name alone)."""
    if grammar == "python":
        return _python(path, text)
    if grammar in ("javascript", "typescript", "tsx"):
        return _javascript(path, text)
    return {}
