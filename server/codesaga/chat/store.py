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
from codesaga.files import private_dirs, private_file

log = logging.getLogger(__name__)

MAX_SESSIONS = 500
"""Sessions kept on disk; the least recently used beyond this are deleted when a store opens."""
MAX_STORED_TURNS = 400
"""Turns kept per session on disk (the prompt holds only what fits the context window)."""


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
    """``value`` as a session id: a UUID written as the server issues it (32 hex digits) or
    in its hyphenated form (``8-4-4-4-12`` hex digits), either case. A session id names a
    file under the cache directory (:meth:`ChatService.write_reply`), so nothing else is
    accepted. Raises ValueError otherwise."""
    if isinstance(value, str):
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            pass
        else:
            if value.lower() in (parsed.hex, str(parsed)):
                return value
    raise ValueError("must be a session id the server issued (32 hex digits, or a UUID)")


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

    Only role, content and timestamps are stored; the directory is made mode 0700 and the
    file 0600 (:mod:`codesaga.files`). Several server processes may share the
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
        private_dirs(directory)
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
        private_file(self.path)  # its -wal and -shm files take its mode
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
