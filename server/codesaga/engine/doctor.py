"""``codesaga doctor`` for ``backend: openai``: is the configured engine usable?

Checks, in order, each stopping the rest when it fails: the engine is reachable (and takes
the API key), it serves the configured model, a short completion comes back; then the
round-trip time of a one-token request (the median of :data:`ROUND_TRIPS`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from codesaga.engine.base import GenerationRequest
from codesaga.engine.faults import EngineFault
from codesaga.engine.openai import OpenAIEngine
from codesaga.settings import OpenAISettings

ROUND_TRIPS = 5
COMPLETION_PROMPT = "def fibonacci(n):\n"


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
        return True
    except EngineFault as fault:
        say("failed", str(fault))
        return False
    finally:
        engine.close()
