"""The workspace indexer, run as a child process of the server.

``python -m codesaga.repo.indexer ROOT CACHE_DIR [PATH ...]`` refreshes the index of ROOT kept
under CACHE_DIR: the whole workspace (only files whose content changed are read again), or just
the PATHs given (changed or deleted files). It writes JSON lines to stdout, the server reads
them: ``{"progress": [done, total]}`` now and then, and last ``{"report": {...}}`` with the
:class:`~codesaga.repo.index.IndexReport` fields and ``peak_rss_bytes`` (this process's VmHWM).

A separate process keeps tree-sitter parsing and SQLite writes off the server's interpreter
lock (keystrokes are answered meanwhile) and its memory out of the server's; it runs at a lower
CPU priority (``nice`` +10).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import resource
import sys
import time
from pathlib import Path

from codesaga.repo.index import RepoIndex

PROGRESS_SECONDS = 0.25
"""Least seconds between two progress lines."""


def _emit(payload: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def _peak_rss_bytes() -> int:
    """This process's peak resident memory in bytes (Linux reports ru_maxrss in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codesaga.repo.indexer")
    parser.add_argument("root", type=Path)
    parser.add_argument("cache_dir", type=Path)
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args(argv)
    with contextlib.suppress(OSError):
        os.nice(10)
    index = RepoIndex.open(args.root, args.cache_dir)
    try:
        if args.paths:
            started = time.perf_counter()
            for path in args.paths:
                try:
                    text: str | None = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    text = None  # deleted, unreadable or not text: out of the index
                index.update(path, text)
            report: dict[str, object] = {
                "files": -1,
                "indexed": len(args.paths),
                "removed": 0,
                "chunks": -1,
                "seconds": time.perf_counter() - started,
            }
        else:
            last = 0.0

            def progress(done: int, total: int) -> None:
                nonlocal last
                now = time.monotonic()
                if now - last >= PROGRESS_SECONDS or done == total:
                    last = now
                    _emit({"progress": [done, total]})

            report = dataclasses.asdict(index.refresh(on_progress=progress))
    finally:
        index.close()
    report["peak_rss_bytes"] = _peak_rss_bytes()
    _emit({"report": report})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
