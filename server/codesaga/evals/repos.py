"""The ``repo`` suite: repository-level completion tasks (CrossCodeEval-style).

A task is a line of a multi-file Python repository that calls a function, class or method
defined in *another* file of it, found through the file's imports with :mod:`ast`. The cursor
stands just before the called name (``name`` tasks) or just inside the call's parentheses
(``args`` tasks); the answer is the rest of the line. Tasks are sampled deterministically and
spread over the files. The scratch workspace (:func:`write_workspace`) holds the repository
with every task's line cut at its cursor, so that no answer is on disk.

Sources: the fixture repositories under ``tests/fixtures/repos/<name>/`` of a source checkout
(``unit-*`` ones excluded: they belong to the unit tests) and the installed sources of
:data:`PACKAGES`.
"""

from __future__ import annotations

import ast
import importlib.util
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codesaga.demo import FIXTURES
from codesaga.evals.tasks import Task

REPOS_DIR = FIXTURES / "repos"
PACKAGES = ("pygls", "rich")
"""Installed pure-Python packages whose sources are repositories of the full suite."""
PER_REPO_FULL = 30
"""Tasks per repository in a full run (about 150 with three fixtures and two packages)."""
QUICK_TASKS = 8
"""Tasks of a ``--quick`` run, spread over the fixture repositories only."""
MAX_ANSWER_CHARS = 100
_LEADING = re.compile(r"[A-Za-z_]\w*|\S")


@dataclass(frozen=True)
class RepoSource:
    """A repository: its name and its Python files (POSIX path relative to its root → text)."""

    name: str
    files: Mapping[str, str]


def fixture_repos(root: Path = REPOS_DIR) -> list[RepoSource]:
    """The fixture repositories under ``root`` in name order ([] when there is none)."""
    if not root.is_dir():
        return []
    return [
        read_repo(path.name, path)
        for path in sorted(root.iterdir())
        if path.is_dir() and not path.name.startswith("unit-")
    ]


def package_repo(package: str) -> RepoSource | None:
    """The installed sources of ``package`` as a repository whose root holds the package
    directory (``pygls/server.py``…); None when it is not installed or not a package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    directory = Path(next(iter(spec.submodule_search_locations)))
    source = read_repo(package, directory)
    return RepoSource(package, {f"{package}/{rel}": text for rel, text in source.files.items()})


def read_repo(name: str, root: Path) -> RepoSource:
    """Every ``*.py`` file under ``root`` (``__pycache__`` left out; unreadable files too)."""
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        try:
            files[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return RepoSource(name, files)


def module_name(path: str) -> str:
    """The dotted module name of a repository path (``a/b/__init__.py`` → ``a.b``)."""
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@dataclass
class _Module:
    """What one file defines and imports."""

    path: str
    tree: ast.Module
    functions: set[str] = field(default_factory=set)
    classes: dict[str, set[str]] = field(default_factory=dict)
    """Class name → its methods' names."""
    symbols: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Local name → (module, name) for ``from module import name``."""
    modules: dict[str, str] = field(default_factory=dict)
    """Local name → module for ``import a.b as m`` and ``from a import b`` (``b`` a module)."""
    local_defs: set[str] = field(default_factory=set)
    """Every function and method name defined anywhere in this file."""


class RepoIndex:
    """Definitions and imports of every file of a repository that parses."""

    def __init__(self, source: RepoSource) -> None:
        self.source = source
        self.module_names = {module_name(path) for path in source.files}
        self.by_module: dict[str, _Module] = {}
        for path, text in source.files.items():
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError):
                continue
            self.by_module[module_name(path)] = self._module(path, tree)

    def _module(self, path: str, tree: ast.Module) -> _Module:
        mod = _Module(path, tree)
        package = module_name(path)
        if not path.endswith("__init__.py"):
            package = package.rpartition(".")[0]
        for statement in tree.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                mod.functions.add(statement.name)
            elif isinstance(statement, ast.ClassDef):
                mod.classes[statement.name] = {
                    item.name
                    for item in statement.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                }
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                mod.local_defs.add(node.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        mod.modules[alias.asname] = alias.name
                    elif "." not in alias.name:
                        mod.modules[alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(package, node.module, node.level)
                if base is None:
                    continue
                for alias in node.names:
                    local = alias.asname or alias.name
                    if f"{base}.{alias.name}" in self.module_names:
                        mod.modules[local] = f"{base}.{alias.name}"
                    else:
                        mod.symbols[local] = (base, alias.name)
        return mod

    def resolve(self, module: str, name: str, depth: int = 4) -> tuple[str, str] | None:
        """Where ``name`` of ``module`` is defined: (file path, ``function``|``class``),
        following re-exports (``from .x import name`` in a package) up to ``depth`` steps;
        None when it is not defined in this repository."""
        mod = self.by_module.get(module)
        if mod is None or depth < 0:
            return None
        if name in mod.functions:
            return mod.path, "function"
        if name in mod.classes:
            return mod.path, "class"
        if name in mod.symbols:
            origin, original = mod.symbols[name]
            return self.resolve(origin, original, depth - 1)
        return None

    def methods_of(self, path: str, class_name: str) -> set[str]:
        """Method names of class ``class_name`` defined in file ``path``."""
        return self.by_module[module_name(path)].classes.get(class_name, set())


def _absolute(package: str, module: str | None, level: int) -> str | None:
    """The absolute module of ``from <level dots><module> import …`` in ``package``."""
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    if module:
        base.append(module)
    return ".".join(base) or None


@dataclass(frozen=True)
class Site:
    """A place a task can be cut: line ``line`` (0-based) of ``path``, cursor at str column
    ``column``; ``expected`` is the rest of the line."""

    path: str
    line: int
    column: int
    kind: str
    expected: str
    identifier: str
    target: str
    """The file that defines the called name."""


def _column(line: str, byte_col: int) -> int:
    """The str column of a UTF-8 byte column (``ast`` counts bytes)."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def call_sites(index: RepoIndex, path: str) -> Iterator[Site]:
    """Every task site of one file: calls of names defined in another file of the repository
    (imported functions and classes, functions of imported modules, methods of imported
    classes that this file does not define itself)."""
    mod = index.by_module.get(module_name(path))
    if mod is None:
        return
    lines = index.source.files[path].split("\n")
    imported_methods: dict[str, str] = {}
    for origin, name in mod.symbols.values():
        found = index.resolve(origin, name)
        if found and found[1] == "class" and found[0] != path:
            for method in index.methods_of(found[0], name):
                if not method.startswith("__") and method not in mod.local_defs:
                    imported_methods.setdefault(method, found[0])
    for node in ast.walk(mod.tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        target: tuple[str, str] | None = None
        if isinstance(func, ast.Name) and func.id in mod.symbols:
            origin, name = mod.symbols[func.id]
            found = index.resolve(origin, name)
            target = (found[0], func.id) if found else None
        elif isinstance(func, ast.Attribute):
            value = func.value
            if isinstance(value, ast.Name) and value.id in mod.modules:
                found = index.resolve(mod.modules[value.id], func.attr)
                target = (found[0], func.attr) if found else None
            elif func.attr in imported_methods:
                target = (imported_methods[func.attr], func.attr)
        if target is None or target[0] == path or func.end_lineno is None:
            continue
        yield from _sites_of(path, lines, node, target[0], target[1])


def _sites_of(
    path: str, lines: list[str], call: ast.Call, target: str, name: str
) -> Iterator[Site]:
    func = call.func
    assert func.end_lineno is not None and func.end_col_offset is not None
    row = func.end_lineno - 1
    text = lines[row]
    end = _column(text, func.end_col_offset)
    start = end - len(name)
    if start < 0 or text[start:end] != name:
        return
    rest = text[start:].rstrip()
    if 0 < len(rest) <= MAX_ANSWER_CHARS:
        yield Site(path, row, start, "name", rest, name, target)
    if (call.args or call.keywords) and text[end : end + 1] == "(":
        rest = text[end + 1 :].rstrip()
        if rest and not rest.startswith(")") and len(rest) <= MAX_ANSWER_CHARS:
            leading = _LEADING.match(rest.lstrip())
            identifier = leading.group(0) if leading else ""
            yield Site(path, row, end + 1, "args", rest, identifier, target)


def ordered_sites(source: RepoSource, seed: int) -> list[Site]:
    """All task sites of a repository in sampling order: files shuffled, each file's sites
    shuffled, then one site of each file in turn (one site per line at most), all seeded by
    ``seed`` and the repository's name, so the order does not depend on anything else."""
    index = RepoIndex(source)
    per_file: list[list[Site]] = []
    for path in sorted(source.files):
        sites = sorted(set(call_sites(index, path)), key=lambda s: (s.line, s.column, s.kind))
        random.Random(f"{seed}:{source.name}:{path}").shuffle(sites)
        if sites:
            per_file.append(sites)
    random.Random(f"{seed}:{source.name}").shuffle(per_file)
    out: list[Site] = []
    used: set[tuple[str, int]] = set()
    while any(per_file):
        for sites in per_file:
            while sites:
                site = sites.pop(0)
                if (site.path, site.line) not in used:
                    used.add((site.path, site.line))
                    out.append(site)
                    break
    return out


def cut_at(text: str, cuts: Mapping[int, int]) -> str:
    """``text`` with each line ``i`` of ``cuts`` (0-based) ended at str column ``cuts[i]``."""
    lines = text.split("\n")
    for row, column in cuts.items():
        lines[row] = lines[row][:column]
    return "\n".join(lines)


def task_of(source: RepoSource, site: Site) -> Task:
    """The task for ``site``: its file with that line cut at the cursor."""
    text = source.files[site.path]
    lines = text.split("\n")
    offset = sum(len(line) + 1 for line in lines[: site.line]) + site.column
    return Task(
        id=f"{source.name}/{site.path}:L{site.line + 1}:{site.kind}",
        suite="repo",
        workspace=source.name,
        path=site.path,
        text=cut_at(text, {site.line: site.column}),
        offset=offset,
        expected=site.expected,
        kind=site.kind,
        identifier=site.identifier,
    )


def repo_sources(quick: bool) -> list[RepoSource]:
    """The repositories of a run: the fixtures, and with a full run :data:`PACKAGES` too."""
    sources = fixture_repos()
    if not quick:
        sources += [src for name in PACKAGES if (src := package_repo(name)) is not None]
    return sources


def repo_tasks(
    sources: Sequence[RepoSource], *, seed: int, quick: bool, limit: int | None
) -> list[Task]:
    """The suite's tasks: :data:`PER_REPO_FULL` per repository, or :data:`QUICK_TASKS` in all
    with ``quick``, at most ``limit`` in all, taken from the repositories in turn."""
    orders = [(source, ordered_sites(source, seed)) for source in sources]
    per_repo = PER_REPO_FULL
    total = QUICK_TASKS if quick else per_repo * len(sources)
    if limit is not None:
        total = min(total, limit)
    taken: list[list[Site]] = [[] for _ in orders]
    count = 0
    for turn in range(per_repo):
        for i, (_source, sites) in enumerate(orders):
            if count < total and turn < len(sites):
                taken[i].append(sites[turn])
                count += 1
    return [
        task_of(source, site)
        for (source, _), sites in zip(orders, taken, strict=True)
        for site in sites
    ]


def holes(tasks: Iterable[Task]) -> dict[str, dict[int, int]]:
    """Per file of ``tasks``: line (0-based) → cursor column, where each task's hole is."""
    out: dict[str, dict[int, int]] = {}
    for task in tasks:
        before = task.prefix
        row = before.count("\n")
        out.setdefault(task.path, {})[row] = len(before) - (before.rfind("\n") + 1)
    return out


def write_workspace(root: Path, source: RepoSource, tasks: Iterable[Task]) -> None:
    """Write ``source`` under ``root`` with every task's line cut at its cursor (the answers
    are not on disk). Raises OSError when a file cannot be written."""
    cuts = holes(tasks)
    for path, text in source.files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(cut_at(text, cuts.get(path, {})), encoding="utf-8")
