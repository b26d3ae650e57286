"""The usage file: a SQLite database of one row per request (stdlib ``sqlite3``).

Created with mode 0600 in a directory of mode 0700. Rows hold metadata only: the feature, the
document's language id, the model's name, token counts, the latency in milliseconds, where the
answer came from and whether the user accepted it; never code, prompts or file names.
Plain synchronous code: :class:`~codesaga.usage.recorder.UsageRecorder` calls it from its own
thread, ``codesaga stats`` directly. Every method may raise ``sqlite3.Error`` or ``OSError``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from codesaga.files import private_file

USAGE_FILE = Path("usage") / "usage.sqlite3"
"""Where the usage file lives, relative to the cache directory."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    at REAL NOT NULL,
    feature TEXT NOT NULL,
    language TEXT NOT NULL,
    model TEXT NOT NULL,
    source TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    generated_tokens INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    shown INTEGER NOT NULL,
    accepted INTEGER NOT NULL DEFAULT 0,
    accepted_chars INTEGER NOT NULL DEFAULT 0,
    displayed INTEGER NOT NULL DEFAULT 0,
    dismissed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_at ON requests (at);
"""
_ADDED_COLUMNS = ("displayed", "dismissed")
"""Columns added after the first release: a file made before them gets them at open."""


@dataclass
class UsageRow:
    """One request's metadata.

    ``at``: Unix time in seconds when it arrived; ``feature``: e.g. ``inline``,
    ``completion``, ``action.refactor``, ``chat``; ``language``: the document's language id
    ("" without a document); ``model``: the model's name (a registry name or a GGUF file's
    name, never its directory); ``source``: where the answer came from (``model``,
    ``cache``, ``type-through``, ``none``, ``cancelled``, ``error``); token counts in model
    tokens (0 when no generation ran for it); ``latency_ms``: milliseconds in the server;
    ``shown``: whether the user was offered something (a non-empty suggestion, an edit, an
    answer); ``accepted`` / ``accepted_chars``: whether the user took it, and how many
    characters (str code points) of it.
    """

    id: str
    at: float
    feature: str
    language: str
    model: str
    source: str
    prompt_tokens: int = 0
    generated_tokens: int = 0
    latency_ms: float = 0.0
    shown: bool = False
    accepted: bool = False
    accepted_chars: int = 0
    displayed: bool = False
    dismissed: bool = False


_COLUMNS = tuple(f.name for f in fields(UsageRow))


class UsageStore:
    """The usage file at ``path``, opened for writing (created if missing)."""

    def __init__(self, path: Path) -> None:
        private_file(path)  # 0600 in a 0700 directory, set at creation
        # the recorder's thread and the server's flush share it, under the recorder's lock
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript(_SCHEMA)
        present = {row[1] for row in self._db.execute("PRAGMA table_info(requests)")}
        for column in _ADDED_COLUMNS:
            if column not in present:
                self._db.execute(
                    f"ALTER TABLE requests ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0"
                )

    def insert(self, rows: Iterable[UsageRow]) -> None:
        """Add rows (one with an id already present replaces it) and commit."""
        marks = ", ".join("?" for _ in _COLUMNS)
        with self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO requests ({', '.join(_COLUMNS)}) VALUES ({marks})",
                [astuple(row) for row in rows],
            )

    def accept(self, accepted: Iterable[tuple[str, int]]) -> None:
        """Mark requests accepted: ``(id, characters taken so far)`` pairs. A request's
        ``accepted_chars`` keeps the largest count it was given: partial accepts report the
        length taken so far, and a whole accept after them the whole length. Unknown ids are
        ignored. Commits."""
        with self._db:
            self._db.executemany(
                "UPDATE requests SET accepted = 1, accepted_chars = MAX(accepted_chars, ?), "
                "dismissed = 0 WHERE id = ?",
                [(chars, request_id) for request_id, chars in accepted],
            )

    def mark(self, column: str, ids: Iterable[str]) -> None:
        """Set ``displayed`` or ``dismissed`` (``column``) on the requests ``ids`` (a dismissed
        suggestion was displayed too); a request already accepted is never marked dismissed.
        Unknown ids are ignored. Commits.
        Raises ValueError for another column."""
        if column not in _ADDED_COLUMNS:
            raise ValueError(f"not a mark: {column}")
        guard = " AND accepted = 0" if column == "dismissed" else ""
        with self._db:
            self._db.executemany(
                f"UPDATE requests SET {column} = 1, displayed = 1 WHERE id = ?{guard}",
                [(request_id,) for request_id in ids],
            )

    def add_tokens(self, updates: Iterable[tuple[str, int, int]]) -> None:
        """Add token counts to requests: ``(id, prompt tokens, generated tokens)``; unknown
        ids are ignored. Commits."""
        with self._db:
            self._db.executemany(
                "UPDATE requests SET prompt_tokens = prompt_tokens + ?, "
                "generated_tokens = generated_tokens + ? WHERE id = ?",
                [(prompt, generated, request_id) for request_id, prompt, generated in updates],
            )

    def prune(self, retention_days: float, now: float | None = None) -> int:
        """Delete rows older than ``retention_days`` days; returns how many."""
        cutoff = (time.time() if now is None else now) - retention_days * 86400.0
        with self._db:
            return self._db.execute("DELETE FROM requests WHERE at < ?", (cutoff,)).rowcount

    def close(self) -> None:
        """Close the file."""
        self._db.close()


def read_rows(path: Path, since: float = 0.0) -> list[UsageRow]:
    """The rows of the usage file at ``path`` that arrived at or after Unix time ``since``
    (seconds), oldest first; [] when the file does not exist. Opens it read-only."""
    if not path.is_file():
        return []
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        cursor = db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM requests WHERE at >= ? ORDER BY at", (since,)
        )
        return [_row(values) for values in cursor]
    except sqlite3.OperationalError as exc:  # a file with no table yet: nothing recorded
        if "no such table" in str(exc):
            return []
        raise
    finally:
        db.close()


def _row(values: tuple[object, ...]) -> UsageRow:
    row = UsageRow(*values)  # type: ignore[arg-type]
    row.shown, row.accepted = bool(row.shown), bool(row.accepted)
    row.displayed, row.dismissed = bool(row.displayed), bool(row.dismissed)
    return row
