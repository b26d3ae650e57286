"""Unit tests of the pure parts of ``codesaga bench``, the stats records and the stats command.

The bench itself (a real server, the real model) runs in tests/e2e/test_bench.py.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from concurrent.futures import Future
from pathlib import Path

import pytest
from lsprotocol import types
from lsprotocol.types import Position
from rich.console import Console

from codesaga.bench import plan_files
from codesaga.bench.live import BenchError, ServerArm, proc_peak_rss
from codesaga.bench.local import (
    STAGES,
    Completion,
    DecodeSample,
    Overhead,
    measure_overhead,
    server_request,
)
from codesaga.bench.records import PausePoint, Request, ServerRun
from codesaga.bench.report import TARGETS, build_report, targets
from codesaga.bench.script import (
    Key,
    TypingPlan,
    advance,
    big_python_file,
    end_position,
    keystrokes,
    middle_typing,
    next_key,
    percentile,
    plan_typing,
    ratio,
    summary,
)
from codesaga.bench.sync import SyncRun, measure_sync, render_sync, run_sync_bench, sync_report
from codesaga.bench.table import render
from codesaga.bench.typist import _first_item
from codesaga.cli import build_parser
from codesaga.completion import Completer
from codesaga.completion.prompt import PromptBuilder
from codesaga.documents import DocumentStore
from codesaga.errors import Superseded
from codesaga.lsp import create_server
from codesaga.lsp.stats import STATS_COMMAND, _proc_status, memory
from codesaga.scheduler import Scheduler
from codesaga.stats import MAX_GENERATION_RECORDS, DecodeClock, Stats
from codesaga.syntax.scopes import has_errors

from .fakes import FakeEngine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


# ----- percentiles ---------------------------------------------------------------------------


def test_percentile_interpolates_between_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 50) == 2.5
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 95) == pytest.approx(3.85)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None


def test_percentile_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    with pytest.raises(ValueError):
        percentile([1.0], -1)


def test_summary_and_ratio() -> None:
    assert summary([10.0, 20.0, 30.0]) == {
        "n": 3,
        "p50_ms": 20.0,
        "p95_ms": 29.0,
        "mean_ms": 20.0,
        "max_ms": 30.0,
    }
    assert summary([]) == {"n": 0, "p50_ms": None, "p95_ms": None, "mean_ms": None, "max_ms": None}
    assert ratio(1.0, 4.0) == 0.25
    assert ratio(None, 4.0) is None
    assert ratio(1.0, 0.0) is None


# ----- keystrokes ----------------------------------------------------------------------------


def test_enter_carries_the_indent_and_pauses_before_code() -> None:
    typed = "\n    x = 1\n\n    y"
    keys = list(keystrokes(typed))
    assert [typed[k.start : k.end] for k in keys] == [
        "\n    ",
        "x",
        " ",
        "=",
        " ",
        "1",
        "\n",
        "\n    ",
        "y",
    ]
    assert [k.pause for k in keys] == [True, False, False, False, False, False, False, True, False]
    assert keys[-1].end == len(typed)


def test_blank_line_with_whitespace_is_one_key_without_pause() -> None:
    typed = "\n   \n  z"
    assert next_key(typed, 0) == Key(0, 4, False)
    assert next_key(typed, 4) == Key(4, 7, True)
    with pytest.raises(ValueError):
        next_key(typed, len(typed))


def test_plan_typing_cuts_whole_lines_within_budget() -> None:
    text = "\n".join(f"line_{i} = {i}" for i in range(10)) + "\n"
    plan = plan_typing("a.py", "python", text, max_keys=25, start_fraction=0.4)
    assert plan.head == "\n".join(f"line_{i} = {i}" for i in range(4))
    assert plan.typed == "\nline_4 = 4\nline_5 = 5"  # 11 keys a line: a third does not fit
    assert (plan.head + plan.typed) in text
    assert plan.keys == 22
    # at least one line, even over budget
    assert plan_typing("a.py", "python", text, max_keys=1).typed == "\nline_4 = 4"
    # ... and at least one with code
    gappy = "a = 1\nb = 2\n\n\nc = 3\nd = 4\n"
    assert plan_typing("a.py", "python", gappy, max_keys=1, start_fraction=0.3).typed == (
        "\n\n\nc = 3"
    )
    with pytest.raises(ValueError):
        plan_typing("a.py", "python", text, max_keys=0)
    with pytest.raises(ValueError):
        plan_typing("a.py", "python", text, max_keys=5, start_fraction=1.0)


def test_plan_files_splits_the_budget_and_strips_markers() -> None:
    paths = [FIXTURES / "inventory.py", FIXTURES / "cart.ts"]
    plans = plan_files(paths, max_chars=100, start_fraction=0.4)
    assert [p.name for p in plans] == ["inventory.py", "cart.ts"]
    assert [p.language_id for p in plans] == ["python", "typescript"]
    for plan in plans:
        assert "<CURSOR>" not in plan.head + plan.typed
        assert plan.typed.startswith("\n")
        assert plan.keys >= 1


def test_positions_count_utf16_units() -> None:
    assert end_position("ab\n한글😀") == Position(line=1, character=4)
    assert advance(Position(line=3, character=2), "가😀") == Position(line=3, character=5)
    assert advance(Position(line=3, character=2), "x\n  한") == Position(line=4, character=3)


# ----- the 5,000-line file -------------------------------------------------------------------


def test_big_python_file_has_exact_lines_and_parses() -> None:
    source = (FIXTURES / "inventory.py").read_text(encoding="utf-8").replace("<CURSOR>", "None")
    text = big_python_file(source, 5000)
    assert text.count("\n") == 5000
    assert "class Inventory_2:" in text and "class Item_3:" in text
    assert text.count("\nimport json\n") == 1  # the head once
    doc = DocumentStore().open("file:///big.py", "python", 1, text)
    assert doc.tree is not None and not has_errors(doc.tree)
    small = big_python_file("def f():\n    return 1\n", 7)
    assert small.count("\n") == 7
    with pytest.raises(ValueError):
        big_python_file("x = 1\n", 10)


# ----- stats records -------------------------------------------------------------------------


def test_decode_clock_times_first_to_last_piece() -> None:
    clock = DecodeClock()
    assert (clock.decode_tokens, clock.decode_seconds) == (0, 0.0)
    clock.piece("a")
    clock.piece("")  # empty pieces are no tokens
    assert (clock.decode_tokens, clock.decode_seconds) == (0, 0.0)
    clock.piece("b")
    clock.piece("c")
    assert clock.decode_tokens == 2
    assert clock.first is not None and clock.last is not None
    assert clock.decode_seconds == clock.last - clock.first >= 0.0


def test_generation_records_are_bounded_and_in_the_snapshot() -> None:
    stats = Stats()
    for i in range(MAX_GENERATION_RECORDS + 5):
        stats.generation(
            prompt_tokens=100 + i,
            reused_tokens=90,
            completion_tokens=3,
            seconds=0.25,
            cancelled=False,
        )
    snap = stats.snapshot()
    records = snap["generations"]
    assert len(records) == MAX_GENERATION_RECORDS
    assert records[0]["prompt_tokens"] == 105  # the oldest went first
    assert records[-1]["evaluated_tokens"] == records[-1]["prompt_tokens"] - 90
    assert set(records[0]) == {
        "prompt_tokens",
        "reused_tokens",
        "evaluated_tokens",
        "completion_tokens",
        "seconds",
        "decode_tokens",
        "decode_seconds",
        "cancelled",
    }
    json.dumps(snap)


async def test_pipeline_records_each_generation_cancelled_ones_too() -> None:
    stats = Stats()
    engine = FakeEngine(answer="total")
    scheduler = Scheduler()
    completer = Completer(engine, scheduler, None, max_tokens=16, temperature=0.0, stats=stats)
    doc = DocumentStore().open("file:///a.py", "python", 1, "def f():\n    return ")
    await completer.complete(doc, doc.offset_at(Position(line=1, character=11)))
    [record] = list(stats.generations)
    assert record["cancelled"] is False and record["completion_tokens"] == 1

    blocking = FakeEngine(block=True)
    completer = Completer(blocking, scheduler, None, max_tokens=16, temperature=0.0, stats=stats)
    task = asyncio.ensure_future(completer.complete(doc, len(doc.text)))
    await asyncio.to_thread(blocking.started.wait, 5)
    task.cancel()
    with pytest.raises((asyncio.CancelledError, Superseded)):
        await task
    for _ in range(200):  # the model thread records it once the generation has stopped
        if len(stats.generations) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(stats.generations) == 2 and stats.generations[1]["cancelled"] is True
    scheduler.shutdown()


def test_memory_and_proc_status(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmHWM:\t  2048 kB\nVmRSS:\t1024 kB\nThreads:\t4\n")
    assert _proc_status(status) == {"VmHWM": 2048 * 1024, "VmRSS": 1024 * 1024}
    assert _proc_status(tmp_path / "missing") == {}
    mem = memory()
    assert isinstance(mem["peak_rss_bytes"], int) and mem["peak_rss_bytes"] > 0
    if Path("/proc/self/status").exists():
        assert isinstance(mem["rss_bytes"], int)
        peak = proc_peak_rss(int(mem["pid"] or 0))
        assert peak is not None and peak > 0


def test_stats_command_is_registered() -> None:
    server = create_server()
    assert STATS_COMMAND in server.protocol.fm.commands


# ----- in-process arms with a fake engine ----------------------------------------------------


def test_overhead_times_every_stage_on_a_big_file() -> None:
    source = (FIXTURES / "inventory.py").read_text(encoding="utf-8").replace("<CURSOR>", "None")
    text = big_python_file(source, 5000)
    result = measure_overhead(FakeEngine(), text, keys=12, max_tokens=32, temperature=0.0)
    assert result.lines == 5000
    assert set(result.stages_ms) == set(STAGES)
    assert all(len(v) == 12 for v in result.stages_ms.values())
    assert len(result.total_ms) == len(result.pipeline_ms) == 12
    assert all(t >= 0.0 for t in result.total_ms)


def test_server_request_rebuilds_the_completion_prompt() -> None:
    prompts = PromptBuilder(FakeEngine(), max_tokens=40, temperature=0.1)
    text = "def f(x):\n    "
    pause = PausePoint("a.py", "python", text, len(text), end_position(text))
    request = server_request(prompts, pause)
    doc = DocumentStore().open("file:///a.py", "python", 1, text)
    assert request.prompt == prompts.prompt_for(prompts.context_at(doc, len(text)))
    assert request.temperature == 0.1 and 1 <= request.max_tokens <= 40


# ----- the report ----------------------------------------------------------------------------


def _request(kind: str, sent: float, done: float, nxt: float | None, **kw: object) -> Request:
    r = Request(kind=kind, sent=sent, done=done, next_key=nxt, outcome="result")
    for key, value in kw.items():
        setattr(r, key, value)
    return r


def _sample_report() -> dict[str, object]:
    run = ServerRun(
        requests=[
            _request("pause", 0.0, 0.5, 0.6, text="x = 1", source="model"),
            _request("key", 0.6, 0.602, 0.66, text="= 1", source="type-through"),
            _request("key", 0.66, 0.9, 0.72, outcome="cancelled", cancel_sent=True),
            _request("key", 0.72, 0.73, 0.78, text=""),
            _request("key", 0.78, 0.8, None, text="1", source="cache"),
        ],
        accepted=1,
        accepted_chars=5,
        keys_typed=4,
        stats={
            "counts": {"model": 2, "type-through": 1, "cache": 1, "cancelled": 1},
            "latency": {"model": {"n": 2, "p50_ms": 400.0, "p95_ms": 500.0}},
            "generations": [
                {
                    "prompt_tokens": 100,
                    "reused_tokens": 90,
                    "completion_tokens": 5,
                    "decode_tokens": 4,
                    "decode_seconds": 0.08,
                    "cancelled": False,
                },
                {
                    "prompt_tokens": 101,
                    "reused_tokens": 100,
                    "completion_tokens": 1,
                    "decode_tokens": 0,
                    "decode_seconds": 0.0,
                    "cancelled": True,
                },
            ],
            "memory": {"rss_bytes": 400 * 2**20, "peak_rss_bytes": 450 * 2**20},
        },
        peak_rss_bytes=460 * 2**20,
    )
    overhead = Overhead(lines=5000)
    for stage in STAGES:
        overhead.stages_ms[stage] = [0.5, 1.0]
    overhead.total_ms = [3.0, 6.0]
    overhead.pipeline_ms = [3.5, 6.5]
    return build_report(
        server=run,
        naive=[Completion(1.0, 120, 0, 5, 10), Completion(0.8, 130, 120, 5, 10)],
        raw_decode=[DecodeSample(4, 0.06, 5)],
        overhead=overhead,
        setup={"model_bytes": 250 * 2**20, "model_name": "m.gguf"},
        runtime_s=12.34,
    )


def test_pauses_answered_with_an_error_are_no_latency_and_are_counted() -> None:
    run = ServerRun(
        requests=[
            _request("pause", 0.0, 0.5, None, text="x = 1", source="model"),
            _request("pause", 1.0, 1.001, None, outcome="error"),
            _request("pause", 2.0, 2.002, None, outcome="error"),
        ],
        replay_errors=2,
    )
    report = build_report(
        server=run,
        naive=[Completion(1.0, 120, 0, 5, 10)] * 3,
        raw_decode=[],
        overhead=Overhead(lines=5000),
        setup={"model_bytes": 250 * 2**20, "model_name": "m.gguf"},
        runtime_s=1.0,
    )
    lat = report["latency_at_pauses"]
    assert isinstance(lat, dict) and lat["server"]["n"] == 1 and lat["server"]["p50_ms"] == 500.0
    keys, decode = report["keystrokes"], report["decode"]
    assert isinstance(keys, dict) and keys["outcomes"]["error"] == 2
    assert isinstance(decode, dict) and decode["replay_errors"] == 2
    out = io.StringIO()
    Console(file=out, width=200).print(render(report))
    assert "2 / 2" in out.getvalue()  # the errors row: typing / decode replay


def test_each_files_first_pause_is_reported_apart() -> None:
    def point(name: str) -> PausePoint:
        return PausePoint(name, "python", "x", 1, Position(line=0, character=1))

    run = ServerRun(
        requests=[
            _request("pause", 0.0, 0.3, None),  # a.py, first
            _request("key", 0.3, 0.31, 0.36),
            _request("pause", 1.0, 1.05, None),  # a.py
            _request("pause", 2.0, 2.2, None),  # b.py, first
            _request("pause", 3.0, 3.001, None, outcome="error"),  # b.py: no latency
            _request("pause", 4.0, 4.01, None),  # b.py
        ],
        pauses=[point("a.py"), point("a.py"), point("b.py"), point("b.py"), point("b.py")],
    )
    naive = [Completion(s, 100, 0, 5, 10) for s in (0.5, 0.1, 0.4, 0.1, 0.1)]
    report = build_report(
        server=run,
        naive=naive,
        raw_decode=[],
        overhead=Overhead(lines=5000),
        setup={"model_bytes": 1, "read_ms": 1000.0},
        runtime_s=1.0,
    )
    lat = report["latency_at_pauses"]
    assert isinstance(lat, dict)
    assert (lat["server_first"]["n"], lat["server_first"]["max_ms"]) == (2, 300.0)
    assert lat["server_first"]["p50_ms"] == 250.0
    assert (lat["naive_first"]["n"], lat["naive_first"]["p50_ms"]) == (2, 450.0)
    assert (lat["server_warm"]["n"], lat["server_warm"]["max_ms"]) == (2, 50.0)
    out = io.StringIO()
    Console(file=out, width=240).print(render(report))
    drawn = out.getvalue()
    assert "first pause p50 / max (n=2)" in drawn and "250.0 ms / 300.0 ms" in drawn
    assert "1000.0 ms after opening" in drawn


def test_report_has_every_figure() -> None:
    report = _sample_report()
    lat = report["latency_at_pauses"]
    assert isinstance(lat, dict)
    assert lat["server"]["p50_ms"] == 500.0
    assert lat["naive"]["p50_ms"] == 900.0
    assert lat["ratio_p50"] == pytest.approx(0.556, abs=1e-3)
    keys = report["keystrokes"]
    assert isinstance(keys, dict)
    # the last key has no next key, the pause is counted apart: 3 requests, 2 answered in time
    assert keys["requests"] == 3 and keys["answered_before_next_key"] == 2
    assert keys["with_suggestion_before_next_key"] == 1
    assert keys["outcomes"] == {"result": 4, "cancelled": 1, "error": 0, "pending": 0}
    hits = report["hits"]
    assert isinstance(hits, dict)
    assert (hits["cache"], hits["type_through"], hits["model"]) == (1, 1, 2)
    assert hits["hits_client"]["n"] == 2
    tokens = report["prompt_tokens"]
    assert isinstance(tokens, dict)
    assert tokens["server"]["requests"] == 1 and tokens["server"]["evaluated_mean"] == 10.0
    assert tokens["server_all_generations"]["requests"] == 2
    assert tokens["naive"]["reused_mean"] == 60.0
    decode = report["decode"]
    assert isinstance(decode, dict)
    assert decode["server_tokens_per_s"] == 50.0
    assert decode["raw_tokens_per_s"] == pytest.approx(66.7)
    [pause] = report["pauses"]
    assert pause["server_ms"] == 500.0 and pause["naive_ms"] == 1000.0
    assert pause["server_source"] == "model" and pause["naive_evaluated_tokens"] == 120
    assert report["memory"] == {
        "server_peak_rss_bytes": 460 * 2**20,
        "server_rss_bytes_at_end": 400 * 2**20,
        "model_bytes": 250 * 2**20,
        "budget_bytes": 550 * 2**20,
    }
    json.dumps(report)


def test_targets_pass_fail_and_missing_data() -> None:
    report = _sample_report()
    status = {t["key"]: t["status"] for t in targets(report)}
    assert len(status) == len(TARGETS)
    assert status["latency_p50_ratio"] == "PASS"  # 0.56 <= 0.7
    assert status["latency_p95_to_naive_p50"] == "PASS"
    assert status["answered_share"] == "PASS"  # 2 of 3
    assert status["overhead_p95_ms"] == "PASS"  # 6.35 ms
    assert status["decode_ratio"] == "FAIL"  # 50 / 66.7
    assert status["peak_rss_over_budget"] == "PASS"
    empty = build_report(
        server=ServerRun(),
        naive=[],
        raw_decode=[],
        overhead=Overhead(lines=5000),
        setup={"model_bytes": 1},
        runtime_s=0.0,
    )
    assert {t["status"] for t in empty["targets"]} == {"N/A"}


def test_render_draws_every_row() -> None:
    buffer = io.StringIO()
    Console(file=buffer, width=200).print(render(_sample_report()))
    drawn = buffer.getvalue()
    for label in ("latency at pauses p50", "decode tokens/s", "server peak RSS", "change"):
        assert label in drawn
    assert "PASS" in drawn and "FAIL" in drawn


def test_first_item_reads_text_and_source() -> None:
    item = types.InlineCompletionItem(
        insert_text="abc",
        command=types.Command(title="t", command="c", arguments=["type-through", 3]),
    )
    assert _first_item(types.InlineCompletionList(items=[item])) == ("abc", "type-through")
    assert _first_item(types.InlineCompletionList(items=[])) == ("", None)
    assert _first_item(None) == ("", None)


def test_cli_bench_flags() -> None:
    args = build_parser().parse_args(["bench"])
    assert (args.files, args.interval_ms, args.read_ms, args.max_chars, args.json) == (
        [],
        60.0,
        1000.0,
        1200,
        None,
    )
    args = build_parser().parse_args(
        ["bench", "a.py", "--interval-ms", "30", "--read-ms", "0", "--max-chars", "50"]
        + ["--json", "out.json"]
    )
    assert (args.files, args.interval_ms, args.read_ms, args.max_chars, args.json) == (
        ["a.py"],
        30.0,
        0.0,
        50,
        "out.json",
    )


class FailingServer:
    """Stands in for the LSP client of a server whose every completion fails."""

    def __init__(self) -> None:
        self.opened = 0
        self.closed = 0

    def text_document_did_open(self, params: object) -> None:
        self.opened += 1

    def text_document_did_close(self, params: object) -> None:
        self.closed += 1

    async def text_document_inline_completion_async(self, params: object) -> object:
        raise RuntimeError("internal error")

    async def workspace_execute_command_async(self, params: object) -> object:
        return {"counts": {"generations": 7}}  # a failed generation leaves no record


class TypedInto:
    """Stands in for the LSP client of a server that answers every completion at once with
    no item; records when the document was opened and changed."""

    def __init__(self) -> None:
        self.opened_at = 0.0
        self.changed_at: list[float] = []
        self.protocol = self

    def text_document_did_open(self, params: object) -> None:
        self.opened_at = time.perf_counter()

    def text_document_did_change(self, params: object) -> None:
        self.changed_at.append(time.perf_counter())

    def text_document_did_close(self, params: object) -> None:
        pass

    def send_request(self, method: str, params: object, msg_id: str) -> Future[object]:
        future: Future[object] = Future()
        future.set_result(None)
        return future


@pytest.mark.parametrize("read_s", [0.0, 0.3])
async def test_the_first_key_comes_read_s_after_opening(tmp_path: Path, read_s: float) -> None:
    arm = ServerArm({}, 0.01, tmp_path / "server.log", read_s=read_s)
    fake = TypedInto()
    arm.client = fake  # type: ignore[assignment]
    await arm.type_file(TypingPlan("a.py", "python", "x = 1", "\nab"), "file:///a.py")
    assert len(fake.changed_at) == 3 and arm.run.keys_typed == 3
    waited = fake.changed_at[0] - fake.opened_at
    assert read_s <= waited < read_s + 0.2


class Suggesting(TypedInto):
    """Like :class:`TypedInto`, but every completion is answered with ``suggestion``; records
    the inserted texts and the commands run."""

    def __init__(self, suggestion: str) -> None:
        super().__init__()
        self.suggestion = suggestion
        self.inserted: list[str] = []
        self.commands: list[tuple[str, list[object] | None]] = []

    def text_document_did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        super().text_document_did_change(params)
        self.inserted.extend(change.text for change in params.content_changes)

    def send_request(self, method: str, params: object, msg_id: str) -> Future[object]:
        item = types.InlineCompletionItem(
            insert_text=self.suggestion,
            command=types.Command(
                title="accept", command="codesaga.acceptInlineCompletion", arguments=["cache"]
            ),
        )
        future: Future[object] = Future()
        future.set_result(types.InlineCompletionList(items=[item]))
        return future

    async def workspace_execute_command_async(self, params: types.ExecuteCommandParams) -> object:
        self.commands.append((params.command, params.arguments))
        return None


async def test_a_suggestion_at_a_pause_that_matches_the_typing_is_accepted(
    tmp_path: Path,
) -> None:
    keys: list[int] = []
    arm = ServerArm({}, 0.001, tmp_path / "server.log", on_key=keys.append)
    fake = Suggesting("ab = 2")
    arm.client = fake  # type: ignore[assignment]
    await arm.type_file(TypingPlan("a.py", "python", "x = 1", "\nab = 2\ny"), "file:///a.py")
    # Enter (a pause), the suggestion accepted whole (one edit and its command), then Enter
    # (another pause, whose suggestion does not match "y") and "y"
    assert fake.inserted == ["\n", "ab = 2", "\n", "y"]
    assert fake.commands == [("codesaga.acceptInlineCompletion", ["cache", 6])]
    assert (arm.run.accepted, arm.run.accepted_chars, arm.run.keys_typed) == (1, 6, 3)
    assert sum(keys) == 9 and keys.count(6) == 1  # 3 keys typed, 6 spared
    assert [r.kind for r in arm.run.requests] == ["pause", "accept", "pause", "key"]
    assert all(r.outcome == "result" and r.source == "cache" for r in arm.run.requests)
    assert [(p.offset, p.position) for p in arm.run.pauses] == [
        (6, Position(line=1, character=0)),
        (13, Position(line=2, character=0)),
    ]


async def test_the_decode_replay_does_not_wait_for_generations_that_failed(tmp_path: Path) -> None:
    arm = ServerArm({}, 0.06, tmp_path / "server.log")
    fake = FailingServer()
    arm.client = fake  # type: ignore[assignment]
    text = "def f():\n    "
    point = PausePoint("a.py", "python", text, len(text), Position(line=1, character=4))
    arm.run.pauses = [point, point, point]
    replayed: list[int] = []

    async def after_each(i: int) -> None:
        replayed.append(i)

    # before, each pause waited PAUSE_TIMEOUT_SECONDS (120 s) for a record that never came
    await asyncio.wait_for(arm.replay_pauses(after_each), 30)
    assert arm.run.replay_errors == 3 and arm.run.replay_generations == 0
    assert replayed == []  # nor does the raw arm decode what the server did not
    assert fake.opened == fake.closed == 3


# ----- text sync (--sync-keys) ---------------------------------------------------------------


def test_middle_typing_retypes_the_lines_after_a_def() -> None:
    source = (FIXTURES / "inventory.py").read_text(encoding="utf-8").replace("<CURSOR>", "None")
    text = big_python_file(source, 5000)
    cursor, typed = middle_typing(text)
    lines = text.split("\n")
    assert cursor.line >= 2500 and lines[cursor.line].lstrip().startswith("def ")
    assert cursor.character == len(lines[cursor.line])
    assert typed == "\n" + "\n".join(lines[cursor.line + 1 : cursor.line + 40])
    assert middle_typing("a\nb\nc\n", 1) == (Position(line=2, character=1), "\n")


class SyncClient:
    """Stands in for the LSP client of ``--sync-keys``: applies the changes to a DocumentStore
    and answers ``codesaga.stats`` at once, recording the order of the messages."""

    def __init__(self) -> None:
        self.store = DocumentStore()
        self.log: list[str] = []

    def text_document_did_open(self, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        self.store.open(doc.uri, doc.language_id, doc.version, doc.text)
        self.log.append("open")

    def text_document_did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        doc = params.text_document
        self.store.change(doc.uri, doc.version, params.content_changes)
        self.log.append("change")

    def text_document_did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        self.log.append("close")

    async def workspace_execute_command_async(self, params: types.ExecuteCommandParams) -> object:
        assert params.command == STATS_COMMAND and params.arguments == ["counts"]
        self.log.append("stats")
        return {"counts": {}}


async def test_measure_sync_types_into_the_middle_and_times_each_key(tmp_path: Path) -> None:
    text = big_python_file((FIXTURES / "inventory.py").read_text(encoding="utf-8"), 300)
    arm = ServerArm({}, 0.0, tmp_path / "server.log")
    fake = SyncClient()
    arm.client = fake  # type: ignore[assignment]
    cursor, typed = middle_typing(text)
    keys = sum(1 for _ in keystrokes(typed)) + 3  # the lines are typed again from the start
    run = await measure_sync(arm, text, keys)
    assert run.lines == 300 and len(run.keys_ms) == len(run.request_ms) == keys
    assert all(ms >= 0.0 for ms in run.keys_ms + run.request_ms)
    # open, stats; then per key: change, stats (the keystroke), stats (the request alone)
    assert fake.log == ["open", "stats", *["change", "stats", "stats"] * keys, "close"]
    first_three = "".join(typed[k.start : k.end] for k in list(keystrokes(typed))[:3])
    offset = sum(len(line) + 1 for line in text.split("\n")[: cursor.line]) + cursor.character
    expected = text[:offset] + typed + first_three + text[offset:]
    assert fake.store.get("file:///codesaga-bench/sync/inventory.py").text == expected


async def test_measure_sync_fails_clearly_when_the_server_does_not_answer(tmp_path: Path) -> None:
    class Silent(SyncClient):
        async def workspace_execute_command_async(self, params: object) -> object:
            raise RuntimeError("gone")

    arm = ServerArm({}, 0.0, tmp_path / "server.log")
    arm.client = Silent()  # type: ignore[assignment]
    with pytest.raises(BenchError, match="codesaga.stats"):
        await measure_sync(arm, "def f():\n    return 1\n", 2)


def test_sync_report_and_table() -> None:
    run = SyncRun(lines=5000, keys_ms=[1.0, 2.0, 3.0], request_ms=[0.5, 0.5, 0.75])
    report = sync_report(run)
    assert report["lines"] == 5000 and report["keystrokes"] == 3
    assert report["keystroke"]["p50_ms"] == 2.0 and report["keystroke"]["p95_ms"] == 2.9
    assert report["request_alone"]["p50_ms"] == 0.5
    assert report["change_p50_ms"] == 1.5
    console = Console(file=io.StringIO(), width=120)
    console.print(render_sync(report))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "3 keystrokes, 5000-line file" in out and "2.90" in out and "1.50" in out
    assert sync_report(SyncRun(lines=1))["change_p50_ms"] is None


def test_run_sync_bench_needs_a_key(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="at least 1"):
        run_sync_bench(0, "x = 1\n", {}, tmp_path / "sync.json")


def test_cli_sync_keys_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert build_parser().parse_args(["bench"]).sync_keys is None
    args = build_parser().parse_args(["bench", "--sync-keys", "300", "--json", "s.json"])
    assert (args.sync_keys, args.json) == (300, "s.json")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "--help"])
    assert "--sync-keys N" in capsys.readouterr().out
