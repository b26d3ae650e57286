"""``codesaga bench --index-files N``: the workspace index of an N-file workspace, built in
the background of a real server, and what it costs the keystrokes meanwhile.

The workspace is N Python files of real code, copied from the installed packages (sorted by
path, so the same N files every time). A ``codesaga serve`` child with no model to load opens
it; keystrokes are timed end to end as :mod:`codesaga.bench.sync` does — a batch while the
index is being built, then the same number once it is ready — and the index's figures are read
from ``codesaga.stats``. A second server on the same workspace and cache then shows what a
restart with nothing changed reads again (nothing, when the index is kept by content hash).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import sysconfig
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from codesaga.bench.live import BenchError, ServerArm
from codesaga.bench.replay import stats
from codesaga.bench.script import summary
from codesaga.bench.sync import SyncRun, measure_sync, no_model_env
from codesaga.files import write_private

__all__ = ["copy_workspace", "run_index_bench"]


def copy_workspace(root: Path, files: int, source: Path | None = None) -> int:
    """Copy the first ``files`` ``*.py`` files (by sorted path) of ``source`` (default: this
    Python's site-packages) into ``root``, keeping their relative paths; returns how many."""
    source = source or Path(sysconfig.get_paths()["purelib"])
    copied = 0
    for path in sorted(source.rglob("*.py")):
        if copied >= files:
            break
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        target = root / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copied += 1
    return copied


async def _index_status(arm: ServerArm) -> dict[str, Any]:
    result = await stats(arm.client)
    index = (result or {}).get("index")
    if not isinstance(index, dict):
        raise BenchError("the server reported no workspace index")
    return index


async def _until_indexed(arm: ServerArm) -> dict[str, Any]:
    index = await arm.wait_indexed()
    if index is None:
        raise BenchError("the server reported no workspace index")
    if index.get("state") == "failed":
        raise BenchError(f"the workspace index failed: {index.get('error')}")
    return index


async def _run(env: dict[str, str], log: Path, root: Path, text: str, keys: int) -> dict[str, Any]:
    first = ServerArm(env, 0.0, log)
    try:
        await first.start(model=False, root=root)
        during: SyncRun = await measure_sync(first, text, keys)
        still_indexing = (await _index_status(first)).get("state") == "indexing"
        built = await _until_indexed(first)
        after = await measure_sync(first, text, keys)
    finally:
        await first.stop()
    second = ServerArm(env, 0.0, log)
    try:
        await second.start(model=False, root=root)
        again = await _until_indexed(second)
    finally:
        await second.stop()
    during_s, after_s = summary(during.keys_ms), summary(after.keys_ms)
    ratio = None
    if during_s["p95_ms"] and after_s["p95_ms"]:
        ratio = round(during_s["p95_ms"] / after_s["p95_ms"], 2)
    return {
        "index": built,
        "keystroke_while_indexing": during_s,
        "keystroke_after": after_s,
        "indexing_lasted_the_whole_batch": still_indexing,
        "p95_ratio_while_indexing": ratio,
        "restart": {
            "state": again.get("state"),
            "files": again.get("files"),
            "read_again": again.get("indexed"),
            "seconds": again.get("seconds"),
        },
    }


def run_index_bench(
    files: int,
    keys: int,
    text: str,
    env: dict[str, str],
    json_path: Path,
    console: Console | None = None,
) -> dict[str, Any]:
    """Build an ``files``-file workspace, time ``keys`` keystrokes into ``text`` (a 5,000-line
    Python file) while a server indexes it and after, restart the server, print the table,
    write the JSON report to ``json_path`` and return it. Raises BenchError when a server fails
    or reports no index."""
    out = console or Console(width=None if sys.stdout.isatty() else 132)
    with tempfile.TemporaryDirectory(prefix="codesaga-bench-") as tmp:
        root = Path(tmp) / "workspace"
        copied = copy_workspace(root, files)
        server_env = no_model_env(env, Path(tmp))
        report = asyncio.run(_run(server_env, Path(tmp) / "server.log", root, text, keys))
    report["workspace_files"] = copied
    report["started"] = f"{datetime.now():%Y-%m-%d %H:%M:%S}"
    write_private(json_path, json.dumps(report, indent=2) + "\n")
    out.print(_table(report))
    out.print(f"JSON: {json_path}")
    report["json_path"] = str(json_path)
    return report


def _table(report: dict[str, Any]) -> Table:
    index = report["index"]
    table = Table(title=f"workspace index: {report['workspace_files']} files")
    table.add_column("figure")
    table.add_column("value", justify="right")
    mib = 1024 * 1024
    rows = [
        ("files indexed / chunks", f"{index.get('files')} / {index.get('chunks')}"),
        ("indexing seconds (child process)", f"{index.get('seconds', 0):.2f}"),
        ("indexer peak RSS MiB", f"{(index.get('peak_rss_bytes') or 0) / mib:.1f}"),
        ("index database MiB", f"{(index.get('db_bytes') or 0) / mib:.2f}"),
    ]
    for label, key in (
        ("keystroke while indexing", "keystroke_while_indexing"),
        ("keystroke after", "keystroke_after"),
    ):
        row = report[key]
        rows.append((f"{label} p50 / p95 ms", f"{row['p50_ms']:.2f} / {row['p95_ms']:.2f}"))
    rows.append(("p95 while indexing ÷ after", str(report["p95_ratio_while_indexing"])))
    rows.append(("indexing outlasted the batch", str(report["indexing_lasted_the_whole_batch"])))
    restart = report["restart"]
    rows.append(("restart: files read again", f"{restart['read_again']} of {restart['files']}"))
    for label, value in rows:
        table.add_row(label, value)
    return table
