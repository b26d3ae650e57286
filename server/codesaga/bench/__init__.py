"""``codesaga bench``: replay a person typing into the real server, against a naive baseline.

Phases, one after the other so that no two of them share the CPU:

1. **server arm** (:mod:`codesaga.bench.live`): ``codesaga serve`` in a child process with a
   fresh cache directory, typed into over LSP key by key (``didChange`` + an automatic inline
   completion per key, ``$/cancelRequest`` for the one still pending when the next key comes,
   a wait for the suggestion after each Enter: :mod:`codesaga.bench.typist`); then the pause
   points asked for again for the decode figures (:mod:`codesaga.bench.replay`), its
   ``codesaga.stats`` and peak RSS;
2. **naive arm** (:mod:`codesaga.bench.local`): plain llama-cpp-python, one ``Llama``, the
   text before the cursor at every pause point of phase 1, same ``maxTokens``, stop at newline;
3. **raw decode**: the same ``Llama`` streaming the server's own prompts, for decode speed;
4. **overhead**: the server's modules in-process on a generated 5,000-line Python file.

``--sync-keys N`` runs one other part instead (:mod:`codesaga.bench.sync`): ``N`` keystrokes of
text sync into the same 5,000-line file, end to end over LSP, with a server that has no model.
``--index-files N`` too (:mod:`codesaga.bench.indexing`): a server with no model indexes an
N-file workspace; the same keystrokes are timed meanwhile and after, then a restart re-indexes.

The report (:mod:`codesaga.bench.report`) is printed as a table (:mod:`codesaga.bench.table`)
and written as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from codesaga.bench.live import BenchError, ServerArm
from codesaga.bench.records import ServerRun
from codesaga.bench.report import build_report
from codesaga.bench.script import TypingPlan, big_python_file, normalise_newlines, plan_typing
from codesaga.bench.table import render
from codesaga.demo import FIXTURES, MARKER, strip_markers
from codesaga.engine.cpu_load import CpuSample, others_busy_cores
from codesaga.engine.cpu_load import sample as cpu_sample
from codesaga.files import write_private
from codesaga.syntax.languages import grammar_name

__all__ = ["BenchError", "BenchOptions", "default_files", "plan_files", "run_bench"]

FIXTURE_PATTERNS = ("*.py", "*.ts")
OVERHEAD_LINES = 5000
OVERHEAD_SOURCE = "inventory.py"
BUSY_SHARE = 0.1
"""Warn when other processes used more than this share of all cores during the run."""


@dataclass(frozen=True)
class BenchOptions:
    """What ``codesaga bench`` was asked for."""

    files: tuple[Path, ...] = ()
    """Files to type (``<CURSOR>`` markers are removed); empty = the fixture files."""
    interval_ms: float = 60.0
    """Milliseconds between keys."""
    read_ms: float = 1000.0
    """Milliseconds from opening a file to its first key: the person looks at the file and
    puts the cursor where they will type. 0 presses the first key as the file opens."""
    max_chars: int = 1200
    """Keys typed in all files together (split evenly; whole lines only)."""
    json_path: Path | None = None
    """Where to write the JSON report; None = ``<cacheDir>/bench/bench-<time>.json``."""
    model: str | None = None
    """Registry name or GGUF path; None = the settings' ``model``."""
    overhead_keys: int = 200
    """Keystrokes timed in the overhead phase."""
    start_fraction: float = 0.4
    """Share of each file's lines already there when typing starts."""
    sync_keys: int | None = None
    """Run only the text-sync part with this many keystrokes (:mod:`codesaga.bench.sync`)."""
    index_files: int | None = None
    """Only the workspace-index part, on a workspace of this many files."""
    clients: tuple[int, ...] = ()
    """Only the shared-engine load check, with these client counts (:mod:`.shared`)."""
    engine_url: str | None = None
    """The engine of the load check (None: the bench starts one)."""
    contended: bool = False
    """Only the busy-machine check (:mod:`.contention`)."""


def default_files() -> list[Path]:
    """The fixture files (``tests/fixtures/*.py``, ``*.ts``) of a source checkout."""
    return sorted(p for pattern in FIXTURE_PATTERNS for p in FIXTURES.glob(pattern))


def plan_files(paths: Sequence[Path], max_chars: int, start_fraction: float) -> list[TypingPlan]:
    """A typing plan per file, the ``max_chars`` keys split evenly between them.

    Raises BenchError for a missing or unreadable file, or when there is nothing to type.
    """
    if not paths:
        raise BenchError("no files to type (no fixtures found and none given)")
    budget = max(1, max_chars // len(paths))
    plans = []
    for path in paths:
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BenchError(f"cannot read {path}: {exc}") from exc
        text, _markers = strip_markers(normalise_newlines(raw))
        language = grammar_name("", path.as_uri()) or "plaintext"
        plan = plan_typing(path.name, language, text, budget, start_fraction)
        if plan.typed:
            plans.append(plan)
    if not plans:
        raise BenchError("the files have nothing to type after their first lines")
    return plans


def _overhead_source(paths: Sequence[Path]) -> str:
    """Python source to grow into the 5,000-line file: the inventory fixture, else the first
    Python file given; ``<CURSOR>`` markers become ``None``."""
    candidates = [FIXTURES / OVERHEAD_SOURCE, *(p for p in paths if p.suffix == ".py")]
    for path in candidates:
        if path.is_file():
            # a marker is a hole in the code ("if <CURSOR>]"): fill it so that the file parses
            return normalise_newlines(path.read_text(encoding="utf-8")).replace(MARKER, "None")
    raise BenchError("no Python file to build the 5,000-line overhead file from")


@contextmanager
def _progress() -> Iterator[Progress]:
    console = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield progress


def run_bench(options: BenchOptions, console: Console | None = None) -> dict[str, Any]:
    """Run every phase and return the report (also printed and written as JSON).

    Raises BenchError when the server or the model cannot be used, ModelError when the model
    cannot be resolved. With ``options.sync_keys`` only the text-sync part runs.
    """
    if options.sync_keys is not None:
        return _sync_bench(options, options.sync_keys, console)
    if options.index_files is not None:
        return _index_bench(options, options.index_files, console)
    if options.clients:
        return _shared_bench(options, console)
    if options.contended:
        return _contended_bench(options, console)
    from codesaga.bench import local
    from codesaga.completion.prompt import PromptBuilder
    from codesaga.models import resolve
    from codesaga.settings import Settings

    started = time.perf_counter()
    load_start = _loadavg()
    cpu_start = cpu_sample()
    out = console or Console(width=None if sys.stdout.isatty() else 132)
    settings = Settings()
    if options.model:
        settings = settings.model_copy(update={"model": options.model})
    model_path = resolve(settings.model, settings.resolved_cache_dir())
    paths = list(options.files) or default_files()
    plans = plan_files(paths, options.max_chars, options.start_fraction)
    big_file = big_python_file(_overhead_source(paths), OVERHEAD_LINES)
    # the typed files' folder is the workspace: the server indexes it for repository context
    root = Path(os.path.commonpath([p.resolve().parent for p in paths]))
    interval_s = options.interval_ms / 1000.0
    keys_planned = sum(plan.keys for plan in plans)
    phases = _Phases()

    with tempfile.TemporaryDirectory(prefix="codesaga-bench-") as tmp, _progress() as progress:
        # loaded first: the raw arm decodes each pause prompt right after the server's replay
        # of it, so the two decode figures are taken side by side
        engine_task = progress.add_task("naive/raw: loading model", total=None)
        engine = local.load_engine_for_bench(
            model_path,
            n_ctx=settings.context_size,
            n_gpu_layers=settings.gpu_layers,
            n_threads=settings.threads,
            n_threads_batch=settings.batch_threads,
            fim_family=settings.fim_family,
        )
        try:
            phases.mark("naive_load")
            prompts = PromptBuilder(
                engine, max_tokens=settings.max_tokens, temperature=settings.temperature
            )
            env = dict(os.environ)
            env.update(CODESAGA_CACHE_DIR=str(Path(tmp) / "cache"), CODESAGA_MODEL=str(model_path))
            task = progress.add_task("server: loading model", total=keys_planned)
            arm = ServerArm(
                env,
                interval_s,
                Path(tmp) / "server.log",
                on_key=lambda n: progress.advance(task, n),
                read_s=options.read_ms / 1000.0,
            )
            raw: list[local.DecodeSample] = []

            async def raw_decode(i: int) -> None:
                request = local.server_request(prompts, arm.run.pauses[i])
                raw.extend(await asyncio.to_thread(local.run_raw_decode, engine, [request]))
                progress.update(engine_task, description="raw decode", completed=len(raw))

            server = asyncio.run(_server_arm(arm, plans, progress, task, raw_decode, root))
            phases.mark("server")
            progress.update(task, description="server arm")
            progress.reset(engine_task, total=len(server.pauses), description="naive arm")
            naive = local.run_naive(
                engine,
                server.pauses,
                max_tokens=settings.max_tokens,
                temperature=settings.temperature,
                on_done=lambda: progress.advance(engine_task),
            )
            phases.mark("naive")
            over_task = progress.add_task("overhead (5,000 lines)", total=options.overhead_keys)
            overhead = local.measure_overhead(
                engine,
                big_file,
                keys=options.overhead_keys,
                max_tokens=settings.max_tokens,
                temperature=settings.temperature,
                on_key=lambda: progress.advance(over_task),
                workspace_root=root,
                repo_tokens=settings.repo_context_tokens,
            )
            phases.mark("overhead")
        finally:
            engine.close()

    other = _other_cpu_share(cpu_start, cpu_sample())
    setup: dict[str, Any] = {
        "files": [plan.name for plan in plans],
        "keys_planned": keys_planned,
        "interval_ms": options.interval_ms,
        "read_ms": options.read_ms,
        "max_chars": options.max_chars,
        "model_name": model_path.name,
        "model_bytes": model_path.stat().st_size,
        "n_ctx": settings.context_size,
        "threads": engine.threads.describe(),
        "max_tokens": settings.max_tokens,
        "temperature": settings.temperature,
        "cpu_count": os.cpu_count(),
        "loadavg_1min_start": load_start,
        "other_cpu_share": other,
        "server_ready_s": round(server.ready_seconds, 2),
        "phase_s": phases.seconds,
        "phase_other_cpu_share": phases.other_cpu,
        "server_messages": [m for m in server.messages if "error" in m.lower()][:5],
    }
    report = build_report(
        server=server,
        naive=naive,
        raw_decode=raw,
        overhead=overhead,
        setup=setup,
        runtime_s=time.perf_counter() - started,
    )
    json_path = options.json_path or (
        settings.resolved_cache_dir() / "bench" / f"bench-{datetime.now():%Y%m%d-%H%M%S}.json"
    )
    write_private(json_path, json.dumps(report, indent=2) + "\n")
    report["json_path"] = str(json_path)
    out.print(render(report))
    if other is not None and other > BUSY_SHARE:
        out.print(
            f"[yellow]warning: other processes used {_share(other)} of the CPU during the run "
            f"(1-minute load average {load_start} at its start, {os.cpu_count()} cores): the "
            "timings are pessimistic[/yellow]"
        )
    for target in report["targets"]:
        out.print(f"{target['status']:<4}  {target['name']}  (value {target['value']})")
    out.print(f"JSON: {json_path}")
    return report


def _sync_bench(options: BenchOptions, keys: int, console: Console | None) -> dict[str, Any]:
    """The text-sync part alone (see :mod:`codesaga.bench.sync`)."""
    from codesaga.bench.sync import run_sync_bench
    from codesaga.settings import Settings

    text = big_python_file(_overhead_source(options.files), OVERHEAD_LINES)
    json_path = options.json_path or (
        Settings().resolved_cache_dir() / "bench" / f"sync-{datetime.now():%Y%m%d-%H%M%S}.json"
    )
    return run_sync_bench(keys, text, dict(os.environ), json_path, console)


def _index_bench(options: BenchOptions, files: int, console: Console | None) -> dict[str, Any]:
    """The workspace-index part alone (see :mod:`codesaga.bench.indexing`)."""
    from codesaga.bench.indexing import run_index_bench
    from codesaga.settings import Settings

    text = big_python_file(_overhead_source(options.files), OVERHEAD_LINES)
    json_path = options.json_path or (
        Settings().resolved_cache_dir() / "bench" / f"index-{datetime.now():%Y%m%d-%H%M%S}.json"
    )
    return run_index_bench(files, INDEX_KEYS, text, dict(os.environ), json_path, console)


def _shared_bench(options: BenchOptions, console: Console | None) -> dict[str, Any]:
    """The shared-engine load check alone (see :mod:`codesaga.bench.shared`)."""
    from codesaga.bench.shared import SharedSetup, run_shared_bench
    from codesaga.engine.probe import probe
    from codesaga.models import resolve
    from codesaga.settings import Settings

    settings = Settings()
    model = options.model or settings.model
    model_path = resolve(model, settings.resolved_cache_dir())
    engine_model = model_path.stem  # the alias `codesaga engine --model PATH` serves it as
    if options.engine_url:
        import httpx

        engine_model = settings.openai.model
        if not engine_model:
            with httpx.Client(timeout=10.0) as client:
                listed = probe(client, options.engine_url, "", ()).models
            if not listed:
                raise BenchError("the engine lists no model: set openai.model")
            engine_model = listed[0]
    setup = SharedSetup(
        model_path=model_path,
        engine_url=options.engine_url,
        engine_model=engine_model,
        interval_s=options.interval_ms / 1000.0,
        read_s=options.read_ms / 1000.0,
    )
    plans = plan_files(
        list(options.files) or default_files(), options.max_chars, options.start_fraction
    )
    json_path = options.json_path or (
        settings.resolved_cache_dir() / "bench" / f"shared-{datetime.now():%Y%m%d-%H%M%S}.json"
    )
    out = console or Console(width=None if sys.stdout.isatty() else 132)
    return run_shared_bench(setup, plans, options.clients, json_path, out)


def _contended_bench(options: BenchOptions, console: Console | None) -> dict[str, Any]:
    """The busy-machine check alone (see :mod:`codesaga.bench.contention`)."""
    from codesaga.bench.contention import ContentionSetup, run_contention_bench
    from codesaga.models import resolve
    from codesaga.settings import Settings

    settings = Settings()
    model_path = resolve(options.model or settings.model, settings.resolved_cache_dir())
    setup = ContentionSetup(model_path, options.interval_ms / 1000.0, options.read_ms / 1000.0)
    plans = plan_files(
        list(options.files) or default_files(), options.max_chars, options.start_fraction
    )
    json_path = options.json_path or (
        settings.resolved_cache_dir() / "bench" / f"contended-{datetime.now():%Y%m%d-%H%M%S}.json"
    )
    out = console or Console(width=None if sys.stdout.isatty() else 132)
    return run_contention_bench(setup, plans, json_path, out)


INDEX_KEYS = 200
"""Keystrokes timed while the workspace is indexed, and again after."""


class _Phases:
    """Wall seconds and the other processes' CPU share of each phase of the run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.other_cpu: dict[str, float | None] = {}
        self._wall = time.perf_counter()
        self._cpu = cpu_sample()

    def mark(self, name: str) -> None:
        """End the phase ``name`` (it began at the previous mark)."""
        wall, cpu = time.perf_counter(), cpu_sample()
        self.seconds[name] = round(wall - self._wall, 2)
        self.other_cpu[name] = _other_cpu_share(self._cpu, cpu)
        self._wall, self._cpu = wall, cpu


def _other_cpu_share(start: CpuSample | None, end: CpuSample | None) -> float | None:
    """Share of all cores' time (0 to 1) that other processes used between two readings."""
    busy = others_busy_cores(start, end)
    return None if busy is None else round(min(1.0, busy / (os.cpu_count() or 1)), 3)


def _share(value: float | None) -> str:
    return "an unknown share" if value is None else f"{value * 100:.0f} %"


def _loadavg() -> float | None:
    """The 1-minute load average (None where the platform has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


async def _server_arm(
    arm: ServerArm,
    plans: Sequence[TypingPlan],
    progress: Progress,
    task: Any,
    after_replay: Callable[[int], Awaitable[None]],
    root: Path | None,
) -> ServerRun:
    try:
        await arm.start(root=root)
        progress.update(task, description="server arm: typing")
        for plan in plans:
            await arm.type_file(plan, f"file:///codesaga-bench/{plan.name}")
        progress.update(task, description="server arm: decode replay")
        await arm.replay_pauses(after_replay)
        progress.update(task, description="server arm: stats")
        return await arm.finish()
    except BaseException:
        await arm.stop()
        raise
