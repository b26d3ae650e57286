"""Completion cache: exact answers on disk (diskcache), type-through reuse in memory.

The exact key hashes everything the answer depends on: the model identity, the rendered prompt,
the generation parameters and the post-processing inputs. Type-through: when the user types
the first characters of the suggestion on screen, the rest of it is still the answer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Shown:
    """A suggestion shown at a point: ``before`` is the document text up to the cursor."""

    before: str
    suggestion: str


class TypeThrough:
    """Remembers the last suggestion shown per document and reuses it while the user types it.

    Only the document text before the cursor is compared, as a whole, so an edit elsewhere
    before the cursor voids the suggestion. Memory: one suggestion per open document.
    """

    def __init__(self) -> None:
        self._shown: dict[str, Shown] = {}

    def remember(self, uri: str, before: str, suggestion: str) -> None:
        """Record that ``suggestion`` was offered with ``before`` in front of the cursor."""
        if suggestion:
            self._shown[uri] = Shown(before, suggestion)
        else:
            self._shown.pop(uri, None)

    def lookup(self, uri: str, before: str) -> str | None:
        """The rest of the shown suggestion if the user typed a proper prefix of it, else None."""
        shown = self._shown.get(uri)
        if shown is None or len(before) <= len(shown.before):
            return None
        if not before.startswith(shown.before):
            return None
        typed = before[len(shown.before) :]
        if len(typed) < len(shown.suggestion) and shown.suggestion.startswith(typed):
            return shown.suggestion[len(typed) :]
        return None

    def shown(self, uri: str) -> Shown | None:
        """The suggestion last offered for ``uri``, if any."""
        return self._shown.get(uri)

    def forget(self, uri: str) -> None:
        """Drop what is remembered for ``uri`` (document closed)."""
        self._shown.pop(uri, None)
