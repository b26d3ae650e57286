"""Exact-key cache on disk and type-through reuse."""

from __future__ import annotations

from pathlib import Path

from codesaga.cache import CompletionCache, TypeThrough, cache_key


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
    tt = TypeThrough()
    tt.remember("u", "def f(", "a, b):")
    assert tt.lookup("u", "def f(a") == ", b):"
    assert tt.lookup("u", "def f(a, b):") is None  # typed all of it
    assert tt.lookup("u", "def f(x") is None  # typed something else
    assert tt.lookup("u", "def f(") is None  # nothing typed yet: the exact cache answers
    assert tt.lookup("other", "def f(a") is None
    tt.forget("u")
    assert tt.lookup("u", "def f(a") is None
