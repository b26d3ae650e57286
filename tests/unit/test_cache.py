"""Exact-key cache on disk, type-through reuse and the document sessions that hold it."""

from __future__ import annotations

from pathlib import Path

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
