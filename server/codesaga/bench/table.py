"""The report of ``codesaga bench`` (:func:`codesaga.bench.report.build_report`) as one rich
table: figure, server, naive/raw, ratio, target, result. Pure: no clock, no I/O."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from codesaga.bench.local import STAGES
from codesaga.bench.report import MIB
from codesaga.bench.script import ratio

__all__ = ["render"]


Row = tuple[str, ...]
"""A table row, its last empty cells left out."""


def _fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def _status(report: dict[str, Any], key: str) -> str:
    for target in report["targets"]:
        if target["key"] == key:
            status = str(target["status"])
            colour = {"PASS": "green", "FAIL": "red"}.get(status, "yellow")
            return f"[{colour}]{status}[/{colour}]"
    return ""


def render(report: dict[str, Any]) -> Table:
    """The report as one rich table: figure, server, naive/raw, ratio, target, result."""
    setup = report["setup"]
    table = Table(
        title=(
            f"codesaga bench: {setup.get('model_name', '')}, "
            f"{setup.get('keys_planned', 0)} keys at {setup.get('interval_ms', 0)} ms "
            f"(the first {setup.get('read_ms', 0)} ms after opening), "
            f"threads: {setup.get('threads', '')}, n_ctx {setup.get('n_ctx', 0)}"
        ),
        caption=f"runtime {report['runtime_s']} s",
    )
    for column, justify in (
        ("figure", "left"),
        ("server", "right"),
        ("naive / raw", "right"),
        ("ratio", "right"),
        ("target", "left"),
        ("result", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for rows in (_latency, _keystrokes, _hits, _prompt_tokens, _overhead, _decode, _memory):
        for row in rows(report):
            table.add_row(*row, *[""] * (6 - len(row)))
    return table


def _latency(report: dict[str, Any]) -> list[Row]:
    lat = report["latency_at_pauses"]
    srv, nai = lat["server"], lat["naive"]
    first, naive_first = lat.get("server_first") or {}, lat.get("naive_first") or {}
    warm = lat.get("server_warm") or {}
    return [
        (
            f"latency at pauses p50 (n={srv['n']})",
            _fmt(srv["p50_ms"], " ms"),
            _fmt(nai["p50_ms"], " ms"),
            _fmt(lat["ratio_p50"], "", 2),
            "<= 0.7",
            _status(report, "latency_p50_ratio"),
        ),
        (
            "latency at pauses p95",
            _fmt(srv["p95_ms"], " ms"),
            _fmt(nai["p95_ms"], " ms"),
            _fmt(lat["server_p95_to_naive_p50"], "", 2) + " of naive p50",
            "<= 1.5",
            _status(report, "latency_p95_to_naive_p50"),
        ),
        (
            f"  … each file's first pause p50 / max (n={first.get('n', 0)})",
            f"{_fmt(first.get('p50_ms'), ' ms')} / {_fmt(first.get('max_ms'), ' ms')}",
            f"{_fmt(naive_first.get('p50_ms'), ' ms')} / {_fmt(naive_first.get('max_ms'), ' ms')}",
        ),
        (
            f"  … p50 / p95 without each file's first pause (n={warm.get('n', 0)})",
            f"{_fmt(warm.get('p50_ms'), ' ms')} / {_fmt(warm.get('p95_ms'), ' ms')}",
            "",
            _fmt(ratio(warm.get("p95_ms"), nai["p50_ms"]), "", 2) + " of naive p50",
        ),
    ]


def _keystrokes(report: dict[str, Any]) -> list[Row]:
    keys = report["keystrokes"]
    return [
        (
            "requests answered with an error: typing / decode replay",
            f"{keys['outcomes']['error']} / {report['decode']['replay_errors']}",
        ),
        (
            f"keystroke requests answered before next key (n={keys['requests']})",
            f"{keys['answered_before_next_key']} ({_fmt(_pct(keys['answered_share']), ' %')})",
            "",
            "",
            ">= 20 %",
            _status(report, "answered_share"),
        ),
        (
            "  … with a suggestion",
            f"{keys['with_suggestion_before_next_key']} "
            f"({_fmt(_pct(keys['with_suggestion_share']), ' %')})",
        ),
        ("  accepted at pauses (chars)", f"{keys['accepted']} ({keys['accepted_chars']})"),
    ]


def _hits(report: dict[str, Any]) -> list[Row]:
    hits = report["hits"]
    hit_lat = hits["hits_client"]
    return [
        (
            "cache / type-through / model answers",
            f"{hits['cache']} / {hits['type_through']} / {hits['model']}",
        ),
        (
            "  requests that joined / left a generation in flight",
            f"{hits.get('joined', 0)} / {hits.get('diverged', 0)}",
        ),
        (
            f"hit latency end to end p50 / p95 (n={hit_lat['n']})",
            f"{_fmt(hit_lat['p50_ms'], ' ms')} / {_fmt(hit_lat['p95_ms'], ' ms')}",
            "",
            "",
            "p95 <= 5 ms",
            _status(report, "hits_p95_ms"),
        ),
    ]


def _prompt_tokens(report: dict[str, Any]) -> list[Row]:
    tokens = report["prompt_tokens"]
    s_tok, n_tok = tokens["server"], tokens["naive"]
    a_tok = tokens["server_all_generations"]
    return [
        (
            f"prompt tokens evaluated / reused, mean (n={s_tok['requests']} / {n_tok['requests']})",
            f"{_fmt(s_tok['evaluated_mean'])} / {_fmt(s_tok['reused_mean'])}",
            f"{_fmt(n_tok['evaluated_mean'])} / {_fmt(n_tok['reused_mean'])}",
        ),
        (
            f"  … all generations, cancelled too (n={a_tok['requests']})",
            f"{_fmt(a_tok['evaluated_mean'])} / {_fmt(a_tok['reused_mean'])}",
        ),
        (
            "prompt tokens evaluated p50 / p95",
            f"{_fmt(s_tok['evaluated_p50'])} / {_fmt(s_tok['evaluated_p95'])}",
            f"{_fmt(n_tok['evaluated_p50'])} / {_fmt(n_tok['evaluated_p95'])}",
        ),
    ]


def _overhead(report: dict[str, Any]) -> list[Row]:
    over = report["overhead"]
    rows: list[Row] = [
        (
            f"server overhead p50 / p95 ({over['lines']} lines, {over['keystrokes']} keys)",
            f"{_fmt(over['total']['p50_ms'], ' ms', 2)} / "
            f"{_fmt(over['total']['p95_ms'], ' ms', 2)}",
            "",
            "",
            "p95 <= 10 ms",
            _status(report, "overhead_p95_ms"),
        )
    ]
    for stage in STAGES:
        st = over["stages"][stage]
        rows.append(
            (f"  {stage}", f"{_fmt(st['p50_ms'], ' ms', 2)} / {_fmt(st['p95_ms'], ' ms', 2)}")
        )
    pipe = over["pipeline_end_to_end"]
    rows.append(
        (
            "  didChange + Completer.complete, instant engine",
            f"{_fmt(pipe['p50_ms'], ' ms', 2)} / {_fmt(pipe['p95_ms'], ' ms', 2)}",
        )
    )
    return rows


def _decode(report: dict[str, Any]) -> list[Row]:
    dec = report["decode"]
    return [
        (
            "decode tokens/s (the pause prompts again, one at a time)",
            _fmt(dec["server_tokens_per_s"]),
            _fmt(dec["raw_tokens_per_s"]),
            _fmt(dec["ratio"], "", 3),
            ">= 0.95",
            _status(report, "decode_ratio"),
        ),
        (
            "  … server while typing (competing with the editor's keystrokes)",
            _fmt(dec.get("live_tokens_per_s")),
            "",
            _fmt(ratio(dec.get("live_tokens_per_s"), dec["raw_tokens_per_s"]), "", 3),
        ),
    ]


def _memory(report: dict[str, Any]) -> list[Row]:
    mem = report["memory"]
    return [
        (
            "server peak RSS",
            _fmt(_mib(mem["server_peak_rss_bytes"]), " MiB"),
            f"model {_fmt(_mib(mem['model_bytes']), ' MiB')}",
            "",
            f"<= {_fmt(_mib(mem['budget_bytes']), ' MiB')}",
            _status(report, "peak_rss_over_budget"),
        )
    ]


def _pct(share: float | None) -> float | None:
    return None if share is None else round(share * 100.0, 1)


def _mib(value: int | None) -> float | None:
    return None if value is None else round(value / MIB, 1)
