"""``codesaga doctor`` for ``backend: openai``: is the configured engine usable?

Checks, in order, each stopping the rest when it fails: the engine is reachable (and takes
the API key), it serves the configured model, a short completion comes back; then the
round-trip time of a one-token request (the median of :data:`ROUND_TRIPS`), and whether the
engine reuses a prompt's head: a long prompt asked again with only its last line changed
(as typing does), against the same prompt behind a new first line (nothing to reuse).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from codesaga.engine.base import GenerationRequest
from codesaga.engine.faults import EngineFault
from codesaga.engine.openai import OpenAIEngine
from codesaga.engine.probe import CALIBRATION_TEXT
from codesaga.settings import OpenAISettings

ROUND_TRIPS = 5
COMPLETION_PROMPT = "def fibonacci(n):\n"
REUSE_COPIES = 8
"""Copies of the calibration code in the reuse check's prompt (about 800 tokens)."""


def check_engine(cfg: OpenAISettings, *, n_ctx: int, say: Callable[[str, str], None]) -> bool:
    """Check the engine ``cfg`` points at, reporting each finding as ``say(label, value)``.
    An empty ``cfg.model`` is checked with the first model the engine lists. Returns
    whether every check passed; raises nothing for the engine's faults (they are said)."""
    say("engine", cfg.base_url)
    started = time.perf_counter()
    engine = OpenAIEngine(cfg.model_copy(update={"model": cfg.model or "?"}), n_ctx=n_ctx)
    try:
        try:
            info = engine.probe()
        except EngineFault as fault:
            say("reachable", f"no: {fault}")
            return False
        say("reachable", f"yes ({(time.perf_counter() - started) * 1000:.0f} ms to probe)")
        say("kind", info.flavor)
        say("models", ", ".join(info.models) or "(not listed)")
        model = cfg.model or (info.models[0] if info.models else "")
        if not model:
            say("model", "no: set openai.model (the engine lists none)")
            return False
        if not info.serves(model):
            say("model", f"no: {model!r} is not among the models listed")
            return False
        say("model", model if cfg.model else f"{model} (openai.model is not set: set it)")
        engine.close()
        engine = OpenAIEngine(cfg.model_copy(update={"model": model}), n_ctx=n_ctx)
        engine.probe()
        say("FIM template", engine.template.name)
        counted = "the engine's tokenizer" if engine.counts_tokens else "estimated from length"
        say("token counts", counted)
        gen = engine.generate(
            GenerationRequest(prompt=COMPLETION_PROMPT, max_tokens=16, temperature=0.0)
        )
        say("completion", f"{gen.text!r} ({gen.seconds:.2f} s)")
        times = []
        for _ in range(ROUND_TRIPS):
            times.append(engine.generate(GenerationRequest(prompt="x", max_tokens=1)).seconds)
        say("round trip", f"{statistics.median(times) * 1000:.0f} ms (1 token, median of 5)")
        say("prompt reuse", _reuse(engine))
        return True
    except EngineFault as fault:
        say("failed", str(fault))
        return False
    finally:
        engine.close()


def _reuse(engine: OpenAIEngine) -> str:
    """The reuse check's finding: seconds for a long prompt with a new last line, then with a
    new first line (medians of 3 one-token requests each)."""
    body = CALIBRATION_TEXT * REUSE_COPIES
    tokens = engine.count_tokens(body)

    def seconds(prompt: str) -> float:
        return engine.generate(GenerationRequest(prompt=prompt, max_tokens=1)).seconds

    seconds(body)
    warm = statistics.median(seconds(f"{body}# edit {i}\n") for i in range(3))
    cold = statistics.median(seconds(f"# edit {i}\n{body}") for i in range(3))
    return (
        f"{warm * 1000:.0f} ms with the head of a {tokens}-token prompt kept, "
        f"{cold * 1000:.0f} ms with it changed ({cold / warm:.1f}×)"
    )
