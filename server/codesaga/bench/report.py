"""The figures of ``codesaga bench``: one JSON-ready dict and the issue's targets.

:func:`build_report` turns the raw measurements into the report; :func:`targets` checks it
against the targets of issue 5 (:mod:`codesaga.bench.table` draws it). Both are pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codesaga.bench.local import STAGES, Completion, DecodeSample, Overhead
from codesaga.bench.records import ServerRun
from codesaga.bench.script import percentile, ratio, summary

MIB = 1024 * 1024
RSS_HEADROOM_BYTES = 300 * MIB
"""Peak RSS target: the model file plus this much."""
HIT_SOURCES = ("cache", "type-through")

# (name, what is compared, limit, "le" or "ge")
TARGETS: tuple[tuple[str, str, float, str], ...] = (
    ("p50 latency at pauses <= 0.7 x naive p50", "latency_p50_ratio", 0.7, "le"),
    ("p95 latency at pauses <= 1.5 x naive p50", "latency_p95_to_naive_p50", 1.5, "le"),
    ("keystroke requests answered before next key >= 20 %", "answered_share", 0.2, "ge"),
    ("server overhead p95 <= 10 ms on a 5,000-line file", "overhead_p95_ms", 10.0, "le"),
    ("type-through and cache hits p95 <= 5 ms end to end", "hits_p95_ms", 5.0, "le"),
    ("decode tokens/s >= 95 % of raw llama-cpp-python", "decode_ratio", 0.95, "ge"),
    ("peak RSS <= model file + 300 MiB", "peak_rss_over_budget", 1.0, "le"),
)


def _ms(seconds: Sequence[float]) -> list[float]:
    return [s * 1000.0 for s in seconds]


def _token_summary(prompt: list[int], reused: list[int]) -> dict[str, Any]:
    """Prompt tokens evaluated vs reused over a list of generations."""
    evaluated = [p - r for p, r in zip(prompt, reused, strict=True)]
    n = len(prompt)

    def mean(values: list[int]) -> float | None:
        return round(sum(values) / n, 1) if n else None

    def pct(values: list[int], q: float) -> float | None:
        value = percentile(values, q)
        return None if value is None else round(value, 1)

    return {
        "requests": n,
        "prompt_mean": mean(prompt),
        "reused_mean": mean(reused),
        "evaluated_mean": mean(evaluated),
        "evaluated_p50": pct(evaluated, 50),
        "evaluated_p95": pct(evaluated, 95),
        "reused_share": ratio(sum(reused), sum(prompt)),
    }


def _rate(tokens: int, seconds: float) -> float | None:
    return round(tokens / seconds, 1) if seconds > 0 and tokens > 0 else None


def build_report(
    *,
    server: ServerRun,
    naive: Sequence[Completion],
    raw_decode: Sequence[DecodeSample],
    overhead: Overhead,
    setup: dict[str, Any],
    runtime_s: float,
) -> dict[str, Any]:
    """Every figure of the bench as a JSON-ready dict (times in ms unless a key says ``_s``;
    tokens are model tokens; sizes are bytes)."""
    # pauses answered with an error are left out (and counted below)
    pause_ms = _ms([s for r in server.requests if r.kind == "pause" and (s := r.result_seconds)])
    naive_ms = _ms([c.seconds for c in naive])
    server_lat = summary(pause_ms)
    naive_lat = summary(naive_ms)

    keyed = [r for r in server.requests if r.kind != "pause" and r.next_key is not None]
    answered = [r for r in keyed if r.answered_before_next_key]
    with_text = [r for r in answered if r.text]
    outcomes = {
        name: sum(1 for r in server.requests if r.outcome == name)
        for name in ("result", "cancelled", "error")
    }
    outcomes["pending"] = sum(1 for r in server.requests if r.outcome is None)

    stats = server.stats or {}
    counts = stats.get("counts", {})
    hit_ms = _ms([r.seconds for r in server.requests if r.source in HIT_SOURCES and r.seconds])
    by_source = {
        src: summary(_ms([r.seconds for r in server.requests if r.source == src and r.seconds]))
        for src in ("model", *HIT_SOURCES)
    }

    records = [g for g in stats.get("generations", []) if isinstance(g, dict)]
    # the decode replay's generations come last: the live figures leave them out
    replayed = min(server.replay_generations or 0, len(records))
    gens = records[: len(records) - replayed]
    replay = records[len(records) - replayed :]
    done_gens = [g for g in gens if not g.get("cancelled")]
    live_tokens = sum(int(g.get("decode_tokens", 0)) for g in gens)
    live_s = sum(float(g.get("decode_seconds", 0.0)) for g in gens)
    decoded = replay or gens  # the replay when there was one, else the live run
    server_decode_tokens = sum(int(g.get("decode_tokens", 0)) for g in decoded)
    server_decode_s = sum(float(g.get("decode_seconds", 0.0)) for g in decoded)
    raw_tokens = sum(s.decode_tokens for s in raw_decode)
    raw_s = sum(s.decode_seconds for s in raw_decode)
    server_rate = _rate(server_decode_tokens, server_decode_s)
    raw_rate = _rate(raw_tokens, raw_s)

    total = summary(overhead.total_ms)
    memory = stats.get("memory", {}) if isinstance(stats.get("memory"), dict) else {}
    peak = server.peak_rss_bytes or memory.get("peak_rss_bytes")
    model_bytes = int(setup.get("model_bytes", 0))
    budget = model_bytes + RSS_HEADROOM_BYTES

    report: dict[str, Any] = {
        "version": 1,
        "setup": dict(setup),
        "runtime_s": round(runtime_s, 1),
        "latency_at_pauses": {
            "server": server_lat,
            "naive": naive_lat,
            "ratio_p50": ratio(server_lat["p50_ms"], naive_lat["p50_ms"]),
            "server_p95_to_naive_p50": ratio(server_lat["p95_ms"], naive_lat["p50_ms"]),
            "with_suggestion": sum(1 for r in server.requests if r.kind == "pause" and r.text),
            **_after_opening(server, naive),
        },
        "keystrokes": {
            "typed": server.keys_typed,
            "requests": len(keyed),
            "answered_before_next_key": len(answered),
            "answered_share": ratio(len(answered), len(keyed)),
            "with_suggestion_before_next_key": len(with_text),
            "with_suggestion_share": ratio(len(with_text), len(keyed)),
            "cancel_sent": sum(1 for r in keyed if r.cancel_sent),
            "outcomes": outcomes,
            "accepted": server.accepted,
            "accepted_chars": server.accepted_chars,
        },
        "hits": {
            "cache": int(counts.get("cache", 0)),
            "type_through": int(counts.get("type-through", 0)),
            "model": int(counts.get("model", 0)),
            "cancelled_generations": int(counts.get("cancelled", 0)),
            "joined": int(counts.get("joined", 0)),
            "diverged": int(counts.get("diverged", 0)),
            "server_latency": stats.get("latency", {}),
            "client_latency": by_source,
            "hits_client": summary(hit_ms),
        },
        "prompt_tokens": {
            "server": _token_summary(
                [int(g.get("prompt_tokens", 0)) for g in done_gens],
                [int(g.get("reused_tokens", 0)) for g in done_gens],
            ),
            "server_all_generations": _token_summary(
                [int(g.get("prompt_tokens", 0)) for g in gens],
                [int(g.get("reused_tokens", 0)) for g in gens],
            ),
            "naive": _token_summary(
                [c.prompt_tokens for c in naive], [c.reused_tokens for c in naive]
            ),
        },
        "overhead": {
            "lines": overhead.lines,
            "keystrokes": len(overhead.total_ms),
            "total": total,
            "stages": {stage: summary(overhead.stages_ms.get(stage, [])) for stage in STAGES},
            "pipeline_end_to_end": summary(overhead.pipeline_ms),
        },
        "decode": {
            "server_tokens_per_s": server_rate,
            "raw_tokens_per_s": raw_rate,
            "ratio": ratio(server_rate, raw_rate),
            "server_decode_tokens": server_decode_tokens,
            "server_decode_s": round(server_decode_s, 3),
            "server_generations": len(decoded),
            "server_measured_on": "replay" if replay else "live",
            "live_tokens_per_s": _rate(live_tokens, live_s),
            "raw_decode_tokens": raw_tokens,
            "raw_decode_s": round(raw_s, 3),
            "raw_generations": len(raw_decode),
            "replay_errors": server.replay_errors,
        },
        "memory": {
            "server_peak_rss_bytes": peak,
            "server_rss_bytes_at_end": memory.get("rss_bytes"),
            "model_bytes": model_bytes,
            "budget_bytes": budget,
        },
    }
    report["pauses"] = _pause_rows(server, naive)
    report["targets"] = targets(report)
    return report


def _first_pauses(server: ServerRun) -> list[bool]:
    """For each pause, whether it is its file's first: it comes right after the file was
    opened, when the server holds at most what it prefilled since then in the KV cache."""
    seen: set[str] = set()
    out: list[bool] = []
    for point in server.pauses:
        out.append(point.file not in seen)
        seen.add(point.file)
    return out


def _after_opening(server: ServerRun, naive: Sequence[Completion]) -> dict[str, Any]:
    """Latencies in ms of each file's first pause (server and naive arm), and of the server's
    other pauses (``server_warm``); pauses answered with an error are left out."""
    pauses = [r for r in server.requests if r.kind == "pause"]
    first = _first_pauses(server)
    first_ms: list[float] = []
    warm_ms: list[float] = []
    for request, is_first in zip(pauses, first, strict=False):
        if (seconds := request.result_seconds) is not None:
            (first_ms if is_first else warm_ms).append(seconds * 1e3)
    naive_ms = [c.seconds * 1e3 for c, is_first in zip(naive, first, strict=False) if is_first]
    return {
        "server_first": summary(first_ms),
        "naive_first": summary(naive_ms),
        "server_warm": summary(warm_ms),
    }


def _pause_rows(server: ServerRun, naive: Sequence[Completion]) -> list[dict[str, Any]]:
    """Each pause side by side (metadata only): where, both latencies, the server's source and
    suggestion length, the naive arm's evaluated tokens."""
    pauses = [r for r in server.requests if r.kind == "pause"]
    rows = []
    for i, request in enumerate(pauses):
        point = server.pauses[i] if i < len(server.pauses) else None
        other = naive[i] if i < len(naive) else None
        rows.append(
            {
                "file": point.file if point else None,
                "line": point.position.line + 1 if point else None,
                "server_ms": None if request.seconds is None else round(request.seconds * 1e3, 1),
                "server_source": request.source,
                "server_chars": len(request.text),
                "naive_ms": None if other is None else round(other.seconds * 1e3, 1),
                "naive_evaluated_tokens": (
                    None if other is None else other.prompt_tokens - other.reused_tokens
                ),
                "naive_chars": None if other is None else other.text_chars,
            }
        )
    return rows


def _target_values(report: dict[str, Any]) -> dict[str, float | None]:
    lat = report["latency_at_pauses"]
    mem = report["memory"]
    peak = mem.get("server_peak_rss_bytes")
    hits = report["hits"]["hits_client"]
    # both the whole run's p95 and the end-to-end pipeline's p95 must meet the overhead target
    totals = [
        report["overhead"]["total"].get("p95_ms"),
        report["overhead"]["pipeline_end_to_end"].get("p95_ms"),
    ]
    known = [t for t in totals if t is not None]
    return {
        "latency_p50_ratio": lat.get("ratio_p50"),
        "latency_p95_to_naive_p50": lat.get("server_p95_to_naive_p50"),
        "answered_share": report["keystrokes"].get("answered_share"),
        "overhead_p95_ms": max(known) if known else None,
        "hits_p95_ms": hits.get("p95_ms"),
        "decode_ratio": report["decode"].get("ratio"),
        "peak_rss_over_budget": ratio(peak, mem.get("budget_bytes")),
    }


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 5 with its measured value, limit and ``status`` (``PASS``,
    ``FAIL``, or ``N/A`` when the run produced no data for it)."""
    values = _target_values(report)
    out = []
    for name, key, limit, how in TARGETS:
        value = values.get(key)
        if value is None:
            status = "N/A"
        else:
            ok = value <= limit if how == "le" else value >= limit
            status = "PASS" if ok else "FAIL"
        out.append({"name": name, "key": key, "value": value, "limit": limit, "status": status})
    return out
