"""``workspace/executeCommand codesaga.stats``: the server's usage metrics and memory use.

Used by ``codesaga bench``; the answer holds metadata only (counts, token counts, seconds,
bytes), never code or prompts. Its ``usage`` key is the summary ``codesaga stats --json``
prints (see :func:`codesaga.usage.summarize`), over the usage file's rows kept so far.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sqlite3
import sys
from pathlib import Path
from typing import Any

from codesaga.lsp.server import CodeSagaServer
from codesaga.usage import USAGE_FILE, summarize
from codesaga.usage.store import read_rows

STATS_COMMAND = "codesaga.stats"


def memory() -> dict[str, int | None]:
    """This process's memory in bytes: ``rss_bytes`` (now) and ``peak_rss_bytes`` (high-water
    mark), from ``/proc/self/status`` (VmRSS, VmHWM) where it exists, else ``getrusage``
    (``rss_bytes`` is then None)."""
    status = _proc_status(Path("/proc/self/status"))
    peak = status.get("VmHWM")
    if peak is None:
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = maxrss if sys.platform == "darwin" else maxrss * 1024  # macOS: bytes, else KiB
    return {"rss_bytes": status.get("VmRSS"), "peak_rss_bytes": peak, "pid": os.getpid()}


def _proc_status(path: Path) -> dict[str, int]:
    """The ``kB`` fields of a ``/proc/<pid>/status`` file, in bytes ({} when unreadable)."""
    try:
        lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return {}
    fields: dict[str, int] = {}
    for line in lines:
        name, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            fields[name] = int(parts[0]) * 1024
    return fields


def register(server: CodeSagaServer) -> None:
    """Attach the ``codesaga.stats`` command to ``server``."""

    @server.command(STATS_COMMAND)
    async def stats(ls: CodeSagaServer, *args: object) -> dict[str, Any]:
        """Everything, or with the argument ``"counts"`` just the counters (cheap to poll)."""
        if args and args[0] == "counts":
            return {"counts": dict(ls.stats.counts)}
        snapshot = ls.stats.snapshot()
        snapshot["memory"] = memory()
        if ls.workspace_index is not None:
            snapshot["index"] = ls.workspace_index.status()
        snapshot["usage"] = await asyncio.to_thread(usage_summary, ls)
        return snapshot


def usage_summary(ls: CodeSagaServer) -> dict[str, Any]:
    """The usage file's summary after writing what is queued (blocks on the file: run it off
    the event loop). ``{"enabled": False, "reason": ...}`` when recording is off or the file
    cannot be read."""
    usage = ls.usage
    if not usage.enabled:
        reason = usage.failed or "usageRetentionDays is 0"
        return {"enabled": False, "reason": reason}
    usage.flush()
    try:
        rows = read_rows(ls.settings.resolved_cache_dir() / USAGE_FILE)
    except (sqlite3.Error, OSError) as exc:
        return {"enabled": False, "reason": f"{type(exc).__name__}: {exc}"}
    return {"enabled": True, **summarize(rows)}
