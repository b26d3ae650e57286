"""Repository context for completion prompts: where it comes from, and how long it is kept.

The repository context heads the prompt, so a change to it makes llama.cpp evaluate the whole
prompt again (its KV cache keeps only the longest unchanged token prefix). It is therefore
computed once per stretch of the document — the prefix window's start line and the cursor's
line, both in steps of :data:`codesaga.context.SNAP_LINES` — and per state of the index: the
prefix window itself moves in the same steps, and typing within a stretch keeps the prompt head
as it was.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from codesaga.context import SNAP_LINES
from codesaga.documents import Document
from codesaga.prompts import RepoPrompt

MEMO_DOCUMENTS = 64
"""Documents whose repository context is remembered (least recently used ones dropped)."""


class RepoSource(Protocol):
    """What gives the repository context (the server's workspace index)."""

    @property
    def generation(self) -> int:
        """A number that changes whenever the index's content changed."""
        ...

    def repo_prompt(
        self, doc: Document, offset: int, budget: int, count_tokens: Callable[[str], int]
    ) -> RepoPrompt:
        """The repository context for a cursor at str ``offset`` in ``doc``, at most
        ``budget`` model tokens as ``count_tokens`` counts them."""
        ...


class RepoMemo:
    """The repository context of each document's current stretch (see the module's text)."""

    def __init__(self) -> None:
        self._memo: OrderedDict[str, tuple[tuple[int, int, int, int], RepoPrompt]] = OrderedDict()

    def get(
        self,
        source: RepoSource,
        doc: Document,
        offset: int,
        window_start_line: int,
        compute: Callable[[], RepoPrompt],
    ) -> RepoPrompt:
        """The remembered context of ``doc`` when its key still holds, else ``compute()``."""
        key = (
            window_start_line,
            doc.line_at(offset) // SNAP_LINES,
            source.generation,
            id(source),
        )
        found = self._memo.get(doc.uri)
        if found is not None and found[0] == key:
            self._memo.move_to_end(doc.uri)
            return found[1]
        repo = compute()
        self._memo[doc.uri] = (key, repo)
        self._memo.move_to_end(doc.uri)
        while len(self._memo) > MEMO_DOCUMENTS:
            self._memo.popitem(last=False)
        return repo

    def forget(self, uri: str) -> None:
        """Drop ``uri``'s context (the document closed)."""
        self._memo.pop(uri, None)
