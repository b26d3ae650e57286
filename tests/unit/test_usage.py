"""Usage kept as local metadata: the store, the batched recorder, the summary, ``codesaga
stats``. No model."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import stat
import time
from pathlib import Path

import pytest

from codesaga import cli
from codesaga.errors import Superseded
from codesaga.settings import Settings
from codesaga.stats import Stats
from codesaga.usage import USAGE_FILE, UsageRecorder, UsageRow, UsageStore, measuring, summarize
from codesaga.usage.report import parse_since
from codesaga.usage.store import read_rows

DAY = 86400.0


def row(n: int, **fields: object) -> UsageRow:
    """A row with defaults a test overrides."""
    values: dict[str, object] = {
        "id": f"r{n}",
        "at": time.time(),
        "feature": "inline",
        "language": "python",
        "model": "gemma.gguf",
        "source": "model",
        "latency_ms": float(n),
        "shown": True,
    }
    values.update(fields)
    return UsageRow(**values)  # type: ignore[arg-type]


def recorder(path: Path, days: int = 30, **options: float) -> UsageRecorder:
    rec = UsageRecorder(**options)  # type: ignore[arg-type]
    rec.configure(path, days)
    return rec


# ----- the file -----------------------------------------------------------------------------


def test_file_and_directory_are_private(tmp_path: Path) -> None:
    path = tmp_path / "cache" / USAGE_FILE
    rec = recorder(path)
    rec.record(row(1))
    rec.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [r.id for r in read_rows(path)] == ["r1"]


def test_rows_hold_no_code_or_file_names(tmp_path: Path) -> None:
    """Only the columns of UsageRow: what a handler can put in a row is metadata."""
    path = tmp_path / USAGE_FILE
    rec = recorder(path)
    rec.record(row(1))
    rec.close()
    import sqlite3

    db = sqlite3.connect(path)
    columns = [c[1] for c in db.execute("PRAGMA table_info(requests)")]
    db.close()
    assert set(columns) == {
        "id", "at", "feature", "language", "model", "source", "prompt_tokens",
        "generated_tokens", "latency_ms", "shown", "accepted", "accepted_chars", "displayed",
        "dismissed",
    }  # fmt: skip


def test_retention_removes_old_rows_at_open(tmp_path: Path) -> None:
    path = tmp_path / USAGE_FILE
    store = UsageStore(path)
    now = time.time()
    store.insert([row(1, at=now - 31 * DAY), row(2, at=now - 29 * DAY), row(3, at=now)])
    store.close()
    rec = recorder(path, days=30)
    rec.record(row(4))
    rec.close()
    assert [r.id for r in read_rows(path)] == ["r2", "r3", "r4"]


def test_retention_also_removes_rows_periodically(tmp_path: Path) -> None:
    path = tmp_path / USAGE_FILE
    rec = recorder(path, days=1, prune_seconds=0.0)
    rec.record(row(1))
    rec.flush()  # opened (pruned) and written
    rec.record(row(2, at=time.time() - 2 * DAY))  # a row past the retention, written later
    rec.flush()
    rec.record(row(3))
    rec.flush()  # the periodic prune removes it
    rec.close()
    assert [r.id for r in read_rows(path)] == ["r1", "r3"]


def test_writes_are_batched_off_the_request(tmp_path: Path) -> None:
    """record() only queues: the file is written by the thread once batch_rows wait (or after
    batch_seconds), never in the caller."""
    path = tmp_path / USAGE_FILE
    rec = recorder(path, batch_rows=3, batch_seconds=60.0)
    rec.record(row(1))
    rec.record(row(2))
    time.sleep(0.2)
    assert read_rows(path) == []  # two rows wait in memory
    rec.record(row(3))  # the third wakes the writer
    deadline = time.monotonic() + 5.0
    while len(read_rows(path)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [r.id for r in read_rows(path)] == ["r1", "r2", "r3"]
    rec.close()


def test_acceptance_and_late_tokens_update_the_request(tmp_path: Path) -> None:
    path = tmp_path / USAGE_FILE
    rec = recorder(path)
    rec.record(row(1))
    rec.record(row(2))
    rec.add_tokens("r1", 120, 9)
    rec.accept("r1", 14)
    rec.accept("unknown", 3)  # ignored
    rec.close()
    rows = {r.id: r for r in read_rows(path)}
    assert (rows["r1"].accepted, rows["r1"].accepted_chars) == (True, 14)
    assert (rows["r1"].prompt_tokens, rows["r1"].generated_tokens) == (120, 9)
    assert (rows["r2"].accepted, rows["r2"].prompt_tokens) == (False, 0)


def test_suggestion_events_shown_partly_accepted_dismissed(tmp_path: Path) -> None:
    """A client's events on three suggestions: one displayed and taken a word at a time then
    whole, one displayed and dismissed, one dismissed after a partial accept (not a dismissal:
    part of it was taken)."""
    path = tmp_path / USAGE_FILE
    rec = recorder(path)
    for n in (1, 2, 3):
        rec.record(row(n))
        rec.displayed(f"r{n}")
    rec.accept("r1", 4)
    rec.accept("r1", 9)
    rec.flush()  # events for one suggestion may come in different batches
    rec.accept("r1", 20)  # the whole item
    rec.accept("r1", 9)  # a late partial report never lowers what was taken
    rec.dismissed("r2")
    rec.accept("r3", 5)
    rec.dismissed("r3")
    rec.dismissed("unknown")
    rec.close()
    rows = {r.id: r for r in read_rows(path)}
    assert [(r.displayed, r.accepted, r.accepted_chars, r.dismissed) for r in rows.values()] == [
        (True, True, 20, False),
        (True, False, 0, True),
        (True, True, 5, False),
    ]
    figures = summarize(rows.values())["total"]
    assert (figures["displayed"], figures["dismissed"], figures["accepted"]) == (3, 1, 2)
    assert figures["acceptance_rate"] == round(2 / 3, 4)
    assert figures["accepted_chars"] == 25


def test_a_file_from_before_the_event_columns_gets_them(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / USAGE_FILE
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE requests (id TEXT PRIMARY KEY, at REAL NOT NULL, feature TEXT NOT NULL,"
        " language TEXT NOT NULL, model TEXT NOT NULL, source TEXT NOT NULL,"
        " prompt_tokens INTEGER NOT NULL, generated_tokens INTEGER NOT NULL,"
        " latency_ms REAL NOT NULL, shown INTEGER NOT NULL,"
        " accepted INTEGER NOT NULL DEFAULT 0, accepted_chars INTEGER NOT NULL DEFAULT 0)"
    )
    db.execute(
        "INSERT INTO requests VALUES ('old', ?, 'inline', 'go', 'm', 'model', 1, 2, 3.0, 1, 1, 7)",
        (time.time(),),
    )
    db.commit()
    db.close()
    rec = recorder(path)
    rec.record(row(1))
    rec.displayed("r1")
    rec.close()
    rows = {r.id: r for r in read_rows(path)}
    assert (rows["old"].accepted_chars, rows["old"].displayed) == (7, False)
    assert rows["r1"].displayed


def test_zero_retention_records_nothing(tmp_path: Path) -> None:
    path = tmp_path / USAGE_FILE
    rec = recorder(path, days=0)
    rec.record(row(1))
    rec.close()
    assert not rec.enabled and not path.exists()


# ----- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["parent is a file", "corrupt file"])
def test_a_fault_turns_recording_off_once_without_raising(
    tmp_path: Path, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    if fault == "parent is a file":
        (tmp_path / "cache").write_text("not a directory")
        path = tmp_path / "cache" / USAGE_FILE
    else:
        path = tmp_path / USAGE_FILE
        path.parent.mkdir()
        path.write_bytes(b"this is not a SQLite database" * 100)
    rec = recorder(path)
    with caplog.at_level(logging.WARNING, logger="codesaga.usage"):
        rec.record(row(1))
        rec.flush()  # no exception
        rec.record(row(2))
        rec.accept("r1", 3)
        rec.flush()
        rec.close()
    assert not rec.enabled and rec.failed is not None
    warnings = [r for r in caplog.records if "usage recording turned off" in r.getMessage()]
    assert len(warnings) == 1


def test_a_new_cache_dir_is_tried_after_a_fault(tmp_path: Path) -> None:
    (tmp_path / "bad").write_text("not a directory")
    rec = recorder(tmp_path / "bad" / USAGE_FILE)
    rec.record(row(1))
    rec.flush()
    assert not rec.enabled
    rec.configure(tmp_path / "good" / USAGE_FILE, 30)
    rec.record(row(2))
    rec.close()
    assert [r.id for r in read_rows(tmp_path / "good" / USAGE_FILE)] == ["r2"]


def test_a_fault_in_a_request_never_reaches_it(tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("not a directory")
    rec = recorder(tmp_path / "cache" / USAGE_FILE, batch_rows=1)

    async def request() -> str:
        with measuring(rec, "inline", "python", "m"):
            await asyncio.sleep(0)
        return "answered"

    assert asyncio.run(request()) == "answered"
    rec.close()
    assert rec.failed is not None


# ----- measuring ------------------------------------------------------------------------------


def test_measuring_takes_tokens_from_the_request_only(tmp_path: Path) -> None:
    """Stats.tokens inside a measured request goes to its row; outside, to none."""
    path = tmp_path / USAGE_FILE
    rec = recorder(path)
    stats = Stats()

    async def action() -> None:
        with measuring(rec, "action.refactor", "python", "m"):
            stats.tokens(100, 40, 12)
            await asyncio.sleep(0.01)
            stats.tokens(50, 0, 3)  # a retry

    async def other() -> None:
        stats.tokens(999, 0, 999)

    async def both() -> None:
        await asyncio.gather(action(), other())

    asyncio.run(both())
    rec.close()
    (only,) = read_rows(path)
    assert (only.prompt_tokens, only.generated_tokens) == (150, 15)
    assert (only.feature, only.language, only.source, only.shown) == (
        "action.refactor",
        "python",
        "model",
        True,
    )
    assert only.latency_ms >= 10.0


def test_measuring_records_cancelled_and_failed_requests(tmp_path: Path) -> None:
    path = tmp_path / USAGE_FILE
    rec = recorder(path)
    with pytest.raises(Superseded), measuring(rec, "inline", "go", "m"):
        raise Superseded()
    with pytest.raises(RuntimeError), measuring(rec, "chat", "", "m"):
        raise RuntimeError("boom")
    rec.close()
    assert [(r.feature, r.source, r.shown) for r in read_rows(path)] == [
        ("inline", "cancelled", False),
        ("chat", "error", False),
    ]


def test_a_request_that_ran_no_generation_offered_nothing(tmp_path: Path) -> None:
    """A refused action (no model work) is recorded as ``none``, not as a model answer;
    completion rows, whose tokens come later, keep the source they are given."""
    path = tmp_path / USAGE_FILE
    rec = recorder(path)
    with measuring(rec, "action.explain", "python", "m"):
        pass  # refused before the model ran
    with measuring(rec, "inline", "python", "m", context_tokens=False) as row:
        row.source = "model"
    rec.close()
    assert [(r.feature, r.source, r.shown) for r in read_rows(path)] == [
        ("action.explain", "none", False),
        ("inline", "model", True),
    ]


# ----- the summary ----------------------------------------------------------------------------


def test_summary_figures_by_feature_and_language() -> None:
    latencies = [float(v) for v in range(1, 21)]  # 1..20 ms
    rows = [
        row(i, latency_ms=ms, source="cache" if i % 4 == 0 else "model", accepted=i % 5 == 0)
        for i, ms in enumerate(latencies)
    ]
    rows += [row(100, feature="chat", language="", source="model", prompt_tokens=300)]
    rows += [row(101, source="cancelled", shown=False, latency_ms=5000.0)]
    summary = summarize(rows)
    inline = next(g for g in summary["groups"] if g["feature"] == "inline")
    answered = len(latencies)
    assert inline["requests"] == answered + 1
    assert inline["accepted"] == sum(i % 5 == 0 for i in range(answered))
    assert inline["acceptance_rate"] == round(inline["accepted"] / answered, 4)
    # nearest rank over answered requests; the cancelled one's 5 s is left out
    assert inline["latency_p50_ms"] == sorted(latencies)[math.ceil(0.5 * answered) - 1]
    assert inline["latency_p95_ms"] == sorted(latencies)[math.ceil(0.95 * answered) - 1]
    assert inline["cache_hit_rate"] == round(sum(i % 4 == 0 for i in range(answered)) / 20, 4)
    assert inline["sources"]["cancelled"] == 1
    chat = next(g for g in summary["groups"] if g["feature"] == "chat")
    assert (chat["language"], chat["prompt_tokens"], chat["acceptance_rate"]) == ("", 300, 0.0)
    assert summary["total"]["requests"] == len(rows)


def test_summary_groups_by_model_and_counts_displayed_suggestions() -> None:
    """Acceptance is over what clients displayed where they say so (Neovim, VS Code), over
    what the server offered where they do not (Helix)."""
    rows = [
        row(1, model="qwen.gguf", displayed=True, accepted=True, accepted_chars=12),
        row(2, model="qwen.gguf", displayed=True, dismissed=True),
        row(3, model="qwen.gguf"),  # offered, superseded before the client showed it
        row(4, model="gemma.gguf", feature="completion", accepted=True, accepted_chars=3),
        row(5, model="gemma.gguf", feature="completion"),
    ]
    by = {(g["feature"], g["model"]): g for g in summarize(rows)["groups"]}
    qwen, helix = by[("inline", "qwen.gguf")], by[("completion", "gemma.gguf")]
    assert (qwen["displayed"], qwen["dismissed"], qwen["acceptance_rate"]) == (2, 1, 0.5)
    assert (qwen["accepted_chars"], helix["accepted_chars"]) == (12, 3)
    assert (helix["displayed"], helix["acceptance_rate"]) == (0, 0.5)


def test_summary_of_nothing() -> None:
    summary = summarize([])
    assert summary["groups"] == []
    assert summary["total"]["latency_p50_ms"] is None
    assert summary["total"]["acceptance_rate"] is None


def test_parse_since() -> None:
    assert parse_since("7d", now=10 * DAY) == 3 * DAY
    assert parse_since("12h", now=DAY) == DAY / 2
    assert parse_since("30m", now=3600.0) == 1800.0
    assert parse_since("2", now=3 * DAY) == DAY
    with pytest.raises(ValueError):
        parse_since("last week")


# ----- codesaga stats -------------------------------------------------------------------------


def filled_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("CODESAGA_CACHE_DIR", str(cache))
    store = UsageStore(cache / USAGE_FILE)
    now = time.time()
    store.insert(
        [
            row(1, at=now - 10 * DAY, feature="inline", language="rust"),
            row(2, at=now - 60.0, feature="inline", language="python", source="cache"),
            row(
                3,
                at=now - 30.0,
                feature="inline",
                language="python",
                accepted=True,
                accepted_chars=31,
            ),
            row(4, at=now - 20.0, feature="action.explain", language="python"),
        ]
    )
    store.close()
    return cache


def test_cli_stats_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    filled_cache(tmp_path, monkeypatch)
    assert cli.main(["stats", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    by = {(g["feature"], g["language"]): g for g in summary["groups"]}
    assert set(by) == {("inline", "rust"), ("inline", "python"), ("action.explain", "python")}
    assert by[("inline", "python")]["cache_hit_rate"] == 0.5
    assert by[("inline", "python")]["acceptance_rate"] == 0.5
    assert summary["total"]["requests"] == 4

    assert cli.main(["stats", "--since", "7d", "--json"]) == 0
    recent = json.loads(capsys.readouterr().out)
    assert {(g["feature"], g["language"]) for g in recent["groups"]} == {
        ("inline", "python"),
        ("action.explain", "python"),
    }
    assert recent["since"] is not None and recent["total"]["requests"] == 3


def test_cli_stats_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    filled_cache(tmp_path, monkeypatch)
    monkeypatch.setenv("COLUMNS", "200")
    assert cli.main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "action.explain" in out and "rust" in out and "total" in out
    assert "50.0%" in out  # inline/python: half accepted, half from the cache
    assert "gemma.gguf" in out and " 31 " in out  # the model; the characters accepted


def test_cli_stats_without_a_file_and_with_a_bad_span(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CODESAGA_CACHE_DIR", str(tmp_path / "empty"))
    assert cli.main(["stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["requests"] == 0
    assert cli.main(["stats", "--since", "yesterday"]) == 2


def test_retention_setting() -> None:
    assert Settings().usage_retention_days == 30
    assert Settings(usageRetentionDays=7).usage_retention_days == 7
    with pytest.raises(ValueError):
        Settings(usageRetentionDays=-1)


def test_the_usage_file_is_under_the_cache_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODESAGA_CACHE_DIR", "/somewhere")
    assert Settings().resolved_cache_dir() / USAGE_FILE == Path("/somewhere/usage/usage.sqlite3")
    assert os.sep not in USAGE_FILE.name
