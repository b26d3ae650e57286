"""The figures of ``codesaga eval``: per-task records, their summary per suite × model × arm,
and the rich table. Pure: no clock, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rich.table import Table

from codesaga.bench.script import percentile

ARMS = ("raw", "server", "server-no-repo", "server-rank")
"""Every arm, in table order: the raw model, the server, and the ablations (the server
without repository context, and without suffix ranking)."""
ARM_TITLES = {
    "raw": "raw",
    "server": "server",
    "server-no-repo": "server −repo ctx",
    "server-rank": "server +ranking",
}
METRICS = {"humaneval": ("pass",), "repo": ("exact", "edit_sim", "identifier")}
"""The metrics of each suite shown in the table (the JSON holds every metric scored)."""
LABELS = {"pass": "pass@1", "exact": "EM", "edit_sim": "ES", "identifier": "ID"}


@dataclass(frozen=True)
class Record:
    """One answer: task, model and arm, the answer's first line and what was expected, its
    scores, and its latency in seconds (request to answer, as the client saw it)."""

    id: str
    suite: str
    kind: str
    model: str
    arm: str
    answer: str
    expected: str
    metrics: dict[str, float]
    seconds: float

    def as_json(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (seconds rounded to 0.1 ms)."""
        out = asdict(self)
        out["seconds"] = round(self.seconds, 4)
        return out


def summarize(records: Sequence[Record]) -> list[dict[str, Any]]:
    """One row per suite × model × arm, in first-seen order: ``n``, the mean of each metric,
    and the latency ``p50_s``/``p95_s``/``mean_s`` in seconds."""
    groups: dict[tuple[str, str, str], list[Record]] = {}
    for record in records:
        groups.setdefault((record.suite, record.model, record.arm), []).append(record)
    rows = []
    for (suite, model, arm), group in groups.items():
        names = sorted({name for r in group for name in r.metrics})
        means = {
            name: round(sum(r.metrics.get(name, 0.0) for r in group) / len(group), 4)
            for name in names
        }
        seconds = [r.seconds for r in group]
        p50, p95 = percentile(seconds, 50), percentile(seconds, 95)
        rows.append(
            {
                "suite": suite,
                "model": model,
                "arm": arm,
                "n": len(group),
                "metrics": means,
                "latency": {
                    "p50_s": None if p50 is None else round(p50, 3),
                    "p95_s": None if p95 is None else round(p95, 3),
                    "mean_s": round(sum(seconds) / len(seconds), 3),
                },
            }
        )
    return rows


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "–"
    scores = "  ".join(
        f"{LABELS[name]} {row['metrics'][name]:.2f}"
        for name in METRICS.get(row["suite"], ())
        if name in row["metrics"]
    )
    lat = row["latency"]
    return f"{scores}\np50 {lat['p50_s']:.2f} s · p95 {lat['p95_s']:.2f} s (n={row['n']})"


def render(report: dict[str, Any]) -> Table:
    """The summary as one rich table: a row per suite × model, a column per arm run."""
    summary = report["summary"]
    setup = report.get("setup", {})
    arms = [arm for arm in ARMS if any(row["arm"] == arm for row in summary)]
    table = Table(
        title=(
            f"codesaga eval: seed {setup.get('seed', 0)}, n_ctx {setup.get('n_ctx', '')}, "
            f"{setup.get('threads', '')} threads, max {setup.get('max_tokens', '')} tokens, "
            "first line scored"
        ),
        caption=f"runtime {report.get('runtime_s', 0)} s; latency = request to answer",
    )
    table.add_column("suite", justify="left")
    table.add_column("model", justify="left")
    for arm in arms:
        table.add_column(ARM_TITLES[arm], justify="right")
    keys: list[tuple[str, str]] = []
    for row in summary:
        if (row["suite"], row["model"]) not in keys:
            keys.append((row["suite"], row["model"]))
    by_key = {(row["suite"], row["model"], row["arm"]): row for row in summary}
    for suite, model in keys:
        cells = [_cell(by_key.get((suite, model, arm))) for arm in arms]
        table.add_row(suite, model, *cells)
    return table
