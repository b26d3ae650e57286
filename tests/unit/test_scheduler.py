"""The model thread's priorities: foreground first, background work yields to what comes."""

from __future__ import annotations

import asyncio
import threading

import pytest

from codesaga.errors import Superseded
from codesaga.scheduler import Priority, Scheduler


def blocker() -> tuple[threading.Event, threading.Event, object]:
    """Work that occupies the model thread until ``release`` is set."""
    started, release = threading.Event(), threading.Event()

    def work() -> str:
        started.set()
        release.wait(5)
        return "blocker"

    return started, release, work


def until_cancelled(cancel: threading.Event) -> object:
    def work() -> str:
        return "stopped" if cancel.wait(5) else "ran to its end"

    return work


async def test_queued_work_runs_in_priority_order() -> None:
    s = Scheduler()
    started, release, work = blocker()
    first = asyncio.ensure_future(s.run(threading.Event(), work))  # type: ignore[arg-type]
    await asyncio.to_thread(started.wait, 5)
    order: list[str] = []
    chat = asyncio.ensure_future(
        s.run(threading.Event(), lambda: order.append("chat"), priority=Priority.INTERACTIVE)
    )
    request = asyncio.ensure_future(
        s.run(threading.Event(), lambda: order.append("request"), priority=Priority.FOREGROUND)
    )
    await asyncio.sleep(0.01)
    release.set()
    await asyncio.gather(first, chat, request)
    assert order == ["request", "chat"]
    s.shutdown()


@pytest.mark.parametrize("newcomer", [Priority.FOREGROUND, Priority.INTERACTIVE])
async def test_running_lookahead_yields_to_any_other_work(newcomer: Priority) -> None:
    s = Scheduler()
    cancel = threading.Event()
    lookahead = asyncio.ensure_future(
        s.run(cancel, until_cancelled(cancel), priority=Priority.LOOKAHEAD)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.05)
    assert await s.run(threading.Event(), lambda: "done", priority=newcomer) == "done"
    assert cancel.is_set() and await lookahead == "stopped"
    s.shutdown()


async def test_a_prefill_replaces_an_older_prefill_and_waits_for_the_lookahead() -> None:
    s = Scheduler()
    look = threading.Event()
    lookahead = asyncio.ensure_future(
        s.run(look, until_cancelled(look), priority=Priority.LOOKAHEAD)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.05)
    older, newer = threading.Event(), threading.Event()
    first = asyncio.ensure_future(s.run(older, lambda: "older", priority=Priority.PREFILL))
    second = asyncio.ensure_future(s.run(newer, lambda: "newer", priority=Priority.PREFILL))
    await asyncio.sleep(0.05)
    assert older.is_set() and not newer.is_set() and not look.is_set()
    look.set()  # the lookahead ends by itself
    assert await lookahead == "stopped" and await second == "newer"
    with pytest.raises(Superseded):  # skipped: it was cancelled before it started
        await first
    s.shutdown()


async def test_priority_is_read_when_other_work_comes() -> None:
    """A generation that a request waits on is foreground; once nobody waits, it yields."""
    s = Scheduler()
    cancel = threading.Event()
    waiting = True
    gen = asyncio.ensure_future(
        s.run(
            cancel,
            until_cancelled(cancel),  # type: ignore[arg-type]
            priority=lambda: Priority.FOREGROUND if waiting else Priority.LOOKAHEAD,
        )
    )
    await asyncio.sleep(0.05)
    other = asyncio.ensure_future(s.run(threading.Event(), lambda: "chat"))
    await asyncio.sleep(0.05)
    assert not cancel.is_set() and not other.done()  # foreground: the chat turn waits
    waiting = False
    assert await s.run(threading.Event(), lambda: "action") == "action"
    assert cancel.is_set() and await gen == "stopped" and await other == "chat"
    s.shutdown()


async def test_cancelled_awaiting_task_sets_the_event_and_shutdown_skips_the_queue() -> None:
    s = Scheduler()
    started, release, work = blocker()
    running = asyncio.ensure_future(s.run(threading.Event(), work))  # type: ignore[arg-type]
    await asyncio.to_thread(started.wait, 5)
    cancel = threading.Event()
    queued = asyncio.ensure_future(s.run(cancel, lambda: "never"))
    await asyncio.sleep(0.01)
    queued.cancel()  # what pygls does on $/cancelRequest
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert cancel.is_set()
    later = threading.Event()
    skipped = asyncio.ensure_future(s.run(later, lambda: "never"))
    await asyncio.sleep(0.01)
    s.shutdown()
    release.set()
    assert later.is_set()
    with pytest.raises(Superseded):
        await skipped
    assert await running == "blocker"


async def test_on_idle_runs_when_the_model_thread_runs_out_of_work() -> None:
    s = Scheduler()
    idle: list[int] = []
    s.on_idle = lambda: idle.append(len(s._queued))
    started, release, work = blocker()
    first = asyncio.ensure_future(s.run(threading.Event(), work))  # type: ignore[arg-type]
    await asyncio.to_thread(started.wait, 5)
    second = asyncio.ensure_future(s.run(threading.Event(), lambda: "second"))
    await asyncio.sleep(0.01)
    release.set()
    assert await first == "blocker" and await second == "second"
    assert idle == [0]  # once, after the second job: not while work was still queued
    s.shutdown()
