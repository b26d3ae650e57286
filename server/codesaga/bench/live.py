"""The server arm of ``codesaga bench``: a real ``codesaga serve`` typed into over LSP.

:class:`ServerArm` starts the server (its stderr copied to a log file), waits for its model,
and at the end reads its ``codesaga.stats`` and peak memory and shuts it down. In between it
hands the work to the parts that own it: :class:`~codesaga.bench.typist.Typist` types each
file (keys, cancellations, pauses, accepted suggestions), and
:func:`~codesaga.bench.replay.replay_pauses` asks for the pause points' suggestions again
for the decode figures. What they measure is kept in a
:class:`~codesaga.bench.records.ServerRun`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lsprotocol import types

from codesaga.bench.records import ServerRun
from codesaga.bench.replay import replay_pauses, stats
from codesaga.bench.script import TypingPlan, end_position
from codesaga.bench.typist import Typist
from codesaga.demo import DemoClient, client_capabilities

__all__ = [
    "INDEX_POLL_SECONDS",
    "INDEX_TIMEOUT_SECONDS",
    "READY_TIMEOUT_SECONDS",
    "BenchError",
    "ServerArm",
    "index_ready",
    "proc_peak_rss",
    "proc_status_bytes",
]

READY_TIMEOUT_SECONDS = 600.0
INDEX_POLL_SECONDS = 0.2
INDEX_TIMEOUT_SECONDS = 600.0


def index_ready(result: dict[str, Any] | None) -> bool:
    """Whether a ``codesaga.stats`` answer says the workspace index is done with: it has no
    ``index`` object (a server without a workspace index), or its ``state`` is neither
    ``idle`` (not started yet) nor ``indexing``."""
    if result is None:
        return True
    index = result.get("index")
    return not isinstance(index, dict) or index.get("state") not in ("idle", "indexing")


class BenchError(Exception):
    """The server could not be benchmarked (it failed to start or to load its model)."""


def proc_status_bytes(pid: int, key: str) -> int | None:
    """A memory figure of process ``pid`` in bytes, from ``/proc/<pid>/status`` (``key``:
    ``VmRSS`` resident now, ``VmHWM`` its peak); None if unreadable."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{key}:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) * 1024
    return None


def proc_peak_rss(pid: int) -> int | None:
    """VmHWM of process ``pid`` in bytes (None if unreadable)."""
    return proc_status_bytes(pid, "VmHWM")


class ServerArm:
    """Drives one ``codesaga serve`` through the typing plans.

    ``env`` is the server's environment; ``interval_s`` the seconds between keys and
    ``read_s`` from opening a file to its first key; ``log_path`` receives the server's
    stderr; ``on_key(n)`` is told of the keys typed (for a progress bar). ``client`` is the
    LSP client, ``run`` what was measured so far.
    """

    def __init__(
        self,
        env: dict[str, str],
        interval_s: float,
        log_path: Path,
        on_key: Callable[[int], None] | None = None,
        read_s: float = 0.0,
    ) -> None:
        self.env = env
        self.interval_s = interval_s
        self.read_s = read_s
        """Seconds from opening a file to its first key."""
        self.log_path = log_path
        self.on_key = on_key or (lambda n: None)
        self.client = DemoClient("codesaga-bench", echo=False)
        self.run = ServerRun()
        self._stderr_task: asyncio.Task[None] | None = None

    async def start(
        self,
        *,
        model: bool = True,
        root: Path | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        """Start the server, initialize (with ``root`` as the workspace folder: the server
        indexes it; ``options`` as initializationOptions), wait for the model load to end.
        Raises BenchError on failure; with ``model`` False a model that failed to load is no
        failure."""
        started = time.perf_counter()
        client = self.client
        uri = root.resolve().as_uri() if root is not None else None
        await client.start_io(sys.executable, "-m", "codesaga", "serve", env=self.env)
        server = getattr(client, "_server", None)
        if server is not None and server.stderr is not None:
            self._stderr_task = asyncio.ensure_future(self._drain(server.stderr))
        await client.initialize_async(
            types.InitializeParams(
                capabilities=client_capabilities(),
                initialization_options=options or {},
                locale="en",
                root_uri=uri,
                workspace_folders=(
                    [types.WorkspaceFolder(uri=uri, name=root.name)]
                    if uri is not None and root is not None
                    else None
                ),
            )
        )
        client.initialized(types.InitializedParams())
        try:
            await asyncio.wait_for(client.ready.wait(), READY_TIMEOUT_SECONDS)
        except TimeoutError:
            raise BenchError("the server did not load its model in time") from None
        if model and client.load_failed:
            raise BenchError(f"the server could not load its model: {client.load_failed}")
        self.run.ready_seconds = time.perf_counter() - started

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        """Copy the server's stderr to the log file (an unread pipe would block the server)."""
        with self.log_path.open("ab") as log:
            while True:
                chunk = await stream.read(65536)
                if not chunk:
                    return
                log.write(chunk)

    async def wait_indexed(self) -> dict[str, Any] | None:
        """Poll ``codesaga.stats`` until :func:`index_ready`; the ``index`` object then (its
        ``state`` and figures), or None for a server without a workspace index. Raises
        BenchError after :data:`INDEX_TIMEOUT_SECONDS`."""
        started = time.perf_counter()
        while True:
            result = await stats(self.client)
            if index_ready(result):
                index = (result or {}).get("index")
                return index if isinstance(index, dict) else None
            if time.perf_counter() - started > INDEX_TIMEOUT_SECONDS:
                raise BenchError("the server did not index its workspace in time")
            await asyncio.sleep(INDEX_POLL_SECONDS)

    def pid(self) -> int | None:
        """The server's process id (None before it started)."""
        server = getattr(self.client, "_server", None)
        return None if server is None else int(server.pid)

    async def type_file(self, plan: TypingPlan, uri: str) -> None:
        """Open ``plan.head``, wait :attr:`read_s`, type ``plan.typed`` with pauses, then close
        the document (:class:`~codesaga.bench.typist.Typist`)."""
        typist = Typist(
            self.client,
            self.run,
            interval_s=self.interval_s,
            read_s=self.read_s,
            on_key=self.on_key,
        )
        await typist.type_file(plan, uri)

    async def suggest_once(self, plan: TypingPlan, uri: str) -> str:
        """Open ``plan.head`` as ``uri`` and ask for one invoked inline completion at its
        end; the suggestion's text ("" for none)."""
        item = types.TextDocumentItem(
            uri=uri, language_id=plan.language_id, version=1, text=plan.head
        )
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
        result = await self.client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=end_position(plan.head),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked
                ),
            )
        )
        items = result.items if isinstance(result, types.InlineCompletionList) else result or []
        return str(items[0].insert_text) if items else ""

    async def replay_pauses(self, after_each: Callable[[int], Awaitable[None]]) -> None:
        """Decode phase: ask for each pause point's suggestion again and await
        ``after_each(i)`` after each (:func:`~codesaga.bench.replay.replay_pauses`)."""
        await replay_pauses(self.client, self.run, after_each)

    async def finish(self) -> ServerRun:
        """Read the server's stats and peak memory, then shut it down."""
        client = self.client
        result = await stats(client)
        if result is not None:
            self.run.stats = result
        pid = self.pid()
        self.run.peak_rss_bytes = proc_peak_rss(pid) if pid is not None else None
        self.run.messages = list(client.messages)
        await self.stop()
        return self.run

    async def stop(self) -> None:
        """Shut the server down (bounded), whatever state it is in."""
        client = self.client
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_async(None), 10.0)
            client.exit(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.stop(), 10.0)
        server = getattr(client, "_server", None)
        if server is not None and server.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                server.kill()
        if self._stderr_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._stderr_task, 5.0)
