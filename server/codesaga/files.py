"""Private files under the cache directory: what CodeSaga writes there holds code (chat
sessions, explanations, indexes), so directories are created mode 0700 and files 0600, at
creation (no window in which another user could open them), and paths built from client
input are checked to stay inside their directory.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "inside", "private_dirs", "private_file", "write_private"]

DIR_MODE = 0o700
"""Mode of the directories CodeSaga creates (owner only)."""
FILE_MODE = 0o600
"""Mode of the files CodeSaga creates (owner read/write only)."""


def private_dirs(directory: Path, *, existing: bool = True) -> Path:
    """Create ``directory`` and its missing parents with mode 0700 (the mode is set again
    after each ``mkdir``, so the umask cannot change it). Directories that already exist keep
    their mode, except ``directory`` itself when ``existing`` is true: it is made 0700 too
    (for CodeSaga's own directories, which older versions created 0755). Returns
    ``directory``. Raises OSError when a directory cannot be created (e.g. a parent is a
    file)."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        path.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(path, DIR_MODE)
    if existing and (directory.stat().st_mode & 0o777) != DIR_MODE:
        os.chmod(directory, DIR_MODE)
    return directory


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists with mode 0600: created empty with that mode when missing
    (its directory made by :func:`private_dirs`), an existing file's mode set to it.
    Returns ``path``. Raises OSError when it cannot be created."""
    private_dirs(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE))
    os.chmod(path, FILE_MODE)
    return path


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path``, replacing what was there, the file created with
    mode 0600 (an existing file's mode set to 0600) and its missing directories 0700 (an
    existing directory keeps its mode). Returns ``path``. Raises OSError when it cannot be
    written."""
    private_dirs(path.parent, existing=False)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), FILE_MODE)
        out.write(text)
    return path


def inside(directory: Path, name: str) -> Path:
    """``directory / name``, checked to resolve to a file directly inside ``directory``
    (symlinks resolved). Raises ValueError for a name that leaves it (``../x``, ``/tmp/x``,
    ``a/b``, ``..``) or is empty."""
    if not name or name in (".", ".."):
        raise ValueError(f"not a file name: {name!r}")
    base = directory.resolve()
    path = (base / name).resolve()
    if path.parent != base:
        raise ValueError(f"{name!r} leaves {directory}")
    return path
