"""Usage metrics. Metadata only (counts, token counts, latencies in ms): never code or prompts."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    """Counters for one server process."""

    counts: Counter[str] = field(default_factory=Counter)
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    prompt_tokens: int = 0
    reused_tokens: int = 0
    completion_tokens: int = 0

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name`` (e.g. ``"cache_hit"``, ``"accepted"``)."""
        self.counts[name] += n

    def latency(self, source: str, seconds: float) -> None:
        """Record one answer's latency, by where the answer came from."""
        self.latencies_ms.setdefault(source, []).append(seconds * 1000.0)

    def tokens(self, prompt: int, reused: int, completion: int) -> None:
        """Record a generation's token counts."""
        self.prompt_tokens += prompt
        self.reused_tokens += reused
        self.completion_tokens += completion

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready summary: counters, token totals, p50/p95 latency per source in ms."""
        lat = {
            src: {
                "n": len(vals),
                "p50_ms": round(statistics.median(vals), 1),
                "p95_ms": round(_p95(vals), 1),
            }
            for src, vals in self.latencies_ms.items()
            if vals
        }
        return {
            "counts": dict(self.counts),
            "tokens": {
                "prompt": self.prompt_tokens,
                "reused": self.reused_tokens,
                "completion": self.completion_tokens,
            },
            "latency": lat,
        }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
