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


_COLUMNS = (
    ("requests", "requests", False),
    ("shown", "shown", False),
    ("accepted", "accepted", False),
    ("acceptance", "acceptance_rate", True),
    ("accepted chars", "accepted_chars", False),
    ("dismissed", "dismissed", False),
    ("p50 ms", "latency_p50_ms", False),
    ("p95 ms", "latency_p95_ms", False),
    ("cache hits", "cache_hit_rate", True),
    ("prompt tok", "prompt_tokens", False),
    ("generated tok", "generated_tokens", False),
)
"""The table's figure columns: (heading, key of :func:`codesaga.usage.summary.figures`,
shown as a percentage)."""


def render(summary: dict[str, Any], console: Console) -> None:
    """Print ``summary`` (see :func:`codesaga.usage.summarize`) as one table: a row per
    (feature, language, model) and a total. "shown" counts the suggestions a client said it
    displayed, or, for clients that do not say (Helix), those the server offered."""
    since = summary.get("since")
    title = "CodeSaga usage"
    if since is not None:
        title += " since " + time.strftime("%Y-%m-%d %H:%M", time.localtime(since))
    table = Table(title=title)
    for name in ("feature", "language", "model"):
        table.add_column(name, justify="left")
    for heading, _, _ in _COLUMNS:
        table.add_column(heading, justify="right")

    def add(names: tuple[str, str, str], f: dict[str, Any], *, end: bool = False) -> None:
        shown = dict(f, shown=f["displayed"] or f["shown"])
        cells = [_cell(shown[key], percent=percent) for _, key, percent in _COLUMNS]
        table.add_row(*(name or "-" for name in names), *cells, end_section=end)

    groups = summary["groups"]
    for i, group in enumerate(groups):
        names = (group["feature"], group["language"], group["model"])
        add(names, group, end=i == len(groups) - 1)
    add(("total", "", ""), summary["total"])
    console.print(table)
