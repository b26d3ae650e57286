"""``codesaga stats``: the usage file's summary as a table or JSON."""

from __future__ import annotations

import re
import time
from typing import Any

from rich.console import Console
from rich.table import Table

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "": 86400}


def parse_since(value: str, now: float | None = None) -> float:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"2w"``, ``"90s"`` (a bare number: days) as the Unix
    time in seconds that long before ``now``. Raises ValueError for anything else."""
    match = _SPAN.match(value)
    if match is None:
        raise ValueError(f"not a time span: {value!r} (e.g. 7d, 12h, 30m)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return (time.time() if now is None else now) - seconds


def _cell(value: Any, percent: bool = False) -> str:
    if value is None:
        return "-"
    if percent:
        return f"{100 * value:.1f}%"
    return str(value)


def render(summary: dict[str, Any], console: Console) -> None:
    """Print ``summary`` (see :func:`codesaga.usage.summarize`) as one table: a row per
    (feature, language) and a total."""
    since = summary.get("since")
    title = "CodeSaga usage"
    if since is not None:
        title += " since " + time.strftime("%Y-%m-%d %H:%M", time.localtime(since))
    table = Table(title=title)
    for name in ("feature", "language", "requests", "accepted", "acceptance", "p50 ms"):
        table.add_column(name, justify="left" if name in ("feature", "language") else "right")
    for name in ("p95 ms", "cache hits", "prompt tok", "generated tok"):
        table.add_column(name, justify="right")

    def add(feature: str, language: str, f: dict[str, Any], *, end: bool = False) -> None:
        table.add_row(
            feature,
            language or "-",
            _cell(f["requests"]),
            _cell(f["accepted"]),
            _cell(f["acceptance_rate"], percent=True),
            _cell(f["latency_p50_ms"]),
            _cell(f["latency_p95_ms"]),
            _cell(f["cache_hit_rate"], percent=True),
            _cell(f["prompt_tokens"]),
            _cell(f["generated_tokens"]),
            end_section=end,
        )

    groups = summary["groups"]
    for i, group in enumerate(groups):
        add(group["feature"], group["language"], group, end=i == len(groups) - 1)
    add("total", "", summary["total"])
    console.print(table)
