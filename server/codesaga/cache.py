"""Completion cache: exact answers on disk (diskcache).

The exact key hashes everything the answer depends on: the model identity, the rendered prompt,
the generation parameters and the post-processing inputs. (Type-through reuse of the suggestion
on screen lives in :mod:`codesaga.completion.typethrough`.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import diskcache

SIZE_LIMIT_BYTES = 64 * 1024 * 1024


def cache_key(**parts: Any) -> str:
    """A SHA-256 hex key over ``parts`` (JSON-serialisable values), independent of order."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class CompletionCache:
    """Post-processed suggestions by :func:`cache_key`, kept under ``directory``."""

    def __init__(self, directory: Path, size_limit: int = SIZE_LIMIT_BYTES) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._disk = diskcache.Cache(str(directory), size_limit=size_limit)

    def get(self, key: str) -> str | None:
        """The stored suggestion for ``key``, or None."""
        value = self._disk.get(key)
        return value if isinstance(value, str) else None

    def put(self, key: str, suggestion: str) -> None:
        """Store a suggestion (empty ones too: "the model has nothing here" is worth keeping)."""
        self._disk.set(key, suggestion)

    def close(self) -> None:
        """Close the underlying SQLite handle."""
        self._disk.close()
