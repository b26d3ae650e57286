"""Completion cache: exact answers on disk (diskcache).

The exact key hashes everything the answer depends on: the model identity, the rendered prompt,
the generation parameters and the post-processing inputs. (Type-through reuse of the suggestion
on screen lives in :mod:`codesaga.completion.typethrough`.)

The cache holds code, so its directory is created 0700 and its files 0600. It never stops
completion: a corrupt or unreadable cache is moved aside (``completions.corrupt``) and a fresh
one started; a directory deleted while the server runs is started afresh; when even a fresh
cache cannot be opened (``cacheDir`` is a file, say) completion runs without one. Each fault
is reported once through ``on_fault``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import diskcache

log = logging.getLogger(__name__)

SIZE_LIMIT_BYTES = 64 * 1024 * 1024
DIR_MODE = 0o700
FILE_MODE = 0o600
DB_NAME = "cache.db"
"""diskcache's SQLite file inside the cache directory (``diskcache.core.DBNAME``)."""
INLINE_VALUE_BYTES = 1 << 30
"""Values up to this size stay inside the SQLite file (diskcache's ``disk_min_file_size``;
its default, 32 KiB, writes bigger ones as separate files with the process umask's modes)."""
CACHE_FAULTS = (sqlite3.Error, OSError, diskcache.Timeout)
"""What a broken cache raises: corrupt or missing SQLite file, unusable directory, lock."""


def cache_key(**parts: Any) -> str:
    """A SHA-256 hex key over ``parts`` (JSON-serialisable values), independent of order."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _open_disk(directory: Path, size_limit: int) -> diskcache.Cache:
    """A diskcache in ``directory`` (created 0700, its SQLite file 0600; SQLite gives its
    journal files the database's mode). Raises OSError or sqlite3.Error."""
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(directory, DIR_MODE)
    db = directory / DB_NAME
    os.close(os.open(db, os.O_CREAT | os.O_WRONLY, FILE_MODE))
    os.chmod(db, FILE_MODE)
    return diskcache.Cache(
        str(directory), size_limit=size_limit, disk_min_file_size=INLINE_VALUE_BYTES
    )


def _move_aside(directory: Path) -> Path | None:
    """Rename ``directory`` (or a file in its place) to ``<name>.corrupt``, replacing an older
    one; None when there is nothing there or it cannot be moved."""
    if not os.path.lexists(directory):
        return None
    aside = directory.with_name(directory.name + ".corrupt")
    try:
        if aside.is_dir() and not aside.is_symlink():
            shutil.rmtree(aside)
        directory.replace(aside)
    except OSError as exc:
        log.warning("could not move the completion cache aside: %s", exc)
        return None
    return aside


def _close_quietly(disk: diskcache.Cache) -> None:
    """Close a cache that already failed, ignoring what closing it raises."""
    with contextlib.suppress(*CACHE_FAULTS):
        disk.close()


class CompletionCache:
    """Post-processed suggestions by :func:`cache_key`, kept under ``directory``.

    Never raises for a cache fault: see the module docstring. ``on_fault`` (any thread) gets
    one plain-English sentence per fault; :attr:`fault` holds the last one.
    """

    def __init__(
        self,
        directory: Path,
        size_limit: int = SIZE_LIMIT_BYTES,
        on_fault: Callable[[str], None] | None = None,
    ) -> None:
        self.directory = directory
        self._size_limit = size_limit
        self._on_fault = on_fault
        self._lock = threading.Lock()
        self.fault: str | None = None
        self._disk: diskcache.Cache | None = None
        self._open()

    @property
    def enabled(self) -> bool:
        """Whether answers are being kept (False once even a fresh cache failed to open)."""
        return self._disk is not None

    def _report(self, message: str) -> None:
        self.fault = message
        log.warning("%s", message)
        if self._on_fault is not None:
            self._on_fault(message)

    def _open(self, cause: str | None = None) -> None:
        """Open the cache; on a fault move it aside and start fresh, else go without."""
        try:
            self._disk = _open_disk(self.directory, self._size_limit)
            if cause is not None:
                self._report(f"completion cache {cause}; started a fresh one")
            return
        except CACHE_FAULTS as exc:
            first = exc
        aside = _move_aside(self.directory)
        try:
            if aside is None:
                raise first
            self._disk = _open_disk(self.directory, self._size_limit)
        except CACHE_FAULTS as exc:
            self._disk = None
            self._report(
                f"completion cache off: cannot use {self.directory} ({exc}); "
                "completions still work, without reuse across restarts"
            )
            return
        self._report(
            f"completion cache at {self.directory} was unusable ({first}); "
            f"moved it to {aside.name} and started a fresh one"
        )

    def _reopen(self, disk: diskcache.Cache, cause: str) -> None:
        """Close ``disk`` and open the cache again (moving it aside if need be), unless another
        thread has done so already."""
        with self._lock:
            if self._disk is disk:
                self._disk = None
                _close_quietly(disk)
                self._open(cause=cause)

    def _usable(self) -> diskcache.Cache | None:
        """The open cache, reopened fresh first when its directory was deleted."""
        disk = self._disk
        if disk is not None and not (self.directory / DB_NAME).is_file():
            self._reopen(disk, f"at {self.directory} was deleted")
            disk = self._disk
        return disk

    def get(self, key: str) -> str | None:
        """The stored suggestion for ``key``, or None (also when the cache is off or failed)."""
        disk = self._usable()
        if disk is None:
            return None
        try:
            value = disk.get(key)
        except CACHE_FAULTS as exc:
            self._reopen(disk, f"failed ({exc})")
            return None
        return value if isinstance(value, str) else None

    def put(self, key: str, suggestion: str) -> None:
        """Store a suggestion (empty ones too: "the model has nothing here" is worth keeping);
        dropped when the cache is off or fails."""
        disk = self._usable()
        if disk is None:
            return
        try:
            disk.set(key, suggestion)
        except CACHE_FAULTS as exc:
            self._reopen(disk, f"failed ({exc})")

    def close(self) -> None:
        """Close the underlying SQLite handle."""
        with self._lock:
            disk, self._disk = self._disk, None
        if disk is not None:
            try:
                disk.close()
            except CACHE_FAULTS as exc:
                log.warning("closing the completion cache: %s", exc)
