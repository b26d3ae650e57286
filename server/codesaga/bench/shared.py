"""``codesaga bench --clients N,...``: several editor windows on one shared engine.

For each client count N, N ``codesaga serve`` processes with ``backend: openai`` type the same
plans into their own documents at once (key by key, like the main bench's server arm), all
asking one OpenAI-compatible engine: ``--engine URL``, or one this bench starts with
``codesaga engine`` for the same model. Beside them, in the same run, one in-process server
(``backend: llama``) types the same plans: the figures a single window gets without an
engine. Per client: pause latency p50/p95 and requests answered; per round: the engine's
throughput (completion tokens generated per second of the round, summed over the clients).

Then memory: three windows' servers on the shared engine (plus the engine, when this bench
started it) against three in-process servers, each after one suggestion (resident set size).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from codesaga.bench.live import BenchError, ServerArm, proc_status_bytes
from codesaga.bench.records import ServerRun
from codesaga.bench.script import TypingPlan, summary
from codesaga.files import write_private

MEMORY_WINDOWS = 3
ENGINE_START_SECONDS = 120.0


@dataclass(frozen=True)
class SharedSetup:
    """One run's fixed parts: the model (a path or registry name) for the in-process server
    and the engine this bench starts; the engine's URL and model name when one is given."""

    model_path: Path
    engine_url: str | None
    engine_model: str
    interval_s: float
    read_s: float


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_engine(
    model_path: Path,
    log_path: Path,
    *,
    port: int | None = None,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """``codesaga engine`` for ``model_path`` on loopback ``port`` (None: a free one) with
    more ``args`` and ``env`` (None: this one's), its output appended to ``log_path``, once it
    answers HTTP (200, or 401 when it wants an API key); the process and its ``/v1`` URL.
    Raises BenchError when it exits or does not answer in :data:`ENGINE_START_SECONDS`."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/v1"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "codesaga", "engine", "--model", str(model_path)]
            + ["--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + ENGINE_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"codesaga engine exited with {process.returncode}; see {log_path}")
        try:
            if httpx.get(f"{url}/models", timeout=1.0).status_code in (200, 401):
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise BenchError(f"codesaga engine did not answer in {ENGINE_START_SECONDS:.0f} s")


def server_arms(
    tmp: Path,
    label: str,
    n: int,
    model_path: Path,
    pace: tuple[float, float],
    **settings: str,
) -> list[ServerArm]:
    """``n`` bench servers named ``<label>-<n>-<i>``, each with this environment, a cache
    directory and a log of its own under ``tmp``, no config file, the model at
    ``model_path`` and ``settings`` (``CODESAGA_*`` variables) over them; ``pace`` is the
    typist's (seconds between keys, seconds from opening a file to its first key)."""
    arms = []
    for i in range(n):
        name = f"{label.replace(' ', '-')}-{n}-{i}"
        (tmp / name).mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            CODESAGA_CACHE_DIR=str(tmp / name / "cache"),
            CODESAGA_CONFIG=str(tmp / "no-config.toml"),
            CODESAGA_MODEL=str(model_path),
        )
        env.update(settings)
        interval_s, read_s = pace
        arms.append(ServerArm(env, interval_s, tmp / name / "server.log", read_s=read_s))
    return arms


def _arms(tmp: Path, label: str, n: int, setup: SharedSetup, url: str | None) -> list[ServerArm]:
    remote = (
        {}
        if url is None
        else {
            "CODESAGA_BACKEND": "openai",
            "CODESAGA_OPENAI__BASE_URL": url,
            "CODESAGA_OPENAI__MODEL": setup.engine_model,
        }
    )
    pace = (setup.interval_s, setup.read_s)
    return server_arms(tmp, label, n, setup.model_path, pace, **remote)


async def type_round(
    arms: Sequence[ServerArm], plans: Sequence[TypingPlan], *, rotate: bool = False
) -> tuple[list[ServerRun], float]:
    """All ``arms`` type ``plans`` at once, each into its own documents; their runs and the
    seconds the typing took. The arms are stopped at the end. ``rotate``: arm ``i`` starts at
    plan ``i`` (and wraps around), so that the arms do not pause at the same moments."""
    try:
        await asyncio.gather(*(arm.start() for arm in arms))
        started = time.perf_counter()

        async def type_all(i: int, arm: ServerArm) -> None:
            start = i % len(plans) if rotate else 0
            for plan in [*plans[start:], *plans[:start]]:
                await arm.type_file(plan, f"file:///codesaga-bench/client{i}/{plan.name}")

        await asyncio.gather(*(type_all(i, arm) for i, arm in enumerate(arms)))
        seconds = time.perf_counter() - started
        runs = await asyncio.gather(*(arm.finish() for arm in arms))
        return list(runs), seconds
    finally:
        await asyncio.gather(*(arm.stop() for arm in arms), return_exceptions=True)


def client_row(setup: str, clients: int, index: int, run: ServerRun) -> dict[str, Any]:
    """One typing client's figures: pauses (answered, with a suggestion), pause latency
    p50/p95 in milliseconds, the share of keys answered before the next key, errors and the
    completion tokens its server generated."""
    pauses = [r for r in run.requests if r.kind == "pause"]
    lat = summary([s * 1000 for r in pauses if (s := r.result_seconds) is not None])
    keyed = [r for r in run.requests if r.kind != "pause" and r.next_key is not None]
    return {
        "setup": setup,
        "clients": clients,
        "client": index + 1,
        "pauses": len(pauses),
        "pauses_answered": sum(1 for r in pauses if r.outcome == "result"),
        "pauses_with_suggestion": sum(1 for r in pauses if r.text),
        "pause_p50_ms": lat["p50_ms"],
        "pause_p95_ms": lat["p95_ms"],
        "keys_answered_before_next": round(
            sum(r.answered_before_next_key for r in keyed) / len(keyed), 3
        )
        if keyed
        else None,
        "errors": sum(1 for r in run.requests if r.outcome == "error"),
        "completion_tokens": int((run.stats.get("tokens") or {}).get("completion", 0)),
    }


async def _memory(
    tmp: Path, setup: SharedSetup, plan: TypingPlan, url: str | None
) -> list[int | None]:
    """Resident bytes of :data:`MEMORY_WINDOWS` servers (in-process when ``url`` is None),
    each after one suggestion at the end of ``plan.head``."""
    arms = _arms(tmp, "memory-shared" if url else "memory-local", MEMORY_WINDOWS, setup, url)
    try:
        for arm in arms:  # one at a time: three model loads at once would be a bench of disk
            await arm.start()
        rss = []
        for i, arm in enumerate(arms):
            await arm.suggest_once(plan, f"file:///codesaga-bench/memory{i}/{plan.name}")
            pid = arm.pid()
            rss.append(proc_status_bytes(pid, "VmRSS") if pid is not None else None)
        return rss
    finally:
        await asyncio.gather(*(arm.stop() for arm in arms), return_exceptions=True)


def run_shared_bench(
    setup: SharedSetup,
    plans: Sequence[TypingPlan],
    clients: Sequence[int],
    json_path: Path,
    console: Console,
) -> dict[str, Any]:
    """Run the rounds and the memory check (see the module's text); print the tables, write
    the JSON report to ``json_path`` and return it. Raises BenchError when a server or the
    engine cannot be used."""
    rows: list[dict[str, Any]] = []
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="codesaga-bench-shared-") as name:
        tmp = Path(name)
        engine: subprocess.Popen[bytes] | None = None
        url = setup.engine_url
        try:
            if url is None:
                console.print(f"starting codesaga engine for {setup.model_path.name}")
                engine, url = start_engine(setup.model_path, tmp / "engine.log")
            for label, n, target in [
                ("in-process", 1, None),
                *(("shared", n, url) for n in clients),
            ]:
                console.print(f"round: {label}, {n} client(s)")
                runs, seconds = asyncio.run(type_round(_arms(tmp, label, n, setup, target), plans))
                client_rows = [client_row(label, n, i, run) for i, run in enumerate(runs)]
                rows.extend(client_rows)
                tokens = sum(r["completion_tokens"] for r in client_rows)
                rounds.append(
                    {
                        "setup": label,
                        "clients": n,
                        "seconds": round(seconds, 2),
                        "completion_tokens": tokens,
                        "tokens_per_s": round(tokens / seconds, 2) if seconds > 0 else None,
                    }
                )
            console.print(f"memory: {MEMORY_WINDOWS} windows")
            local = asyncio.run(_memory(tmp, setup, plans[0], None))
            shared = asyncio.run(_memory(tmp, setup, plans[0], url))
            engine_rss = proc_status_bytes(engine.pid, "VmRSS") if engine is not None else None
        finally:
            if engine is not None:
                engine.terminate()
                try:
                    engine.wait(10)
                except subprocess.TimeoutExpired:
                    engine.kill()
    memory = {
        "windows": MEMORY_WINDOWS,
        "in_process_bytes": local,
        "shared_servers_bytes": shared,
        "engine_bytes": engine_rss,
        "in_process_total_bytes": _total(local),
        "shared_total_bytes": _total([*shared, engine_rss]),
    }
    report = {
        "engine": setup.engine_url or "started by the bench (codesaga engine)",
        "engine_model": setup.engine_model,
        "model": setup.model_path.name,
        "cpu_count": os.cpu_count(),
        "clients": rows,
        "rounds": rounds,
        "memory": memory,
    }
    write_private(json_path, json.dumps(report, indent=2) + "\n")
    console.print(_tables(report))
    console.print(f"JSON: {json_path}")
    return report


def _total(values: Sequence[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _mib(value: int | None) -> str:
    return "?" if value is None else f"{value / 2**20:.0f} MiB"


def _tables(report: dict[str, Any]) -> Table:
    table = Table(title=f"Shared engine: pause latency per client ({report['model']})")
    for column in ("setup", "clients", "client", "pauses answered", "p50 ms", "p95 ms"):
        table.add_column(column, justify="right" if column != "setup" else "left")
    table.add_column("keys answered before next", justify="right")
    table.add_column("engine tok/s", justify="right")
    per_round = {(r["setup"], r["clients"]): r for r in report["rounds"]}
    for row in report["clients"]:
        round_ = per_round[(row["setup"], row["clients"])]
        table.add_row(
            row["setup"],
            str(row["clients"]),
            str(row["client"]),
            f"{row['pauses_answered']}/{row['pauses']}",
            str(row["pause_p50_ms"]),
            str(row["pause_p95_ms"]),
            str(row["keys_answered_before_next"]),
            str(round_["tokens_per_s"]) if row["client"] == 1 else "",
        )
    memory = report["memory"]
    table.caption = (
        f"{memory['windows']} windows: in-process {_mib(memory['in_process_total_bytes'])} "
        f"({', '.join(_mib(v) for v in memory['in_process_bytes'])}); shared engine "
        f"{_mib(memory['shared_total_bytes'])} (servers "
        f"{', '.join(_mib(v) for v in memory['shared_servers_bytes'])}, engine "
        f"{_mib(memory['engine_bytes'])})"
    )
    return table
