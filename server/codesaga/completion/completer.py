"""One completion, start to finish, as the README describes it.

The context at the cursor; then the answer from the first source that has it: the suggestion
on screen when the user typed its start (type-through), the exact cache, the document's
generation in flight when it predicted what was typed since (joining it), or a new generation;
post-processing; and, once the answer is on its way, speculative lookahead for what the user
will want next. Plain Python shared by the LSP handlers, ``codesaga complete``, the demo and
the bench; no protocol here. Offsets are str indices (code points) into the document text.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from codesaga.cache import CompletionCache
from codesaga.context import CompletionContext
from codesaga.documents import Document
from codesaga.engine import Engine, Generation, GenerationRequest
from codesaga.engine.base import RankingEngine
from codesaga.errors import Superseded
from codesaga.scheduler import Priority, Scheduler
from codesaga.sessions import DocumentSession, Sessions
from codesaga.stats import Stats

from . import typethrough
from .generations import Generations, Source
from .lookahead import keep_ahead_later
from .prefill import prefill
from .prompt import PromptBuilder
from .ranking import Ranked, rank


@dataclass(frozen=True)
class Suggestion:
    """A post-processed suggestion to insert at ``offset`` (str index); ``text`` may be empty
    (nothing worth showing). ``seconds`` is the time spent in the server."""

    text: str
    offset: int
    source: Source
    seconds: float


class Completer:
    """Answers completion requests with one engine. Coroutine methods run on the event loop;
    model work runs on the scheduler's thread. ``sessions`` are the open documents' sessions
    (the server's; a private set when not given)."""

    def __init__(
        self,
        engine: Engine,
        scheduler: Scheduler,
        cache: CompletionCache | None,
        *,
        max_tokens: int,
        temperature: float,
        stats: Stats | None = None,
        sessions: Sessions | None = None,
        rank_candidates: int = 1,
    ) -> None:
        self.engine = engine
        self.rank_candidates = rank_candidates
        """Candidates ranked by the suffix in invoked requests (prefix-only templates and
        engines with the RankingEngine capability); 1 = greedy."""
        self.scheduler = scheduler
        self.cache = cache
        self.stats = stats or Stats()
        self.sessions = sessions if sessions is not None else Sessions()
        self.prompts = PromptBuilder(engine, max_tokens=max_tokens, temperature=temperature)
        self.generations = Generations(engine, scheduler, self.prompts, self.stats)

    def configure(
        self, *, max_tokens: int, temperature: float, rank_candidates: int | None = None
    ) -> None:
        """Apply new generation settings (``rank_candidates`` None: unchanged)."""
        self.prompts.configure(max_tokens=max_tokens, temperature=temperature)
        if rank_candidates is not None:
            self.rank_candidates = rank_candidates

    async def complete(self, doc: Document, offset: int, *, fresh: bool = False) -> Suggestion:
        """The suggestion at str ``offset`` in ``doc``.

        With ``fresh`` (an explicitly invoked request) a new generation answers, whatever is
        remembered or cached, and no lookahead is started for it; for prefix-only templates
        with ``rank_candidates`` > 1 that is suffix ranking (see :mod:`.ranking`). Otherwise
        the answer comes from the first of: type-through, the exact cache, the generation in
        flight, a new generation (which supersedes the document's previous one).

        Raises PositionError for an offset outside the document, Superseded when a newer
        request for the same document (or ``$/cancelRequest``) cancelled this one, and
        EngineError when the engine fails.
        """
        started = time.perf_counter()
        session = self.sessions.get(doc.uri)
        session.next_request()
        ctx = self.prompts.context_at(doc, offset)
        if ctx.binary:
            return self._answer("", ctx, "model", started)
        before = doc.text[: ctx.offset]
        if not fresh:
            rest = typethrough.typed_through(session.shown, before)
            if rest is not None:
                return self._shown(session, before, ctx, rest, "type-through", started)

        prompt = self.prompts.prompt_for(ctx)
        key = self.prompts.cache_key_for(ctx, prompt)
        if self.cache is not None and not fresh:
            hit = self.cache.get(key)
            if hit is not None:
                return self._shown(session, before, ctx, hit, "cache", started)

        ranker = self._ranker() if fresh else None
        source: Source = "model"
        if ranker is not None:
            text = await self._ranked(ranker, session, doc, ctx, prompt)
        else:
            text, source = await self._generated(
                session, before, ctx, prompt, fresh=fresh, since=started
            )
        if self.cache is not None:
            self.cache.put(key, text)
        # an invoked request's own generation looks ahead; nothing more starts
        return self._shown(session, before, ctx, text, source, started, look_ahead=not fresh)

    async def _generated(
        self,
        session: DocumentSession,
        before: str,
        ctx: CompletionContext,
        prompt: str,
        *,
        fresh: bool,
        since: float,
    ) -> tuple[str, Source]:
        """The answer of the generation in flight (unless ``fresh``) or of a new one, for a
        request that arrived at ``since`` (``perf_counter`` seconds)."""
        if fresh:
            joined = None
        else:
            joined = await self.generations.join(session, before, ctx, since=since)
        if joined is None:
            self.generations.start(session, before, ctx, prompt)
            joined = await self.generations.join(session, before, ctx, invoked=fresh, since=since)
            if joined is None:  # superseded before it produced anything
                raise Superseded()
        return joined

    def _ranker(self) -> RankingEngine | None:
        """The engine when invoked requests rank candidates by the suffix: a prefix-only
        template, ``rank_candidates`` > 1 and an engine with the capability."""
        if self.rank_candidates <= 1 or self.engine.template.uses_suffix:
            return None
        return self.engine if isinstance(self.engine, RankingEngine) else None

    async def _ranked(
        self,
        engine: RankingEngine,
        session: DocumentSession,
        doc: Document,
        ctx: CompletionContext,
        prompt: str,
    ) -> str:
        """The suggestion chosen by suffix ranking (see :mod:`.ranking`), on the model thread
        as foreground work superseding the document's generation. Raises Superseded when
        cancelled."""
        started = time.perf_counter()
        cancel = session.begin_work()
        request = GenerationRequest(
            prompt=prompt,
            max_tokens=self.prompts.token_bound(ctx),
            temperature=0.0,
            stop=list(self.engine.template.stop),
            cancel=cancel,
            kv_key=session.uri,
        )
        n = self.rank_candidates

        def work() -> Ranked | None:
            return rank(
                engine,
                request,
                ctx,
                n,
                grammar=doc.grammar,
                count_tokens=self.engine.count_tokens,
            )

        ranked = await self.scheduler.run(cancel, work, priority=Priority.FOREGROUND)
        if ranked is None:
            raise Superseded()
        self.stats.ranking(
            candidates=ranked.candidates,
            plausible=ranked.plausible,
            seconds=time.perf_counter() - started,
        )
        return ranked.text

    def _shown(
        self,
        session: DocumentSession,
        before: str,
        ctx: CompletionContext,
        text: str,
        source: Source,
        started: float,
        *,
        look_ahead: bool = True,
    ) -> Suggestion:
        """Remember the answer for type-through, plan the lookahead, and answer."""
        typethrough.remember(session, before, text)
        if look_ahead:
            keep_ahead_later(self.generations, session, before, ctx)
        return self._answer(text, ctx, source, started)

    def _answer(
        self, text: str, ctx: CompletionContext, source: Source, started: float
    ) -> Suggestion:
        seconds = time.perf_counter() - started
        self.stats.count(source)
        self.stats.latency(source, seconds)
        return Suggestion(text, ctx.offset, source, seconds)

    def prefill(self, doc: Document) -> None:
        """Prefill the KV cache with ``doc``'s first window, in the background (see
        :func:`~codesaga.completion.prefill.prefill`)."""
        prefill(
            doc,
            self.sessions.get(doc.uri),
            engine=self.engine,
            scheduler=self.scheduler,
            prompts=self.prompts,
            stats=self.stats,
        )

    async def generation(self, uri: str) -> Generation | None:
        """The document's latest generation once it has ended (its lookahead included), for
        token counts; None when there is none or it failed."""
        session = self.sessions.find(uri)
        if session is None or session.flight is None:
            return None
        with contextlib.suppress(Exception):
            return await asyncio.shield(session.flight.result)
        return None
