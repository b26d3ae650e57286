"""``codesaga bench --contended``: pause latency on a busy machine, against a quiet one.

The machine is made busy the two ways a user's gets busy. For each thread setting compared
(:func:`compared_settings`: the default, counts fitted to the machine before each decode, see
:mod:`codesaga.engine.threads`; every core; one thread), three rounds run one after the
other:

- **quiet**: one server types the plans alone;
- **load** (the default only, see :func:`rounds_for`): that server types them beside a
  bounded CPU load, :func:`load_cores` processes that each keep a core busy (half the
  machine: a build, a test run);
- **busy**: that server and :data:`BUSY_WINDOWS` more type at once, each into its own
  documents, each starting at another of the plans (windows typing the same text in step
  would pause, and ask the model, at the same moments: no user's windows do); two more
  windows, as in the report that asked for this check: two other servers busy on a 2-core
  laptop.

Reported per round: pause latency p50/p95 in milliseconds over every typing server's pauses,
for the load and busy rounds the ratio of their p50 to the quiet round's (the target: the
default's ratio at most :data:`TARGET_RATIO` in both), the suggestions accepted (and their
characters) and the answers shown before their suggestion was whole because other processes
kept a core busy (see :data:`~codesaga.completion.generations.CONTENDED_BUDGET_SECONDS`). The
typist waits for every pause's suggestion, however late, so lateness costs nothing here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
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
"""Most the load and busy rounds' pause p50 may be, in multiples of the quiet round's
(default threads)."""
ROUNDS = ("quiet", "load", "busy")
SPIN = "while True:\n    pass\n"
"""What each process of the load runs."""


def rounds_for(setting: str) -> tuple[str, ...]:
    """The rounds a compared setting runs: the load round for the default alone (with every
    core, a decode beside a busy core takes seconds a token, as its busy round shows)."""
    return ROUNDS if setting == "default" else ("quiet", "busy")


def load_cores() -> int:
    """Processes of the load round, each keeping a core busy: half the usable cores, at
    least one."""
    return max(1, usable_cores() // 2)


@contextlib.contextmanager
def cpu_load(n: int) -> Iterator[None]:
    """``n`` processes that each keep a core busy while the block runs (killed after)."""
    procs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


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
    label: str, threads: ThreadCounts, state: str, runs: Sequence[Any]
) -> dict[str, Any]:
    pauses = [r for run in runs for r in run.requests if r.kind == "pause"]
    latencies = summary([s * 1000 for r in pauses if (s := r.result_seconds) is not None])
    return {
        "setting": label,
        "threads": threads.generation,
        "batch_threads": threads.batch,
        "round": state,
        "windows": len(runs),
        "load_cores": load_cores() if state == "load" else 0,
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
    """Run the quiet, load and busy rounds of each compared setting (see the module's text); print
    the table, write the JSON report to ``json_path`` and return it. Raises BenchError when
    a server cannot be used."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="codesaga-bench-contended-") as name:
        tmp = Path(name)
        for label, threads in compared_settings():
            for state in rounds_for(label):
                console.print(f"round: {label} ({_shown(threads)}), {state}")
                windows = 1 + BUSY_WINDOWS if state == "busy" else 1
                arms = _arms(tmp, f"{label}-{state}", windows, setup, threads)
                with cpu_load(load_cores() if state == "load" else 0):
                    runs, _seconds = asyncio.run(type_round(arms, plans, rotate=True))
                rows.append(_round_row(label, threads, state, runs))
    quiet = {r["setting"]: r["pause_p50_ms"] for r in rows if r["round"] == "quiet"}
    for row in rows:
        row["p50_ratio"] = ratio(row["pause_p50_ms"], quiet[row["setting"]])
    targets = []
    for state, what in [
        ("load", f"{load_cores()} more core(s) kept busy"),
        ("busy", f"{BUSY_WINDOWS} more servers typing"),
    ]:
        row = next(r for r in rows if r["setting"] == "default" and r["round"] == state)
        value = row["p50_ratio"]
        status = "n/a" if value is None else ("PASS" if value <= TARGET_RATIO else "FAIL")
        name = f"default threads, {what}: pause p50 <= {TARGET_RATIO:g}x quiet"
        targets.append({"name": name, "value": value, "status": status})
    report: dict[str, Any] = {
        "model": setup.model_path.name,
        "cores": usable_cores(),
        "busy_windows": BUSY_WINDOWS,
        "load_cores": load_cores(),
        "rounds": rows,
        "targets": targets,
    }
    write_private(json_path, json.dumps(report, indent=2) + "\n")
    console.print(_table(report))
    for target in targets:
        console.print(f"{target['status']:<4}  {target['name']}  (value {target['value']})")
    console.print(f"JSON: {json_path}")
    return report


def _table(report: dict[str, Any]) -> Table:
    table = Table(
        title=(
            f"Busy machine: pause latency ({report['model']}, {report['cores']} cores; "
            f"load = {report['load_cores']} more core(s) kept busy, "
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
            f"busy ({row['windows']} windows)" if row["round"] == "busy" else row["round"],
            f"{row['pauses_answered']}/{row['pauses']}",
            str(row["pause_p50_ms"]),
            str(row["pause_p95_ms"]),
            "" if row["round"] == "quiet" else f"{row['p50_ratio']}x",
            f"{row['accepted']} ({row['accepted_chars']})",
            str(row["shortened"]),
        )
    return table
