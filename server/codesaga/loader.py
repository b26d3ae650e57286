"""Build the engine the settings ask for (blocking: call it from a worker thread)."""

from __future__ import annotations

import logging

from codesaga.engine import Engine
from codesaga.settings import Settings

log = logging.getLogger(__name__)


def load_engine(settings: Settings) -> Engine:
    """Resolve the model and load it.

    Raises ModelError (missing/corrupt file, unknown name) or EngineError (load failure, a
    bad ``openai`` setting). A remote engine that cannot be reached yet is no failure: it is
    probed again in the background, and its requests say what is wrong.
    """
    if settings.backend == "openai":
        from codesaga.engine.faults import EngineFault
        from codesaga.engine.openai import OpenAIEngine

        remote = OpenAIEngine(
            settings.openai, n_ctx=settings.context_size, fim_family=settings.fim_family
        )
        try:  # here, off the event loop: its FIM family and tokenizer are known from the start
            remote.probe()
        except EngineFault as fault:  # not up yet: probed again in the background
            log.info("engine not reached at load: %s", fault.detail)
        return remote

    from codesaga.engine.llama import LlamaEngine
    from codesaga.models import resolve

    path = resolve(settings.model, settings.resolved_cache_dir())
    return LlamaEngine(
        path,
        n_ctx=settings.context_size,
        n_gpu_layers=settings.gpu_layers,
        n_threads=settings.threads,
        n_threads_batch=settings.batch_threads,
        fim_family=settings.fim_family,
    )
