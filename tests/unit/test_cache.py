"""Exact-key cache on disk, type-through reuse and the document sessions that hold it."""

from __future__ import annotations

import asyncio
import shutil
import stat
from pathlib import Path

import pytest

from codesaga.cache import CompletionCache, cache_key
from codesaga.completion.typethrough import remember, typed_through
from codesaga.sessions import Sessions


def test_key_ignores_argument_order_but_not_values() -> None:
    assert cache_key(a=1, b="x") == cache_key(b="x", a=1)
    assert cache_key(a=1, b="x") != cache_key(a=1, b="y")


def test_disk_cache_round_trip(tmp_path: Path) -> None:
    cache = CompletionCache(tmp_path)
    key = cache_key(prompt="def f(", model="m")
    assert cache.get(key) is None
    cache.put(key, "x):")
    cache.close()
    assert CompletionCache(tmp_path).get(key) == "x):"  # survives a restart


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_disk_cache_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "completions"
    cache = CompletionCache(directory)
    cache.put(cache_key(prompt="p"), "x" * 100_000)  # big values stay in the SQLite file
    assert mode(directory) == 0o700
    files = [p for p in directory.rglob("*") if p.is_file()]
    assert files and all(mode(p) == 0o600 for p in files), [(p, oct(mode(p))) for p in files]
    assert all(p.is_file() for p in directory.rglob("*"))  # no value subdirectories
    cache.close()


def test_corrupt_disk_cache_is_moved_aside_and_started_fresh(tmp_path: Path) -> None:
    directory = tmp_path / "completions"
    CompletionCache(directory).close()
    (directory / "cache.db").write_bytes(b"not a database" * 100)
    faults: list[str] = []
    cache = CompletionCache(directory, on_fault=faults.append)
    assert cache.enabled and len(faults) == 1 and "completions.corrupt" in faults[0]
    assert (tmp_path / "completions.corrupt" / "cache.db").read_bytes().startswith(b"not a")
    key = cache_key(prompt="p")
    cache.put(key, "s")
    assert cache.get(key) == "s"
    cache.close()
    (directory / "cache.db").write_bytes(b"again" * 100)  # a second fault replaces the first
    assert CompletionCache(directory).enabled


def test_a_cache_dir_that_is_a_file_leaves_the_cache_off(tmp_path: Path) -> None:
    blocker = tmp_path / "cacheDir"
    blocker.write_text("a user's file")
    faults: list[str] = []
    cache = CompletionCache(blocker / "completions", on_fault=faults.append)
    assert not cache.enabled and len(faults) == 1 and "completion cache off" in faults[0]
    cache.put(cache_key(prompt="p"), "s")  # neither raises nor reports again
    assert cache.get(cache_key(prompt="p")) is None
    assert len(faults) == 1 and blocker.read_text() == "a user's file"
    cache.close()


def test_a_cache_deleted_while_running_starts_afresh(tmp_path: Path) -> None:
    directory = tmp_path / "cacheDir" / "completions"
    faults: list[str] = []
    cache = CompletionCache(directory, on_fault=faults.append)
    cache.put(cache_key(prompt="a"), "1")
    shutil.rmtree(tmp_path / "cacheDir")
    assert cache.get(cache_key(prompt="a")) is None
    cache.put(cache_key(prompt="b"), "2")
    assert len(faults) == 1 and "deleted" in faults[0]
    cache.close()
    assert CompletionCache(directory).get(cache_key(prompt="b")) == "2"  # on disk again
    assert mode(directory) == 0o700


def test_a_corrupt_cache_does_not_block_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codesaga.lsp import model
    from codesaga.lsp.server import CodeSagaServer
    from codesaga.settings import Settings

    from .fakes import FakeEngine

    (tmp_path / "completions").mkdir()
    (tmp_path / "completions" / "cache.db").write_bytes(b"garbage" * 1000)
    monkeypatch.setattr(model, "load_engine", lambda settings: FakeEngine())
    server = CodeSagaServer()
    server.settings = Settings(cache_dir=str(tmp_path))
    shown: list[str] = []
    monkeypatch.setattr(server, "show", lambda message, error=False: shown.append(message))

    async def no_progress(title: str, message: str) -> None:
        return None

    monkeypatch.setattr(server, "begin_progress", no_progress)

    async def load() -> None:
        server.model.start_load()
        completer = await asyncio.wait_for(server.model.ready_completer(), 10)
        await asyncio.sleep(0)  # the fault message comes from the loading thread
        assert completer.cache is not None and completer.cache.enabled

    asyncio.run(load())
    server.model.close()
    assert any("completions.corrupt" in message for message in shown), shown


def test_type_through() -> None:
    sessions = Sessions()
    session = sessions.open("u")
    remember(session, "def f(", "a, b):")
    assert typed_through(session.shown, "def f(a") == ", b):"
    assert typed_through(session.shown, "def f(a, b):") is None  # typed all of it
    assert typed_through(session.shown, "def f(x") is None  # typed something else
    assert typed_through(session.shown, "def f(") is None  # nothing typed: the cache answers
    assert typed_through(sessions.get("other").shown, "def f(a") is None
    remember(session, "def f(", "")  # an empty answer forgets the suggestion
    assert typed_through(session.shown, "def f(a") is None
    remember(session, "def f(", "a, b):")
    sessions.close("u")
    assert sessions.find("u") is None and session.shown is None and session.closed


def test_a_session_cancels_its_older_work_and_all_of_it_when_closed() -> None:
    sessions = Sessions()
    session = sessions.open("file:///a.py")
    first = session.begin_work()
    second = session.begin_work()
    other = sessions.open("file:///b.py").begin_work()
    assert first.is_set() and not second.is_set() and not other.is_set()
    number = session.next_request()
    assert session.is_latest(number)
    session.next_request()
    assert not session.is_latest(number)
    reopened = sessions.open("file:///a.py")  # a second didOpen starts afresh
    assert second.is_set() and reopened is not session and reopened.requests == 0
    sessions.close("file:///b.py")
    assert other.is_set()
