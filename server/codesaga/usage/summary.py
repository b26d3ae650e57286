"""Figures over usage rows: totals, acceptance rate, latency percentiles and cache hit rate,
overall and by (feature, language, model). Shared by ``codesaga stats`` and ``codesaga.stats``."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

from .store import UsageRow

REUSED_SOURCES = frozenset({"cache", "type-through"})
"""Answer sources that count as cache hits: no model work for the request."""
UNANSWERED_SOURCES = frozenset({"cancelled", "error"})
"""Sources of requests that got no answer: left out of latencies and the cache hit rate."""


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q``-quantile (0 < q <= 1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(rows: list[UsageRow]) -> dict[str, Any]:
    """One group's figures: ``requests``, ``shown`` (offered something), ``displayed`` (the
    client said it showed it), ``dismissed`` (let go with none of it taken), ``accepted``
    (whole or a part), ``acceptance_rate`` (accepted / displayed, or accepted / shown where
    no client said what it displayed, as Helix's completion menu does not; None when nothing
    was offered), ``accepted_chars`` (characters taken),
    ``prompt_tokens`` and ``generated_tokens`` (model tokens), ``latency_p50_ms`` /
    ``latency_p95_ms`` (milliseconds, nearest rank, over answered requests: neither
    cancelled nor failed), ``cache_hit_rate`` (answers from the cache or type-through /
    answered requests), ``sources`` (requests per answer source) and
    ``models`` (names, sorted)."""
    answered = [r for r in rows if r.source not in UNANSWERED_SOURCES]
    latencies = [r.latency_ms for r in answered]
    shown = sum(r.shown for r in rows)
    displayed = sum(r.displayed for r in rows)
    accepted = sum(r.accepted for r in rows)
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    return {
        "requests": len(rows),
        "shown": shown,
        "displayed": displayed,
        "dismissed": sum(r.dismissed for r in rows),
        "accepted": accepted,
        "acceptance_rate": _ratio(accepted, displayed or shown),
        "accepted_chars": sum(r.accepted_chars for r in rows),
        "prompt_tokens": sum(r.prompt_tokens for r in rows),
        "generated_tokens": sum(r.generated_tokens for r in rows),
        "latency_p50_ms": None if p50 is None else round(p50, 1),
        "latency_p95_ms": None if p95 is None else round(p95, 1),
        "cache_hit_rate": _ratio(sum(r.source in REUSED_SOURCES for r in answered), len(answered)),
        "sources": dict(Counter(r.source for r in rows)),
        "models": sorted({r.model for r in rows}),
    }


def summarize(rows: Iterable[UsageRow], since: float | None = None) -> dict[str, Any]:
    """``{"since": since, "total": figures, "groups": [{"feature", "language", "model",
    **figures}, ...]}``, groups sorted by feature, language then model (see :func:`figures`);
    ``since`` is the Unix time in seconds the rows start at (None: all kept)."""
    rows = list(rows)
    groups: dict[tuple[str, str, str], list[UsageRow]] = {}
    for row in rows:
        groups.setdefault((row.feature, row.language, row.model), []).append(row)
    return {
        "since": since,
        "total": figures(rows),
        "groups": [
            {"feature": feature, "language": language, "model": model, **figures(members)}
            for (feature, language, model), members in sorted(groups.items())
        ],
    }
