"""Prefill at ``didOpen``: the prompt of a newly opened document's first window, evaluated
into the engine's KV cache in the background.

The first request in a document just opened then evaluates only its last tokens instead of
its whole prompt cold (about 1 ms a token on 2 cores: 1.5 s for a full window). A request at
any cursor in that window shares the prompt up to the cursor.
"""

from __future__ import annotations

import asyncio
import logging

from codesaga.documents import Document
from codesaga.engine import Engine, Generation, GenerationRequest
from codesaga.errors import Superseded
from codesaga.scheduler import Priority, Scheduler
from codesaga.sessions import DocumentSession
from codesaga.stats import Stats

from .prompt import PromptBuilder

log = logging.getLogger(__name__)


def prefill(
    doc: Document,
    session: DocumentSession,
    *,
    engine: Engine,
    scheduler: Scheduler,
    prompts: PromptBuilder,
    stats: Stats,
) -> None:
    """Evaluate ``doc``'s first-window prompt (:meth:`PromptBuilder.first_window`) with
    ``max_tokens`` 0, at :attr:`Priority.PREFILL`: a request for the document supersedes it,
    any other model work stops it (between prompt batches), a later prefill replaces it.
    Counted as ``prefill`` in ``stats`` when it ran to its end."""
    ctx = prompts.first_window(doc)
    if ctx.binary:
        return
    cancel = session.begin_work()
    request = GenerationRequest(
        prompt=prompts.prompt_for(ctx), max_tokens=0, cancel=cancel, kv_key=doc.uri
    )
    session.prefill = cancel
    run = asyncio.ensure_future(
        scheduler.run(cancel, lambda: engine.generate(request), priority=Priority.PREFILL)
    )

    def finished(task: asyncio.Future[Generation]) -> None:
        if session.prefill is cancel:
            session.prefill = None
        if task.cancelled() or isinstance(task.exception(), Superseded):
            return
        if task.exception() is not None:  # the request that follows reports it
            log.debug("prefill failed: %s", task.exception())
        elif not task.result().cancelled:
            stats.count("prefill")

    run.add_done_callback(finished)
