"""The server arm of ``codesaga eval``: a real ``codesaga serve`` asked over LSP.

:class:`EvalServer` is the bench's :class:`~codesaga.bench.live.ServerArm` started with the
eval's ``initializationOptions`` (model, temperature 0, a fresh cache directory, and the
ablations' settings) and the task's scratch workspace as ``rootUri``/``workspaceFolders``.
Before the first question it waits until the server's workspace index is ready (when its
``codesaga.stats`` has an ``index`` object); each task is then one didOpen, one invoked
``textDocument/inlineCompletion`` at the cursor and one didClose.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from lsprotocol import types

from codesaga.bench.live import ServerArm
from codesaga.bench.script import end_position
from codesaga.bench.typist import PAUSE_TIMEOUT_SECONDS

__all__ = ["EvalServer"]


class EvalServer(ServerArm):
    """One ``codesaga serve`` on one scratch workspace. ``options`` are its
    initializationOptions; ``env`` its environment; ``log_path`` receives its stderr."""

    def __init__(
        self, env: dict[str, str], log_path: Path, root: Path, options: dict[str, Any]
    ) -> None:
        super().__init__(env, 0.0, log_path)
        self.root = root
        self.options = dict(options)

    async def begin(self) -> None:
        """Start the server on :attr:`root`, wait for its model and its workspace index.
        Raises BenchError when it fails to start, to load its model, or to index in time."""
        await self.start(root=self.root, options=self.options)
        await self.wait_indexed()

    async def complete(self, path: str, text: str, offset: int) -> tuple[str, float]:
        """(answer, seconds) for the document ``path`` (relative to :attr:`root`) holding
        ``text`` with the cursor at str index ``offset``: the first item's insertText ("" for
        none), as of the cursor; seconds from sending the request to its answer. An error
        answer or no answer within ``PAUSE_TIMEOUT_SECONDS`` counts as "" (the seconds are
        then the time waited)."""
        client = self.client
        uri = (self.root / path).resolve().as_uri()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        cursor = end_position(text[:offset])
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(
                client.text_document_inline_completion_async(
                    types.InlineCompletionParams(
                        text_document=types.TextDocumentIdentifier(uri=uri),
                        position=cursor,
                        context=types.InlineCompletionContext(
                            trigger_kind=types.InlineCompletionTriggerKind.Invoked
                        ),
                    )
                ),
                PAUSE_TIMEOUT_SECONDS,
            )
        except Exception:  # an error answer or a timeout: no suggestion
            result = None
        seconds = time.perf_counter() - started
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        return _answer(result, text, offset, cursor), seconds


def _answer(result: Any, text: str, offset: int, cursor: types.Position) -> str:
    """The first item's text as of the cursor: an item whose range starts before the cursor
    (on its line) has the text it repeats removed."""
    items = result.items if isinstance(result, types.InlineCompletionList) else (result or [])
    if not items:
        return ""
    item = items[0]
    insert = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
    start = item.range.start if item.range is not None else cursor
    if start.line == cursor.line and start.character < cursor.character:
        line_start = text.rfind("\n", 0, offset) + 1
        typed = _utf16_tail(text[line_start:offset], cursor.character - start.character)
        insert = insert.removeprefix(typed)
    return insert


def _utf16_tail(text: str, units: int) -> str:
    """The end of ``text`` that is ``units`` UTF-16 code units long."""
    out = ""
    for char in reversed(text):
        if units <= 0:
            break
        units -= len(char.encode("utf-16-le")) // 2
        out = char + out
    return out
