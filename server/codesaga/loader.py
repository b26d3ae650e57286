"""Build the engine the settings ask for (blocking: call it from a worker thread)."""

from __future__ import annotations

from codesaga.engine import Engine
from codesaga.settings import Settings


def load_engine(settings: Settings) -> Engine:
    """Resolve the model and load it.

    Raises ModelError (missing/corrupt file, unknown name) or EngineError (load failure,
    unreachable server).
    """
    if settings.backend == "openai":
        from codesaga.engine.openai import OpenAIEngine

        return OpenAIEngine(
            settings.openai, n_ctx=settings.context_size, fim_family=settings.fim_family
        )

    from codesaga.engine.llama import LlamaEngine
    from codesaga.models import resolve

    path = resolve(settings.model, settings.resolved_cache_dir())
    return LlamaEngine(
        path,
        n_ctx=settings.context_size,
        n_gpu_layers=settings.gpu_layers,
        n_threads=settings.threads,
        fim_family=settings.fim_family,
    )
