"""Usage metrics. Metadata only (counts, token counts, latencies in ms): never code or prompts."""

from __future__ import annotations

import statistics
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from codesaga.usage import add_tokens

MAX_GENERATION_RECORDS = 1000
"""Per-generation records kept (the oldest are dropped first)."""


@dataclass
class DecodeClock:
    """Times the decode phase of one streamed generation: pass :meth:`piece` as
    ``GenerationRequest.on_text``. The first piece arrives once the prompt is evaluated, so
    ``pieces - 1`` decode steps happen between the first and the last piece."""

    first: float | None = None
    """``time.perf_counter()`` seconds at the first non-empty piece (None: no piece yet)."""
    last: float | None = None
    pieces: int = 0

    def piece(self, text: str) -> None:
        """Note one decoded piece of text (called from the model thread)."""
        if not text:
            return
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now
        self.pieces += 1

    @property
    def decode_tokens(self) -> int:
        """Decode steps timed by :attr:`decode_seconds` (0 with fewer than 2 pieces)."""
        return max(0, self.pieces - 1)

    @property
    def decode_seconds(self) -> float:
        """Seconds from the first to the last piece (0.0 with fewer than 2 pieces)."""
        if self.first is None or self.last is None or self.pieces < 2:
            return 0.0
        return self.last - self.first


@dataclass
class Stats:
    """Counters for one server process."""

    counts: Counter[str] = field(default_factory=Counter)
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    prompt_tokens: int = 0
    reused_tokens: int = 0
    completion_tokens: int = 0
    generations: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=MAX_GENERATION_RECORDS)
    )
    """One record per model generation (cancelled ones too), newest last: see
    :meth:`generation`."""

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name`` (e.g. ``"cache_hit"``, ``"accepted"``)."""
        self.counts[name] += n

    def latency(self, source: str, seconds: float) -> None:
        """Record one answer's latency, by where the answer came from."""
        self.latencies_ms.setdefault(source, []).append(seconds * 1000.0)

    def tokens(self, prompt: int, reused: int, completion: int) -> None:
        """Record a generation's token counts (also on the usage row of the request being
        measured, if any: see :func:`codesaga.usage.measuring`)."""
        add_tokens(prompt, completion)
        self.prompt_tokens += prompt
        self.reused_tokens += reused
        self.completion_tokens += completion

    def generation(
        self,
        *,
        prompt_tokens: int,
        reused_tokens: int,
        completion_tokens: int,
        seconds: float,
        cancelled: bool,
        clock: DecodeClock | None = None,
    ) -> None:
        """Record one generation's metadata (model tokens and seconds; never text).

        ``prompt_tokens`` is the prompt's length, ``reused_tokens`` how many of them llama.cpp
        kept from its KV cache (the rest were evaluated), ``seconds`` the whole generation, and
        ``clock`` (optional) the timing of its decode phase.
        """
        self.counts["generations"] += 1
        self.generations.append(
            {
                "prompt_tokens": prompt_tokens,
                "reused_tokens": reused_tokens,
                "evaluated_tokens": prompt_tokens - reused_tokens,
                "completion_tokens": completion_tokens,
                "seconds": round(seconds, 4),
                "decode_tokens": clock.decode_tokens if clock else 0,
                "decode_seconds": round(clock.decode_seconds, 4) if clock else 0.0,
                "cancelled": cancelled,
            }
        )

    def ranking(self, *, candidates: int, plausible: int, seconds: float) -> None:
        """Record one suffix ranking (see :mod:`codesaga.completion.ranking`): the candidates
        the engine gave, how many were left to score, and its seconds (latency ``ranking``)."""
        self.counts["ranked"] += 1
        self.counts["ranking_candidates"] += candidates
        self.counts["ranking_plausible"] += plausible
        self.latency("ranking", seconds)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready summary: counters, token totals, p50/p95 latency per source in ms, and
        the per-generation records (``generations``, oldest first, at most
        :data:`MAX_GENERATION_RECORDS`)."""
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
            "generations": list(self.generations),
        }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
