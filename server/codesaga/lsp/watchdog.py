"""The editor's process, watched: LSP 3.17 ``InitializeParams.processId`` is "the process Id
of the parent process that started the server"; the server should exit when it is gone, even
if another process still holds its stdin open (a shell, a wrapper, a grandchild)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

POLL_SECONDS = 3.0
"""How often the editor's process is checked (seconds)."""


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited: a zombie (exited, not yet reaped;
    ``/proc/<pid>/stat`` state ``Z`` on Linux) counts as gone. A process of another user
    counts as alive. POSIX only (``os.kill(pid, 0)``)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:  # not a pid at all
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:  # no /proc (macOS), or the process just went
        return True
    # "pid (comm) state ...": comm may hold spaces and parentheses, so split at the last ")"
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


async def watch_parent(pid_of: Callable[[], int | None], poll_seconds: float = POLL_SECONDS) -> int:
    """Return the editor's pid once its process is gone, checking every ``poll_seconds``.

    ``pid_of`` gives the pid (None until ``initialize``, or when the client sent none). A pid
    that is not alive when first seen is not watched: the editor runs where this process
    cannot see it (another PID namespace, such as a container's). Never returns on Windows,
    where ``os.kill(pid, 0)`` would signal the process."""
    never = asyncio.Event()
    if sys.platform == "win32":
        await never.wait()
    while (pid := pid_of()) is None or pid <= 0:
        await asyncio.sleep(poll_seconds)
    if not alive(pid):
        log.info("process %d (the editor) is not visible here: not watched", pid)
        await never.wait()
    log.debug("watching process %d (the editor)", pid)
    while alive(pid):
        await asyncio.sleep(poll_seconds)
    return pid
