"""The editor's process, watched (issue 17, item 9)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from codesaga.lsp.watchdog import alive, watch_parent

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process checks")


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_alive_tells_a_running_process_from_an_exited_one() -> None:
    child = sleeper()
    assert alive(os.getpid()) and alive(child.pid)
    child.kill()
    child.wait()
    assert not alive(child.pid)


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")
def test_a_zombie_counts_as_gone() -> None:
    child = sleeper()
    try:
        child.kill()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
        assert not alive(child.pid)
    finally:
        child.wait()


async def test_watch_returns_once_the_process_is_gone() -> None:
    child = sleeper()
    pid: int | None = None
    watch = asyncio.ensure_future(watch_parent(lambda: pid, poll_seconds=0.05))
    await asyncio.sleep(0.2)
    assert not watch.done()  # no pid yet: nothing to watch
    pid = child.pid
    await asyncio.sleep(0.2)
    assert not watch.done()  # alive
    child.kill()
    child.wait()
    assert await asyncio.wait_for(watch, 5.0) == child.pid


async def test_a_pid_not_visible_at_first_is_not_watched() -> None:
    child = sleeper()
    child.kill()
    child.wait()  # as if the editor ran in another PID namespace
    watch = asyncio.ensure_future(watch_parent(lambda: child.pid, poll_seconds=0.05))
    await asyncio.sleep(0.3)
    assert not watch.done()
    watch.cancel()
