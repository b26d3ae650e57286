"""Chat sessions on disk: each session's turns (role, content, timestamp) in one SQLite file
under the cache dir, so a conversation survives a server restart; and the session-id rules.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from codesaga.engine import ChatMessage

log = logging.getLogger(__name__)

MAX_SESSIONS = 500
"""Sessions kept on disk; the least recently used beyond this are deleted when a store opens."""
MAX_STORED_TURNS = 400
"""Turns kept per session on disk (the prompt holds only what fits the context window)."""
MAX_SESSION_ID = 200
"""Longest accepted session id, in characters."""


@dataclass(frozen=True)
class Turn:
    """One stored message. ``role`` is ``user`` or ``assistant``; ``created`` is Unix seconds."""

    role: str
    content: str
    created: float = 0.0

    def message(self) -> ChatMessage:
        """The turn as an engine message (no timestamp)."""
        return {"role": self.role, "content": self.content}


def new_session_id() -> str:
    """A fresh random session id (32 hex digits)."""
    return uuid.uuid4().hex


def check_session_id(value: object) -> str:
    """``value`` as a session id: a non-blank string of at most MAX_SESSION_ID characters.

    Raises ValueError otherwise.
    """
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SESSION_ID:
        raise ValueError(
            f"sessionId must be a non-empty string of at most {MAX_SESSION_ID} characters"
        )
    return value


_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    session TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (session, seq)
);
"""


class SessionStore:
    """Chat sessions in one SQLite file, ``<directory>/sessions.sqlite3``.

    Only role, content and timestamps are stored. Several server processes may share the
    file (WAL journal, 5 s busy timeout). A file that is not a readable database is moved
    aside to ``sessions.sqlite3.corrupt`` and a new one is started. Raises OSError when the
    directory cannot be created, sqlite3.Error when the file cannot be opened at all.
    """

    FILE_NAME = "sessions.sqlite3"

    def __init__(
        self,
        directory: Path,
        *,
        max_sessions: int = MAX_SESSIONS,
        max_turns: int = MAX_STORED_TURNS,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / self.FILE_NAME
        self.max_turns = max_turns
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            log.warning("chat store unreadable (%s); starting a new one", exc)
            self.path.replace(self.path.with_name(self.FILE_NAME + ".corrupt"))
            self._db = self._open()
        self.prune(max_sessions)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.executescript(_SCHEMA)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def turns(self, session_id: str) -> list[Turn]:
        """The session's turns, oldest first (``[]`` for an unknown session)."""
        rows = self._db.execute(
            "SELECT role, content, created FROM turns WHERE session = ? ORDER BY seq",
            (session_id,),
        ).fetchall()
        return [Turn(role, content, created) for role, content, created in rows]

    def exists(self, session_id: str) -> bool:
        """True when the session has been stored."""
        row = self._db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return row is not None

    def append(self, session_id: str, turns: Iterable[tuple[str, str]]) -> None:
        """Add ``(role, content)`` turns to the session (created on first use), in one
        transaction; the oldest turns beyond ``max_turns`` are deleted. ``role`` must be
        ``user`` or ``assistant`` (sqlite3.IntegrityError otherwise)."""
        now = time.time()
        with self._db:
            self._db.execute(
                "INSERT INTO sessions (id, created, updated) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET updated = excluded.updated",
                (session_id, now, now),
            )
            (last,) = self._db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM turns WHERE session = ?", (session_id,)
            ).fetchone()
            self._db.executemany(
                "INSERT INTO turns (session, seq, role, content, created) VALUES (?, ?, ?, ?, ?)",
                [
                    (session_id, last + i, role, content, now)
                    for i, (role, content) in enumerate(turns, start=1)
                ],
            )
            self._db.execute(
                "DELETE FROM turns WHERE session = ? AND seq NOT IN "
                "(SELECT seq FROM turns WHERE session = ? ORDER BY seq DESC LIMIT ?)",
                (session_id, session_id, self.max_turns),
            )

    def reset(self, session_id: str) -> int:
        """Forget the session; returns how many turns it had (0 for an unknown session)."""
        with self._db:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM turns WHERE session = ?", (session_id,)
            ).fetchone()
            self._db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return int(count)

    def prune(self, max_sessions: int) -> int:
        """Delete the least recently updated sessions beyond ``max_sessions``; returns how many
        were deleted."""
        with self._db:
            cursor = self._db.execute(
                "DELETE FROM sessions WHERE id NOT IN "
                "(SELECT id FROM sessions ORDER BY updated DESC LIMIT ?)",
                (max_sessions,),
            )
        return cursor.rowcount

    def close(self) -> None:
        """Close the database (the store is unusable afterwards)."""
        self._db.close()
