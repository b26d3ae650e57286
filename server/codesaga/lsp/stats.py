"""``workspace/executeCommand codesaga.stats``: the server's usage metrics and memory use.

Used by ``codesaga bench``; the answer holds metadata only (counts, token counts, seconds,
bytes), never code or prompts.
"""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path
from typing import Any

from codesaga.lsp.server import CodeSagaServer

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
    def stats(ls: CodeSagaServer, *args: object) -> dict[str, Any]:
        """Everything, or with the argument ``"counts"`` just the counters (cheap to poll)."""
        if args and args[0] == "counts":
            return {"counts": dict(ls.stats.counts)}
        snapshot = ls.stats.snapshot()
        snapshot["memory"] = memory()
        if ls.workspace_index is not None:
            snapshot["index"] = ls.workspace_index.status()
        return snapshot
