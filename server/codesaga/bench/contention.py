"""``codesaga bench --contended``: pause latency on a busy machine, against a quiet one.

The machine is made busy the way a user's gets busy: more editor windows, each with its own
in-process ``codesaga serve``, typing at the same time (:data:`BUSY_WINDOWS` of them beside
the one measured, as in the report that asked for this check: two other servers busy on a
2-core laptop). For each thread setting compared (:func:`compared_settings`: the default,
counts fitted to the machine before each decode, see :mod:`codesaga.engine.threads`; every
core; one thread), two rounds run one after the other:

- **quiet**: one server types the plans alone;
- **busy**: that server and :data:`BUSY_WINDOWS` more type at once, each into its own
  documents, each starting at another of the plans (windows typing the same text in step
  would pause, and ask the model, at the same moments: no user's windows do).

Reported per round: pause latency p50/p95 in milliseconds over every typing server's pauses,
for the busy round the ratio of its p50 to the quiet round's, and the suggestions accepted
(and their characters) and the answers shown before their suggestion was whole because other
processes kept a core busy (see
:data:`~codesaga.completion.generations.CONTENDED_BUDGET_SECONDS`). The typist waits for every
pause's suggestion, however late, so lateness costs nothing here. The target: the default's
ratio at most :data:`TARGET_RATIO`.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from codesaga.bench.live import ServerArm
from codesaga.bench.script import TypingPlan, ratio, summary
from codesaga.bench.shared import server_arms, type_round
from codesaga.engine.threads import ThreadCounts, usable_cores
from codesaga.files import write_private

BUSY_WINDOWS = 2
"""Servers typing beside the measured one in the busy round."""
TARGET_RATIO = 3.0
"""Most the busy round's pause p50 may be, in multiples of the quiet round's (default
threads)."""


@dataclass(frozen=True)
class ContentionSetup:
    """The model every server loads and the typist's pace (seconds between keys, seconds
    from opening a file to its first key)."""

    model_path: Path
    interval_s: float
    read_s: float


def compared_settings() -> list[tuple[str, ThreadCounts]]:
    """The ``threads`` / ``batchThreads`` settings compared (0: automatic): the default (this
    environment's settings), every core for both (the default before counts adapted) and one
    thread for both (what the report that asked for this check fell back to); the last two
    only on a machine with more than one core."""
    from codesaga.settings import Settings

    settings = Settings()
    cores = usable_cores()
    compared = [("default", ThreadCounts(settings.threads, settings.batch_threads))]
    if cores > 1:
        compared += [("all cores", ThreadCounts(cores, cores)), ("one", ThreadCounts(1, 1))]
    return compared


def _shown(threads: ThreadCounts) -> str:
    """``"2/1"``, or ``auto`` for a count left automatic (0)."""
    return "/".join(str(n) if n else "auto" for n in (threads.generation, threads.batch))


def _arms(
    tmp: Path, label: str, n: int, setup: ContentionSetup, threads: ThreadCounts
) -> list[ServerArm]:
    return server_arms(
        tmp,
        label,
        n,
        setup.model_path,
        (setup.interval_s, setup.read_s),
        CODESAGA_THREADS=str(threads.generation),
        CODESAGA_BATCH_THREADS=str(threads.batch),
    )


def _round_row(
    label: str, threads: ThreadCounts, windows: int, runs: Sequence[Any]
) -> dict[str, Any]:
    pauses = [r for run in runs for r in run.requests if r.kind == "pause"]
    latencies = summary([s * 1000 for r in pauses if (s := r.result_seconds) is not None])
    return {
        "setting": label,
        "threads": threads.generation,
        "batch_threads": threads.batch,
        "windows": windows,
        "pauses": len(pauses),
        "pauses_answered": sum(1 for r in pauses if r.outcome == "result"),
        "errors": sum(1 for run in runs for r in run.requests if r.outcome == "error"),
        "pause_p50_ms": latencies["p50_ms"],
        "pause_p95_ms": latencies["p95_ms"],
        "accepted": sum(run.accepted for run in runs),
        "accepted_chars": sum(run.accepted_chars for run in runs),
        "shortened": sum(run.stats.get("counts", {}).get("shortened", 0) for run in runs),
    }


def run_contention_bench(
    setup: ContentionSetup, plans: Sequence[TypingPlan], json_path: Path, console: Console
) -> dict[str, Any]:
    """Run the quiet and busy rounds of each compared setting (see the module's text); print
    the table, write the JSON report to ``json_path`` and return it. Raises BenchError when
    a server cannot be used."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="codesaga-bench-contended-") as name:
        tmp = Path(name)
        for label, threads in compared_settings():
            for windows in (1, 1 + BUSY_WINDOWS):
                state = "quiet" if windows == 1 else "busy"
                console.print(f"round: {label} ({_shown(threads)}), {state}")
                arms = _arms(tmp, f"{label}-{state}", windows, setup, threads)
                runs, _seconds = asyncio.run(type_round(arms, plans, rotate=True))
                rows.append(_round_row(label, threads, windows, runs))
    quiet = {r["setting"]: r["pause_p50_ms"] for r in rows if r["windows"] == 1}
    for row in rows:
        row["p50_ratio"] = ratio(row["pause_p50_ms"], quiet[row["setting"]])
    default_busy = next(r for r in rows if r["setting"] == "default" and r["windows"] > 1)
    value = default_busy["p50_ratio"]
    report: dict[str, Any] = {
        "model": setup.model_path.name,
        "cores": usable_cores(),
        "busy_windows": BUSY_WINDOWS,
        "rounds": rows,
        "target": {
            "name": f"default threads: busy pause p50 <= {TARGET_RATIO:g}x quiet",
            "value": value,
            "status": "n/a" if value is None else ("PASS" if value <= TARGET_RATIO else "FAIL"),
        },
    }
    write_private(json_path, json.dumps(report, indent=2) + "\n")
    console.print(_table(report))
    target = report["target"]
    console.print(f"{target['status']:<4}  {target['name']}  (value {target['value']})")
    console.print(f"JSON: {json_path}")
    return report


def _table(report: dict[str, Any]) -> Table:
    table = Table(
        title=(
            f"Busy machine: pause latency ({report['model']}, {report['cores']} cores, "
            f"busy = {report['busy_windows']} more servers typing at once)"
        )
    )
    for column in ("threads (gen/batch)", "round", "pauses answered", "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if column == "round" else "right")
    table.add_column("p50 vs quiet", justify="right")
    table.add_column("accepted (chars)", justify="right")
    table.add_column("shortened", justify="right")
    for row in report["rounds"]:
        table.add_row(
            f"{row['setting']}: {_shown(ThreadCounts(row['threads'], row['batch_threads']))}",
            "quiet" if row["windows"] == 1 else f"busy ({row['windows']} windows)",
            f"{row['pauses_answered']}/{row['pauses']}",
            str(row["pause_p50_ms"]),
            str(row["pause_p95_ms"]),
            "" if row["windows"] == 1 else f"{row['p50_ratio']}x",
            f"{row['accepted']} ({row['accepted_chars']})",
            str(row["shortened"]),
        )
    return table
