"""Starting a document's generation and answering requests from it (joining).

A request joins the document's generation in flight when the text typed since it started is
what it predicted; otherwise a new generation starts, superseding the document's previous
one. Coroutines run on the event loop; the engine runs on the scheduler's model thread.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from typing import Literal, cast

from codesaga.context import CompletionContext
from codesaga.engine import Engine, Generation, GenerationRequest
from codesaga.engine.base import CpuSharingEngine
from codesaga.errors import Superseded
from codesaga.postprocess import (
    Mode,
    lookahead_stops,
    postprocess,
    suggestion_stops,
)
from codesaga.scheduler import Priority, Scheduler
from codesaga.sessions import DocumentSession
from codesaga.stats import DecodeClock, Stats

from .flight import Criterion, Flight, finished_lines, finished_words
from .lookahead import looks_ahead
from .prompt import PromptBuilder, heal, healed_whitespace

Source = Literal["model", "cache", "type-through"]

MULTI_LINE_BUDGET_SECONDS = 0.05
"""A multi-line request still unfinished this long after it arrived, in seconds, is answered
with the lines finished so far; the generation goes on to the end of the block, for the
requests that follow (the next line after Enter is then ready at once)."""

CONTENDED_BUDGET_SECONDS = 0.3
"""While other processes take part of the CPU (see
:class:`~codesaga.engine.base.CpuSharingEngine`), a request still unfinished this long after
it arrived, in seconds, is answered with the finished words of its first line (the lines
finished so far, when there are some); the generation goes on, and the requests that follow as
the user types or accepts get the rest. About the p50 of a model-answered pause on a quiet
machine in ``codesaga bench --contended`` (258 ms on 2 cores with Qwen2.5-Coder 0.5B): on a
busy machine a suggestion shows about as soon as on a quiet one, shorter."""

ABANDON_SECONDS = 0.1
"""A generation whose requests were all cancelled (``$/cancelRequest``) goes on this long, in
seconds, for a newer request to join it, and is then cancelled."""


class Generations:
    """Starts generations with one engine and answers requests from them."""

    def __init__(
        self, engine: Engine, scheduler: Scheduler, prompts: PromptBuilder, stats: Stats
    ) -> None:
        self.engine = engine
        self.scheduler = scheduler
        self.prompts = prompts
        self.stats = stats
        self.cpu_contended = (
            engine.cpu_contended if isinstance(engine, CpuSharingEngine) else lambda: False
        )

    def start(
        self, session: DocumentSession, before: str, ctx: CompletionContext, prompt: str
    ) -> Flight:
        """Start a generation for ``ctx`` on the model thread, superseding the document's
        previous one. At the end of a line in single-line mode it goes on past the newline
        until the next line's suggestion is whole (speculative lookahead, see
        :func:`~codesaga.postprocess.lookahead_stops`), so that it is ready at Enter."""
        healed = healed_whitespace(ctx)
        lookahead = looks_ahead(ctx)
        cancel = session.begin_work()
        loop = asyncio.get_running_loop()

        def criterion(raw: str) -> bool:
            continuation = heal(raw, healed)
            if lookahead:
                return lookahead_stops(continuation, ctx.cursor)
            return suggestion_stops(continuation, ctx.cursor, ctx.mode)

        flight = Flight(
            before,
            healed,
            self.prompts.suffix_in_prompt(ctx),
            cancel,
            loop.create_future(),
            lookahead_criterion=criterion,
            lookahead_from=len(before),
        )
        clock = DecodeClock()

        def on_text(piece: str) -> None:
            clock.piece(piece)
            flight.raw += piece
            flight.ends.append(len(flight.raw))
            if flight.waiting:  # wake the event loop only when a request waits on the text
                loop.call_soon_threadsafe(flight.notify)

        # the lookahead may take the rest of the line and then a whole block
        bound = self.prompts.token_bound(ctx)
        request = GenerationRequest(
            prompt=prompt,
            max_tokens=2 * self.prompts.max_tokens if lookahead else bound,
            temperature=self.prompts.temperature,
            stop=list(self.engine.template.stop),
            cancel=cancel,
            should_stop=flight.should_stop,
            kv_key=session.uri,
            on_text=on_text,
        )
        session.flight = flight
        run = asyncio.ensure_future(
            self.scheduler.run(
                cancel,
                lambda: self._generate(request, flight, clock),
                priority=lambda: (
                    Priority.LOOKAHEAD if flight.is_background() else Priority.FOREGROUND
                ),
            )
        )
        run.add_done_callback(lambda task: self._ended(flight, task))
        return flight

    def _generate(
        self, request: GenerationRequest, flight: Flight, clock: DecodeClock
    ) -> Generation:
        """On the model thread: run the engine, keep its whole text in the flight (also from
        engines that do not stream) and record the generation's metadata, so that one whose
        request was cancelled meanwhile is recorded too."""
        gen = self.engine.generate(request)
        flight.raw = gen.text
        self.stats.generation(
            prompt_tokens=gen.prompt_tokens,
            reused_tokens=gen.reused_tokens,
            completion_tokens=gen.completion_tokens,
            seconds=gen.seconds,
            cancelled=gen.cancelled,
            clock=clock,
        )
        return gen

    def _ended(self, flight: Flight, task: asyncio.Future[Generation]) -> None:
        """On the event loop, when the generation's scheduler job is over."""
        if task.cancelled() or isinstance(task.exception(), Superseded):
            # skipped before it started: an empty, cancelled generation
            flight.result.set_result(Generation("", 0, 0, 0, 0.0, cancelled=True))
        elif task.exception() is not None:
            flight.result.set_exception(cast(BaseException, task.exception()))
            flight.result.exception()  # waiting requests re-raise it; no "never retrieved"
        else:
            gen = task.result()
            if gen.cancelled:
                self.stats.count("cancelled")
            else:
                self.stats.tokens(gen.prompt_tokens, gen.reused_tokens, gen.completion_tokens)
            flight.result.set_result(gen)
        flight.notify()

    def reusable(
        self, session: DocumentSession, before: str, ctx: CompletionContext
    ) -> Flight | None:
        """The document's generation when a request at ``before`` (the text before its
        cursor) may use it: it started at or before the cursor, is not being stopped, and
        has the same code after the cursor in its prompt."""
        flight = session.flight
        if flight is None or not before.startswith(flight.before):
            return None
        if flight.cancel.is_set() and not flight.result.done():
            return None  # being stopped (lookahead made way for other work): generate anew
        if flight.suffix != self.prompts.suffix_in_prompt(ctx):  # the code after the cursor changed
            return None
        return flight

    async def join(
        self,
        session: DocumentSession,
        before: str,
        ctx: CompletionContext,
        *,
        invoked: bool = False,
        since: float | None = None,
    ) -> tuple[str, Source] | None:
        """Answer from the document's generation in flight, waiting for it as long as it
        predicts what was typed since it started. None when there is none, or when what it
        produced does not continue ``before`` or stopped short of a whole suggestion for
        ``ctx``. Raises Superseded when it was cancelled first, and EngineError when it
        failed.

        The time budgets (:data:`MULTI_LINE_BUDGET_SECONDS`,
        :data:`CONTENDED_BUDGET_SECONDS`) count from ``since``, when the request arrived
        (``perf_counter`` seconds; None: now). An ``invoked`` request (the user asked for it)
        waits for its whole suggestion however busy the CPU is."""
        flight = self.reusable(session, before, ctx)
        if flight is None:
            return None
        typed = before[len(flight.before) :]
        arrived = time.perf_counter() if since is None else since
        # this request's own token bound, as if it had started a generation: tokens after ``typed``
        cap = self.prompts.token_bound(ctx)
        typed_at = len(typed) + len(flight.healed)

        def capped() -> bool:
            return len(flight.ends) - bisect.bisect_right(flight.ends, typed_at) >= cap

        def whole(ahead: str) -> bool:
            return suggestion_stops(ahead, ctx.cursor, ctx.mode) or capped()

        def shared_cpu_budget_out() -> bool:
            waited = time.perf_counter() - arrived
            return not invoked and waited > CONTENDED_BUDGET_SECONDS and self.cpu_contended()

        def so_far(ahead: str) -> str:
            """What the request may be answered with before its suggestion is whole, once
            its time budget has run out ("" before then, or when nothing is finished)."""
            if shared_cpu_budget_out():
                return finished_lines(ahead) or finished_words(ahead)
            waited = time.perf_counter() - arrived
            if ctx.mode is Mode.MULTI_LINE and waited > MULTI_LINE_BUDGET_SECONDS:
                return finished_lines(ahead)
            return ""

        def enough(ahead: str) -> bool:
            return whole(ahead) or bool(so_far(ahead).strip())

        def criterion(raw: str) -> bool:
            ahead = flight.ahead(typed, raw)
            if ahead is None:
                return flight.diverged(typed, raw)  # nothing more is needed from it
            return enough(ahead)

        if looks_ahead(ctx):
            flight.look_ahead(typed, ctx.cursor)  # before waiting: it may stop at our answer
        arrived_done = flight.result.done()
        # look again when a time budget runs out, not only when the next token comes
        loop = asyncio.get_running_loop()
        budgets = [] if invoked else [CONTENDED_BUDGET_SECONDS]
        if ctx.mode is Mode.MULTI_LINE:
            budgets.append(MULTI_LINE_BUDGET_SECONDS)
        left = arrived - time.perf_counter()  # seconds already spent: negative
        timers = [loop.call_later(max(0.0, budget + left), flight.notify) for budget in budgets]
        try:
            waited = await _wait(flight, typed, criterion, self.stats)
        finally:
            for timer in timers:
                timer.cancel()
        if waited is None:
            return None
        if flight.result.done():
            finished = flight.result.exception() is None and criterion(flight.raw)
            if arrived_done and not finished:
                return None  # it ended short of this request's suggestion: generate anew
            gen = flight.result.result()  # raises EngineError
            if gen.cancelled and not finished:
                raise Superseded()
        ahead = flight.ahead(typed, flight.raw)
        if ahead is None:
            self.stats.count("diverged")
            return None
        if typed:
            self.stats.count("joined")
        if not (flight.result.done() or whole(ahead)):
            if shared_cpu_budget_out():
                self.stats.count("shortened")  # shown short because the CPU is shared
            ahead = so_far(ahead)  # the time budget ran out: what is finished so far
        text = postprocess(ahead, ctx.cursor, ctx.mode)
        flight.speculative = True
        return text, "model" if waited or not typed else "type-through"


async def _wait(flight: Flight, typed: str, criterion: Criterion, stats: Stats) -> bool | None:
    """Wait, as one of the requests waiting on ``flight``, until ``criterion`` holds for its
    text or it ends. Returns whether the request had to wait, or None when the text went
    another way than ``typed``. A request cancelled while it waits leaves the generation
    going for ABANDON_SECONDS, for a newer request to join it (see :meth:`Flight.abandon`)."""
    flight.criteria.append(criterion)
    flight.waiting += 1
    waited = False
    try:
        while not flight.result.done():
            if flight.diverged(typed, flight.raw):
                stats.count("diverged")
                return None
            if criterion(flight.raw):
                break
            waited = True
            await flight.changed()
    except asyncio.CancelledError:
        if flight.waiting == 1:
            asyncio.get_running_loop().call_later(ABANDON_SECONDS, flight.abandon)
        raise
    finally:
        flight.waiting -= 1
        flight.criteria.remove(criterion)
    return waited
