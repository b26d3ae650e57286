"""``codesaga bench --sync-keys N``: what a keystroke's text sync costs the real server.

A ``codesaga serve`` child with no model to load (text sync needs none, and nothing else then
shares the CPU) opens a generated 5,000-line Python file and receives ``N`` keystrokes in its
middle, one ``didChange`` each, typing the lines after a ``def`` again. Each keystroke is
followed by ``workspace/executeCommand codesaga.stats ["counts"]``, a request the server
answers at once but only after it has handled the ``didChange`` before it (one connection,
handled in order): the client's time from sending the change to that answer is the keystroke,
end to end. The same request alone is timed after each keystroke, so the change's own share
is the difference. No completion is requested.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lsprotocol import types
from rich.console import Console
from rich.table import Table

from codesaga.bench.live import BenchError, ServerArm, proc_peak_rss
from codesaga.bench.replay import STATS_COMMAND
from codesaga.bench.script import advance, keystrokes, middle_typing, summary
from codesaga.files import write_private

__all__ = ["SyncRun", "measure_sync", "no_model_env", "run_sync_bench", "sync_report"]

URI = "file:///codesaga-bench/sync/inventory.py"
REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass
class SyncRun:
    """Milliseconds per keystroke: ``keys_ms`` from sending the ``didChange`` to the answer
    of the request after it, ``request_ms`` the same request alone."""

    lines: int
    keys_ms: list[float] = field(default_factory=list)
    request_ms: list[float] = field(default_factory=list)
    peak_rss_bytes: int | None = None


async def measure_sync(arm: ServerArm, text: str, keys: int) -> SyncRun:
    """Open ``text`` (a Python file, LF line ends) in the started server of ``arm`` and time
    ``keys`` keystrokes into its middle (the typed lines repeat until ``keys`` are sent).

    Raises BenchError when the server does not answer a request in time or answers an error.
    """
    client = arm.client
    run = SyncRun(lines=text.count("\n") + (0 if text.endswith("\n") else 1))
    item = types.TextDocumentItem(uri=URI, language_id="python", version=1, text=text)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
    await _answer(arm)  # the didOpen has been handled
    cursor, typed = middle_typing(text)
    version = 1
    while len(run.keys_ms) < keys:
        for key in keystrokes(typed):
            if len(run.keys_ms) >= keys:
                break
            inserted = typed[key.start : key.end]
            version += 1
            change = types.TextDocumentContentChangePartial(
                range=types.Range(start=cursor, end=cursor), text=inserted
            )
            started = time.perf_counter()
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=version),
                    content_changes=[change],
                )
            )
            await _answer(arm)
            run.keys_ms.append((time.perf_counter() - started) * 1000.0)
            cursor = advance(cursor, inserted)
            started = time.perf_counter()
            await _answer(arm)
            run.request_ms.append((time.perf_counter() - started) * 1000.0)
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=URI))
    )
    pid = arm.pid()
    run.peak_rss_bytes = proc_peak_rss(pid) if pid is not None else None
    return run


async def _answer(arm: ServerArm) -> None:
    """Send ``codesaga.stats ["counts"]`` and wait for its answer (BenchError on failure)."""
    params = types.ExecuteCommandParams(command=STATS_COMMAND, arguments=["counts"])
    try:
        await asyncio.wait_for(
            arm.client.workspace_execute_command_async(params), REQUEST_TIMEOUT_SECONDS
        )
    except Exception as exc:
        raise BenchError(f"the server did not answer {STATS_COMMAND}: {exc!r}") from exc


def sync_report(run: SyncRun) -> dict[str, Any]:
    """The JSON report: ``lines``, ``keystrokes``, and the ``summary`` (n, p50_ms, p95_ms,
    mean_ms, max_ms) of ``keystroke`` (didChange + request), ``request_alone`` and
    ``change_p50_ms`` (the difference of the two medians)."""
    keystroke = summary(run.keys_ms)
    alone = summary(run.request_ms)
    p50, alone_p50 = keystroke["p50_ms"], alone["p50_ms"]
    change = None if p50 is None or alone_p50 is None else round(p50 - alone_p50, 2)
    return {
        "lines": run.lines,
        "keystrokes": len(run.keys_ms),
        "keystroke": keystroke,
        "request_alone": alone,
        "change_p50_ms": change,
        "server_peak_rss_bytes": run.peak_rss_bytes,
    }


def render_sync(report: dict[str, Any]) -> Table:
    """The report as a table."""
    table = Table(
        title=f"text sync: {report['keystrokes']} keystrokes, {report['lines']}-line file"
    )
    for column in ("figure", "p50 ms", "p95 ms", "mean ms", "max ms"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for label, key in (
        ("didChange + request, end to end", "keystroke"),
        ("the request alone", "request_alone"),
    ):
        row = report[key]
        table.add_row(label, *(_fmt(row[k]) for k in ("p50_ms", "p95_ms", "mean_ms", "max_ms")))
    table.add_row("didChange's share (p50 difference)", _fmt(report["change_p50_ms"]), "", "", "")
    return table


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def no_model_env(env: dict[str, str], tmp: Path) -> dict[str, str]:
    """``env`` for a server with its cache in ``tmp`` and a model file that does not exist:
    it does no model work."""
    return {
        **env,
        "CODESAGA_CACHE_DIR": str(tmp / "cache"),
        "CODESAGA_BACKEND": "llama",
        "CODESAGA_MODEL": str(tmp / "no-model.gguf"),
    }


def run_sync_bench(
    keys: int,
    text: str,
    env: dict[str, str],
    json_path: Path,
    console: Console | None = None,
) -> dict[str, Any]:
    """Start a server without a model, time ``keys`` keystrokes into ``text``, print the
    table, write the JSON report to ``json_path`` and return it. Raises BenchError when the
    server fails or ``keys`` < 1."""
    if keys < 1:
        raise BenchError(f"--sync-keys must be at least 1, got {keys}")
    out = console or Console(width=None if sys.stdout.isatty() else 132)
    with tempfile.TemporaryDirectory(prefix="codesaga-bench-") as tmp:
        arm = ServerArm(no_model_env(env, Path(tmp)), 0.0, Path(tmp) / "server.log")
        run = asyncio.run(_run(arm, text, keys))
    report = sync_report(run)
    report["started"] = f"{datetime.now():%Y-%m-%d %H:%M:%S}"
    write_private(json_path, json.dumps(report, indent=2) + "\n")
    report["json_path"] = str(json_path)
    out.print(render_sync(report))
    out.print(f"JSON: {json_path}")
    return report


async def _run(arm: ServerArm, text: str, keys: int) -> SyncRun:
    try:
        await arm.start(model=False)
        return await measure_sync(arm, text, keys)
    finally:
        await arm.stop()
