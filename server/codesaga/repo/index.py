"""The workspace index: chunks of every workspace file in SQLite, searched with FTS5 BM25.

One SQLite file per workspace root (``cache_dir/index/<sha1 of the root path>.sqlite3``)
in WAL mode, so that searches on the event-loop thread read while a refresh writes in a
background thread. Each thread gets its own connection; writers take one lock and commit
every :data:`BATCH_FILES` files, so a writer never holds the database for long.

Tables: ``files(path, sha256, size)``; ``chunks(id, path, start_line, end_line, kind, name,
signature, text)``; ``chunks_fts(name, body)``, an FTS5 table whose rowid is the chunk's
id and whose columns hold the chunk's name and text as search terms
(:mod:`codesaga.repo.terms`: identifiers split into words in Python, so the default
``unicode61`` tokenizer sees plain words).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from codesaga.files import private_dirs, private_file
from codesaga.repo.chunks import Chunk, chunk_file
from codesaga.repo.files import is_indexable, workspace_files
from codesaga.repo.terms import terms, terms_text

__all__ = ["BATCH_FILES", "IndexReport", "RepoIndex", "db_path"]

log = logging.getLogger(__name__)

#: Files written per write transaction during :meth:`RepoIndex.refresh`.
BATCH_FILES = 50
_SCHEMA_VERSION = 1
_MAX_QUERY_TERMS = 32
_NAME_WEIGHT = 4.0
# search(): terms in more than this share of the chunks (and more than _COMMON_MIN chunks)
# are left out of the query: they barely change the ranking and cost the most to score
_COMMON_SHARE = 0.1
_COMMON_MIN = 50
_SEARCH_TERMS = 12
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL,
                                  size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (id INTEGER PRIMARY KEY, path TEXT NOT NULL,
    start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, kind TEXT NOT NULL,
    name TEXT NOT NULL, signature TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_path ON chunks(path);
CREATE INDEX IF NOT EXISTS chunks_name ON chunks(name) WHERE name != '';
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(name, body, tokenize = 'unicode61');
"""
_CHUNK_COLUMNS = "c.path, c.start_line, c.end_line, c.kind, c.name, c.signature, c.text"
# definitions(): what a name most likely means first
_KIND_ORDER = (
    "CASE c.kind WHEN 'class' THEN 0 WHEN 'interface' THEN 0 WHEN 'type' THEN 1 "
    "WHEN 'function' THEN 1 WHEN 'method' THEN 2 WHEN 'constant' THEN 3 ELSE 4 END"
)


@dataclass(frozen=True)
class IndexReport:
    """What a :meth:`RepoIndex.refresh` did: ``files`` seen in the workspace, ``indexed``
    (re-chunked because new or changed), ``removed`` (gone from the workspace), ``chunks``
    now in the index, ``seconds`` of wall time, ``db_bytes`` (database + WAL file sizes).
    ``cancelled``: stopped early by the cancel event (what was done is kept)."""

    files: int
    indexed: int
    removed: int
    chunks: int
    seconds: float
    db_bytes: int
    cancelled: bool = False


def db_path(root: Path, cache_dir: Path) -> Path:
    """Where the index of workspace ``root`` lives under ``cache_dir``."""
    digest = hashlib.sha1(str(root.resolve()).encode("utf-8")).hexdigest()
    return cache_dir / "index" / f"{digest}.sqlite3"


# a file ready to store, prepared outside the write lock: (sha256, size in bytes, chunks with
# their name and body terms)
_Prepared = tuple[str, int, list[tuple[Chunk, str, str]]]


def _prepare(relative: str, data: bytes, digest: str | None = None) -> _Prepared:
    chunks = chunk_file(relative, data.decode("utf-8", "replace"))
    rows = [(c, terms_text([c.name]), terms_text([c.text])) for c in chunks]
    return digest or hashlib.sha256(data).hexdigest(), len(data), rows


def _row_chunk(row: tuple[str, int, int, str, str, str, str]) -> Chunk:
    return Chunk(*row)


def match_expression(query: str) -> str:
    """The FTS5 MATCH expression for free text ``query``: its distinct terms
    (:func:`codesaga.repo.terms.terms`, at most 32) quoted and joined by OR; ``""`` when it
    has none. The terms are plain words, so no user text reaches the FTS5 syntax."""
    return _or(terms(query)[:_MAX_QUERY_TERMS])


def _or(words: list[str]) -> str:
    return " OR ".join(f'"{word}"' for word in words)


class RepoIndex:
    """The chunk index of one workspace (see the module docstring). Open it with
    :meth:`open`; every method may be called from any thread."""

    def __init__(self, root: Path, path: Path) -> None:
        self.root = root.resolve()
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = False

    # ----- opening ---------------------------------------------------------------------

    @classmethod
    def open(cls, root: Path, cache_dir: Path) -> RepoIndex:
        """The index of ``root`` under ``cache_dir`` (:func:`db_path`), created if missing:
        directories mode 0700, database file 0600. A file that is not a sound SQLite
        database (or fails ``PRAGMA quick_check``) is renamed ``<name>.corrupt-<unix time>``
        and a fresh index started; one of an older schema version is emptied. Raises
        :class:`OSError` if the cache directory cannot be created and
        :class:`sqlite3.Error` if even a fresh database cannot be opened."""
        path = db_path(root, cache_dir)
        private_dirs(path.parent)
        index = cls(root, path)
        try:
            index._prepare()
        except sqlite3.DatabaseError as error:
            index.close()
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            log.warning("repo index %s unreadable (%s); moved aside", path.name, error)
            os.replace(path, aside)
            for suffix in ("-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            index = cls(root, path)
            index._prepare()
        return index

    def _prepare(self) -> None:
        private_file(self.path)
        db = self._db()
        check = db.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {check[0] if check else None}")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        with self._write_lock, db:
            if version not in (0, _SCHEMA_VERSION):
                db.executescript(
                    "DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS chunks;"
                    "DROP TABLE IF EXISTS chunks_fts;"
                )
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            if self._closed:
                raise sqlite3.ProgrammingError("repo index is closed")
            db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab"
                " USING fts5vocab(main, chunks_fts, 'row')"
            )
            self._local.db = db
            with self._connections_lock:
                self._connections.append(db)
        return db

    def close(self) -> None:
        """Close every thread's connection. Later calls raise
        :class:`sqlite3.ProgrammingError`."""
        self._closed = True
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for db in connections:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    # ----- writing ---------------------------------------------------------------------

    def _relative(self, path: Path) -> str:
        full = path if path.is_absolute() else self.root / path
        return full.resolve().relative_to(self.root).as_posix()

    @staticmethod
    def _delete(db: sqlite3.Connection, relative: str) -> None:
        db.execute(
            "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE path = ?)",
            (relative,),
        )
        db.execute("DELETE FROM chunks WHERE path = ?", (relative,))
        db.execute("DELETE FROM files WHERE path = ?", (relative,))

    @staticmethod
    def _insert(db: sqlite3.Connection, relative: str, entry: _Prepared) -> None:
        digest, size, rows = entry
        db.execute(
            "INSERT INTO files(path, sha256, size) VALUES (?, ?, ?)", (relative, digest, size)
        )
        for chunk, name_terms, body_terms in rows:
            cursor = db.execute(
                "INSERT INTO chunks(path, start_line, end_line, kind, name, signature, text)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (relative, chunk.start_line, chunk.end_line, chunk.kind, chunk.name,
                 chunk.signature, chunk.text),
            )  # fmt: skip
            db.execute(
                "INSERT INTO chunks_fts(rowid, name, body) VALUES (?, ?, ?)",
                (cursor.lastrowid, name_terms, body_terms),
            )

    def _write(self, relative: str, entry: _Prepared | None) -> None:
        db = self._db()
        self._delete(db, relative)
        if entry is not None:
            self._insert(db, relative, entry)

    def refresh(
        self,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> IndexReport:
        """Bring the index in line with the workspace: walk
        :func:`~codesaga.repo.files.workspace_files`, re-chunk the files whose SHA-256 of
        content changed (or are new), drop the ones no longer there. ``on_progress(done,
        total)`` is called after each batch of files (counts of files). ``cancel``, when
        set, stops at the next file: the batches written so far stay, nothing is removed.
        Unreadable files are skipped. Blocking; run it in a background thread."""
        started = time.perf_counter()
        paths = list(workspace_files(self.root))
        db = self._db()
        known = dict(db.execute("SELECT path, sha256 FROM files").fetchall())
        seen: set[str] = set()
        indexed = 0
        cancelled = False
        pending: list[tuple[str, _Prepared]] = []

        def flush() -> None:
            if not pending:
                return
            with self._write_lock, db:
                for relative, entry in pending:
                    self._write(relative, entry)
            pending.clear()

        for done, path in enumerate(paths, 1):
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            relative = path.relative_to(self.root).as_posix()
            seen.add(relative)
            try:
                data = path.read_bytes()
            except OSError:
                continue
            digest = hashlib.sha256(data).hexdigest()
            if known.get(relative) != digest:
                pending.append((relative, _prepare(relative, data, digest)))
                indexed += 1
            if len(pending) >= BATCH_FILES:
                flush()
            if on_progress is not None and (done % BATCH_FILES == 0 or done == len(paths)):
                on_progress(done, len(paths))
        flush()
        removed = 0
        if not cancelled:
            vanished = [relative for relative in known if relative not in seen]
            for start in range(0, len(vanished), BATCH_FILES):
                with self._write_lock, db:
                    for relative in vanished[start : start + BATCH_FILES]:
                        self._delete(db, relative)
            removed = len(vanished)
        if indexed or removed:
            with self._write_lock, contextlib.suppress(sqlite3.Error):
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # fails if a reader holds it
        chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        report = IndexReport(
            files=len(paths),
            indexed=indexed,
            removed=removed,
            chunks=chunks,
            seconds=time.perf_counter() - started,
            db_bytes=self.index_memory(),
            cancelled=cancelled,
        )
        log.info(
            "repo index: %d files, %d indexed, %d removed, %d chunks, %.2f s, %d bytes%s",
            report.files, report.indexed, report.removed, report.chunks, report.seconds,
            report.db_bytes, " (cancelled)" if cancelled else "",
        )  # fmt: skip
        return report

    def update(self, path: Path, text: str | None) -> None:
        """Re-index one file: ``path`` absolute or relative to the root, ``text`` its new
        content (``None``: the file was deleted, its chunks are dropped). A path outside
        the root, ignored, or otherwise not indexable (:func:`~codesaga.repo.files.
        is_indexable`, checked on disk when the file exists) is dropped instead."""
        try:
            relative = self._relative(path)
        except ValueError:
            return
        data = None if text is None else text.encode("utf-8")
        full = self.root / relative
        if data is not None and full.exists() and not is_indexable(self.root, full):
            data = None
        db = self._db()
        entry = None
        if data is not None:
            row = db.execute("SELECT sha256 FROM files WHERE path = ?", (relative,)).fetchone()
            if row is not None and row[0] == hashlib.sha256(data).hexdigest():
                return
            entry = _prepare(relative, data)
        with self._write_lock, db:
            self._write(relative, entry)

    # ----- reading ---------------------------------------------------------------------

    def search(self, query: str, *, limit: int = 8, exclude_path: str | None = None) -> list[Chunk]:
        """Up to ``limit`` chunks best matching free text ``query`` by BM25 (best first; a
        chunk's name weighs 4 times its text), the chunks of ``exclude_path``
        (workspace-relative) left out. The query's identifiers are split into words, stop
        words dropped; of the terms the index holds, those in over 10% of the chunks are
        dropped too (they cost the most to score and rank nothing), and the 12 rarest left
        are OR-ed. ``[]`` for a query with no such terms; never raises for odd text
        (an SQLite error, e.g. a lock held too long, is logged and gives ``[]``)."""
        words = terms(query)[:_MAX_QUERY_TERMS]
        if not words or limit <= 0:
            return []
        sql = (
            f"SELECT {_CHUNK_COLUMNS} FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid"
            " WHERE chunks_fts MATCH ? AND c.path != ?"
            f" ORDER BY bm25(chunks_fts, {_NAME_WEIGHT}, 1.0) LIMIT ?"
        )
        try:
            db = self._db()
            expression = _or(self._selective(db, words))
            if not expression:
                return []
            rows = db.execute(sql, (expression, exclude_path or "", limit)).fetchall()
        except sqlite3.Error as error:  # e.g. locked for longer than the timeout
            log.warning("repo search failed: %s", error)
            return []
        return [_row_chunk(row) for row in rows]

    def _selective(self, db: sqlite3.Connection, words: list[str]) -> list[str]:
        """``words`` that occur in the index, without those in over 10% of the chunks
        (the rarest one is kept if all are that common), at most the 12 rarest."""
        marks = ",".join("?" * len(words))
        counts: dict[str, int] = dict(
            db.execute(
                f"SELECT term, doc FROM temp.chunks_vocab WHERE term IN ({marks})", words
            ).fetchall()
        )
        present = [word for word in words if word in counts]
        if not present:
            return []
        total = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        common = max(_COMMON_MIN, total * _COMMON_SHARE)
        kept = [w for w in present if counts[w] <= common]
        if not kept:
            return [min(present, key=counts.__getitem__)]
        rarest = set(sorted(kept, key=counts.__getitem__)[:_SEARCH_TERMS])
        return [w for w in kept if w in rarest]

    def definitions(self, name: str, *, limit: int = 4) -> list[Chunk]:
        """Up to ``limit`` chunks that define ``name`` exactly (case-sensitive): classes and
        interfaces first, then functions and types, methods, constants; ties by path and
        line."""
        if not name or limit <= 0:
            return []
        rows = (
            self._db()
            .execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks c WHERE c.name = ?"
                f" ORDER BY {_KIND_ORDER}, c.path, c.start_line LIMIT ?",
                (name, limit),
            )
            .fetchall()
        )
        return [_row_chunk(row) for row in rows]

    def chunks_of(self, paths: Iterable[str]) -> list[Chunk]:
        """Every chunk of the given workspace-relative paths, by path and line."""
        wanted = list(paths)
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        rows = (
            self._db()
            .execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks c WHERE c.path IN ({marks})"
                " ORDER BY c.path, c.start_line",
                wanted,
            )
            .fetchall()
        )
        return [_row_chunk(row) for row in rows]

    def has_path(self, relative: str) -> bool:
        """Whether the workspace-relative ``relative`` path is indexed."""
        row = self._db().execute("SELECT 1 FROM files WHERE path = ?", (relative,)).fetchone()
        return row is not None

    def index_memory(self) -> int:
        """Bytes the index takes on disk: the database file plus its WAL (0 if missing)."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += os.stat(str(self.path) + suffix).st_size
        return total
