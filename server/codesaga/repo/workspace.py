"""The workspace of one server: its root folder, the index of its files, and the repository
context of completion prompts.

The index is written by a child process (:mod:`codesaga.repo.indexer`) and read here: one
refresh at a time, later requests for changed files gathered into the next one. Offsets are
str indices (code points); token counts are model tokens.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from codesaga.documents import Document
from codesaga.prompts import RepoFile, RepoPrompt
from codesaga.repo.context import Snippet, definitions_in, repo_snippets
from codesaga.repo.index import RepoIndex

log = logging.getLogger(__name__)

State = Literal["idle", "off", "indexing", "ready", "failed"]
PROMPT_SHARE = 85
"""Percent of the repository budget given to the snippets' code; the rest pays for the paths
and separators the template adds."""
_HASH_COMMENT = frozenset({"python", None})


Definitions = Callable[[Document, int, int], tuple[RepoFile, ...]]
"""Signatures, from other files of the repository, of what str offsets ``start..end`` of a
document use (see :meth:`Workspace.definitions`)."""


def definitions_source(
    workspace: Workspace | None, budget: int, count_tokens: Callable[[str], int]
) -> Definitions | None:
    """The definitions code actions and chat put in their prompts: ``workspace``'s, at most
    ``budget`` model tokens as ``count_tokens`` counts them; None without a workspace or
    with no budget (no repository context)."""
    if workspace is None or budget <= 0:
        return None
    return lambda doc, start, end: workspace.definitions(doc, start, end, budget, count_tokens)


def uri_path(uri: str) -> Path | None:
    """The local path of a ``file:`` URI (None for other schemes)."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return None
    return Path(unquote(parts.path))


def comment_marker(grammar: str | None) -> str:
    """The line-comment marker of a grammar's language (``#`` for Python and plain text,
    ``//`` for the C-family grammars, JavaScript/TypeScript, Rust, Go and Java)."""
    return "#" if grammar in _HASH_COMMENT else "//"


def prompt_files(snippets: Sequence[Snippet]) -> tuple[RepoFile, ...]:
    """Snippets grouped into one :class:`RepoFile` per path, paths sorted, each file's
    snippets in line order and separated by a blank line (the same snippets always give the
    same text: it heads the prompt)."""
    by_path: dict[str, list[Snippet]] = {}
    for snippet in snippets:
        by_path.setdefault(snippet.path, []).append(snippet)
    return tuple(
        RepoFile(path, "\n\n".join(s.text.rstrip("\n") for s in sorted(group, key=_line)))
        for path, group in sorted(by_path.items())
    )


def _line(snippet: Snippet) -> int:
    return snippet.start_line


class Workspace:
    """The folder ``root`` and its index under ``cache_dir``. ``documents()`` gives the open
    documents (their unsaved text counts as similar code too). Event loop only."""

    def __init__(
        self, root: Path, cache_dir: Path, documents: Callable[[], Iterable[Document]]
    ) -> None:
        self.root = root.resolve()
        self.cache_dir = cache_dir
        self._documents = documents
        self.state: State = "idle"
        self.report: dict[str, Any] = {}
        """The last whole refresh's figures (files, indexed, removed, chunks, seconds,
        db_bytes, peak_rss_bytes of the indexer process)."""
        self.error: str | None = None
        self._index: RepoIndex | None = None
        self._generation = 0
        self._running: asyncio.Task[None] | None = None
        self._pending: set[Path] = set()

    @property
    def generation(self) -> int:
        """Changes each time a refresh has finished (the index's content may have changed)."""
        return self._generation

    def relative(self, uri: str) -> str | None:
        """``uri``'s path relative to the root (POSIX separators), or None outside it."""
        path = uri_path(uri)
        if path is None:
            return None
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    # ----- refreshing -------------------------------------------------------------------------

    async def refresh(
        self, paths: Sequence[Path] = (), on_progress: Callable[[int, int], None] | None = None
    ) -> None:
        """Index the whole workspace (no ``paths``: files whose content changed are read again)
        or just ``paths`` (changed or deleted). While a refresh runs, ``paths`` wait for the
        next one. Failures are logged and kept in :attr:`error`; nothing is raised."""
        if self._running is not None and not self._running.done():
            if paths:
                self._pending.update(paths)
            return
        self._running = asyncio.ensure_future(self._run(list(paths), on_progress))
        await asyncio.shield(self._running)

    async def _run(self, paths: list[Path], on_progress: Callable[[int, int], None] | None) -> None:
        while True:
            if not paths:
                self.state = "indexing"
            report = await self._index_in_child(paths, on_progress)
            if report is not None:
                if not paths:
                    self.report = report
                    self.state = "ready"
                self._open_index()
                self._generation += 1
            elif not paths:
                self.state = "failed"
            if not self._pending:
                return
            paths, self._pending = sorted(self._pending), set()
            on_progress = None

    async def _index_in_child(
        self, paths: list[Path], on_progress: Callable[[int, int], None] | None
    ) -> dict[str, Any] | None:
        started = time.perf_counter()
        try:
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "codesaga.repo.indexer",
                str(self.root),
                str(self.cache_dir),
                *map(str, paths),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            self.error = f"indexer did not start: {exc}"
            log.warning("workspace index: %s", self.error)
            return None
        report: dict[str, Any] | None = None
        assert child.stdout is not None
        async for raw in child.stdout:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if "progress" in line and on_progress is not None:
                done, total = line["progress"]
                on_progress(int(done), int(total))
            elif "report" in line:
                report = line["report"]
        code = await child.wait()
        if code != 0 or report is None:
            self.error = f"indexer exited with code {code}"
            log.warning("workspace index: %s (see the log above)", self.error)
            return None
        self.error = None
        log.info(
            "workspace index: %s files (%s read again) in %.2f s, %d ms in all",
            report.get("files"),
            report.get("indexed"),
            float(report.get("seconds", 0.0)),
            (time.perf_counter() - started) * 1000,
        )
        return report

    def _open_index(self) -> None:
        if self._index is None:
            try:
                self._index = RepoIndex.open(self.root, self.cache_dir)
            except Exception as exc:  # a broken index must not break completion
                self.error = f"index unreadable: {exc}"
                log.warning("workspace index: %s", self.error)

    # ----- prompts ------------------------------------------------------------------------------

    def repo_prompt(
        self, doc: Document, offset: int, budget: int, count_tokens: Callable[[str], int]
    ) -> RepoPrompt:
        """The repository context at str ``offset`` in ``doc``: definitions of the names near
        the cursor and similar code, from the index and the other open documents, within
        ``budget`` model tokens (see :func:`codesaga.repo.context.repo_snippets`)."""
        path = self._prompt_path(doc)
        buffers = self._buffers(doc)
        try:
            snippets = repo_snippets(
                self._index,
                path,
                doc.text,
                offset,
                open_buffers=buffers,
                budget=budget * PROMPT_SHARE // 100,
                count_tokens=count_tokens,
                grammar=doc.grammar,
            )
        except Exception as exc:  # the context is a bonus: never fail a completion for it
            log.warning("repository context failed: %s", type(exc).__name__)
            log.debug("repository context failed", exc_info=True)
            snippets = []
        return RepoPrompt(
            files=prompt_files(snippets),
            path=path,
            repo_name=self.root.name,
            comment=comment_marker(doc.grammar),
        )

    def definitions(
        self, doc: Document, start: int, end: int, budget: int, count_tokens: Callable[[str], int]
    ) -> tuple[RepoFile, ...]:
        """Signatures of what str offsets ``start..end`` of ``doc`` use from other files, at
        most ``budget`` model tokens (see :func:`codesaga.repo.context.definitions_in`); for
        code actions."""
        try:
            snippets = definitions_in(
                self._index,
                self._prompt_path(doc),
                doc.text,
                start,
                end,
                open_buffers=self._buffers(doc),
                budget=budget,
                count_tokens=count_tokens,
                grammar=doc.grammar,
            )
        except Exception as exc:  # the context is a bonus: never fail an action for it
            log.warning("repository definitions failed: %s", type(exc).__name__)
            return ()
        return prompt_files(snippets)

    def _prompt_path(self, doc: Document) -> str:
        """``doc``'s path relative to the root, or its file name when it lies outside."""
        return self.relative(doc.uri) or doc.uri.rsplit("/", 1)[-1]

    def _buffers(self, doc: Document) -> dict[str, str]:
        """The other open documents' text by workspace-relative path."""
        return {
            (self.relative(other.uri) or other.uri): other.text
            for other in self._documents()
            if other.uri != doc.uri
        }

    def status(self) -> dict[str, Any]:
        """Metadata for ``codesaga.stats``: ``state`` and the last refresh's figures."""
        return {"state": self.state, "root": str(self.root), "error": self.error, **self.report}

    def close(self) -> None:
        """Close the index (at shutdown)."""
        if self._index is not None:
            self._index.close()
            self._index = None
