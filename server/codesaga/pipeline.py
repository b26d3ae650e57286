"""One completion, start to finish: context, type-through, cache, prompt, engine, post-process.

Plain Python shared by the LSP handlers, ``codesaga complete`` and the demo; no protocol here.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, cast

from lsprotocol.types import Position

from codesaga.cache import CompletionCache, TypeThrough, cache_key
from codesaga.context import (
    Budget,
    CompletionContext,
    LineTokens,
    build_completion_context,
    first_window_end,
    past_blank_line,
)
from codesaga.documents import Document
from codesaga.engine import Engine, Generation, GenerationRequest
from codesaga.postprocess import (
    CursorContext,
    Mode,
    max_tokens_for,
    next_line_settled,
    postprocess,
    settled,
)
from codesaga.scheduler import Scheduler, Superseded
from codesaga.stats import DecodeClock, Stats

log = logging.getLogger(__name__)

Source = Literal["model", "cache", "type-through"]


@dataclass(frozen=True)
class Suggestion:
    """A post-processed suggestion to insert at ``offset`` (str index); ``text`` may be empty
    (nothing worth showing). ``seconds`` is the time spent in the server."""

    text: str
    offset: int
    source: Source
    seconds: float


MULTI_LINE_BUDGET_SECONDS = 0.05
"""A multi-line request still unsettled this long after it arrived, in seconds, is answered
with the lines finished so far; the generation goes on to the end of the block, for the
requests that follow (the next line after Enter is then ready at once)."""

ABANDON_SECONDS = 0.1
"""A generation whose requests were all cancelled (``$/cancelRequest``) goes on this long, in
seconds, for a newer request to join it, and is then cancelled."""


@dataclass
class Flight:
    """A document's latest generation, shared by every request whose text it predicts.

    ``before`` is the document text before the cursor when it started; ``raw`` the model's
    text so far (appended on the model thread), of which ``healed`` whitespace is already in
    the document (see :func:`healed_whitespace`). The generation stops once every goal (one
    per waiting request) and its ``bound`` hold for ``raw``. The bound is set by the request
    furthest into the text that looks ahead (see :func:`looks_ahead`): the rest of its line
    and the next line's suggestion; so while the user keeps typing what the model predicted,
    the generation stays one line ahead. All other attributes are used on the event loop only.
    """

    before: str
    healed: str
    suffix: str
    """The suffix in the prompt ("" for prefix-only templates): a request with another one
    cannot use this generation."""
    cancel: threading.Event
    result: asyncio.Future[Generation]
    bound: Callable[[str], bool]
    bound_at: int
    """Length of the ``before`` of the request that set :attr:`bound`."""
    raw: str = ""
    ends: list[int] = field(default_factory=list)
    """Length of ``raw`` after each token (appended on the model thread)."""
    goals: list[Callable[[str], bool]] = field(default_factory=list)
    waiting: int = 0
    served: bool = False
    """A request got its answer from it, or it was started to look ahead (see
    :meth:`Completer._keep_ahead`): what it generates now is lookahead."""
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def should_stop(self, raw: str) -> bool:
        """Called on the model thread after each piece: True once every goal holds."""
        return self.bound(raw) and all(goal(raw) for goal in list(self.goals))

    def ahead(self, typed: str, raw: str) -> str | None:
        """What the model's text ``raw`` holds after ``typed`` (the text typed since the
        generation started); None when it does not continue ``typed`` (yet)."""
        continuation = heal(raw, self.healed)
        return continuation[len(typed) :] if continuation.startswith(typed) else None

    def diverged(self, typed: str, raw: str) -> bool:
        """Whether ``raw`` and ``typed`` differ before the shorter one ends."""
        continuation = heal(raw, self.healed)
        return not (continuation.startswith(typed) or typed.startswith(continuation))

    def look_ahead(self, typed: str, cursor: CursorContext) -> None:
        """Move :attr:`bound` to a request ``typed`` characters in (``cursor`` its context)
        when that is further than the request that set it: the generation then goes on to
        the rest of that line and the next line's suggestion (:func:`next_line_settled`).
        Nothing changes once the generation has ended."""
        at = len(self.before) + len(typed)
        if at <= self.bound_at or self.result.done():
            return

        def bound(raw: str) -> bool:
            ahead = self.ahead(typed, raw)
            if ahead is None:
                return self.diverged(typed, raw)
            return next_line_settled(ahead, cursor)

        self.bound, self.bound_at = bound, at

    def notify(self) -> None:
        """Wake the requests waiting on this generation (new text, or it ended)."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def changed(self) -> None:
        """Wait for :meth:`notify`."""
        await self._changed.wait()

    def abandon(self) -> None:
        """Cancel the generation if no request is waiting on it and none was answered from it
        (once one was, what it generates is lookahead, bounded by :attr:`bound`)."""
        if self.waiting == 0 and not self.served and not self.result.done():
            self.cancel.set()


class Completer:
    """Answers completion requests with one engine. Coroutine methods run on the event loop;
    model work runs on the scheduler's thread."""

    def __init__(
        self,
        engine: Engine,
        scheduler: Scheduler,
        cache: CompletionCache | None,
        *,
        max_tokens: int,
        temperature: float,
        stats: Stats | None = None,
    ) -> None:
        self.engine = engine
        self.scheduler = scheduler
        self.cache = cache
        self.stats = stats or Stats()
        self.type_through = TypeThrough()
        self.line_tokens = LineTokens(engine.count_tokens)
        self._flights: dict[str, Flight] = {}
        self._numbers = itertools.count()
        self._latest: dict[str, int] = {}
        """Number of each document's latest request: work deferred for one request checks
        that no newer one came."""
        self._prewarms: dict[str, threading.Event] = {}
        """Cancel events of the prefills in flight (see :meth:`prewarm`), by document."""
        scheduler.before_run.append(self.stop_lookahead)
        self.configure(max_tokens=max_tokens, temperature=temperature)

    def configure(self, *, max_tokens: int, temperature: float) -> None:
        """Apply new generation settings (the context budget depends on ``max_tokens``)."""
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.budget = Budget.for_window(
            self.engine.n_ctx, max_tokens, self.engine.template.uses_suffix
        )

    def context_at(self, doc: Document, position: Position) -> CompletionContext:
        """The completion context at ``position`` (raises PositionError outside the document)."""
        return build_completion_context(doc, position, self.line_tokens, self.budget)

    def prompt_for(self, ctx: CompletionContext) -> str:
        """Render the model's FIM (or prefix-only) template for ``ctx``.

        Trailing spaces/tabs after code on the cursor's line are left out of the prompt (see
        :func:`healed_whitespace`).
        """
        tpl = self.engine.template
        prefix = ctx.prefix[: len(ctx.prefix) - len(healed_whitespace(ctx))]
        return tpl.render(
            prefix=prefix, suffix=ctx.suffix if tpl.uses_suffix else "", context=ctx.context
        )

    def cache_key_for(self, ctx: CompletionContext, prompt: str) -> str:
        """The exact-cache key: the model, the rendered prompt, the generation parameters and
        the post-processing inputs."""
        return cache_key(
            model=self.engine.model_id,
            template=self.engine.template.name,
            prompt=prompt,
            max_tokens=max_tokens_for(ctx.mode, self.max_tokens),
            temperature=self.temperature,
            mode=ctx.mode.value,
            cursor=[ctx.cursor.line_suffix, ctx.cursor.following, ctx.cursor.previous_line],
        )

    async def complete(
        self, doc: Document, position: Position, *, fresh: bool = False
    ) -> Suggestion:
        """The suggestion at ``position``.

        With ``fresh`` (an explicitly invoked request) a new generation answers, whatever is
        remembered or cached, and no other generation is started for it (see
        :meth:`_keep_ahead`). Otherwise the answer comes, in this order, from: the suggestion
        last shown for the document when the user typed its start (type-through); the exact
        cache; the document's generation in flight when the text typed since it started is
        what it predicted (see :class:`Flight`); a new generation, which supersedes the
        document's previous one.

        Raises PositionError for a position outside the document, Superseded when a newer
        request for the same document (or ``$/cancelRequest``) cancelled this one, and
        EngineError when the engine fails.
        """
        started = time.perf_counter()
        self._latest[doc.uri] = next(self._numbers)
        ctx = self.context_at(doc, position)
        if ctx.binary:
            return self._answer("", ctx, "model", started)
        before = doc.text[: ctx.offset]
        rest = None if fresh else self.type_through.lookup(doc.uri, before)
        if rest is not None:
            self.type_through.remember(doc.uri, before, rest)
            self._keep_ahead_later(doc.uri, before, ctx)
            return self._answer(rest, ctx, "type-through", started)

        prompt = self.prompt_for(ctx)
        key = self.cache_key_for(ctx, prompt)
        if self.cache is not None and not fresh:
            hit = self.cache.get(key)
            if hit is not None:
                self.type_through.remember(doc.uri, before, hit)
                self._keep_ahead_later(doc.uri, before, ctx)
                return self._answer(hit, ctx, "cache", started)

        joined = None if fresh else await self._join(doc.uri, before, ctx)
        if joined is None:
            self._start(doc.uri, before, ctx, prompt)
            joined = await self._join(doc.uri, before, ctx)
            if joined is None:  # superseded before it produced anything
                raise Superseded()
        text, source = joined
        if self.cache is not None:
            self.cache.put(key, text)
        self.type_through.remember(doc.uri, before, text)
        if not fresh:  # an invoked request's own generation looks ahead; nothing more starts
            self._keep_ahead_later(doc.uri, before, ctx)
        return self._answer(text, ctx, source, started)

    def prewarm(self, doc: Document) -> None:
        """Evaluate, in the background, the prompt of ``doc``'s first prefix window (from its
        first line on, as far as the budget reaches: :func:`first_window_end`) into the
        engine's KV cache, so that the first request in a document just opened does not
        evaluate its prompt cold (about 1 ms a token on 2 cores: 1.5 s for a full window).
        A request at any cursor in that window shares the prompt up to the cursor.

        It yields to all other model work: a request for the document supersedes it, and
        any other work stops it (between batches, see :meth:`stop_lookahead`)."""
        ctx = self.context_at(doc, first_window_end(doc, self.line_tokens, self.budget))
        if ctx.binary:
            return
        cancel = self.scheduler.begin(doc.uri)
        request = GenerationRequest(
            prompt=self.prompt_for(ctx), max_tokens=0, cancel=cancel, kv_key=doc.uri
        )
        self._prewarms[doc.uri] = cancel
        run = asyncio.ensure_future(
            self.scheduler.run(cancel, lambda: self.engine.generate(request))
        )

        def finished(task: asyncio.Future[Generation]) -> None:
            if self._prewarms.get(doc.uri) is cancel:
                del self._prewarms[doc.uri]
            self.scheduler.finish(doc.uri, cancel)
            if task.cancelled() or isinstance(task.exception(), Superseded):
                return
            if task.exception() is not None:  # the request that follows reports it
                log.debug("prefill failed: %s", task.exception())
            elif not task.result().cancelled:
                self.stats.count("prewarm")

        run.add_done_callback(finished)

    def _keep_ahead_later(self, uri: str, before: str, ctx: CompletionContext) -> None:
        """Call :meth:`_keep_ahead` on the event loop's next turn, once the answer is on its
        way (a 0 s timer runs after the callbacks that the request's end has queued, which
        write the response), unless another request for ``uri`` came or it was closed."""
        seen = self._latest.get(uri)

        def later() -> None:
            if self._latest.get(uri) == seen:
                self._keep_ahead(uri, before, ctx)

        asyncio.get_running_loop().call_later(0, later)

    def _keep_ahead(self, uri: str, before: str, ctx: CompletionContext) -> None:
        """After a request was answered: make sure a generation prepares what the user will
        want next. At the end of a line (see :func:`looks_ahead`) that is the next line's
        suggestion; on a line that holds only indentation, the suggestion for the line after
        it, should the user leave this one blank (see :func:`past_blank_line`).

        The document's generation in flight is kept going when it still predicts what was
        typed (see :meth:`Flight.look_ahead`); one that has ended and holds that suggestion is
        enough; otherwise, unless it failed or ended for good at this very point, a new
        generation starts, in the background."""
        blank = past_blank_line(ctx)
        if blank is not None:
            # the text before the cursor one Enter further: the window's text is replaced
            before, ctx = before[: len(before) - len(ctx.prefix)] + blank.prefix, blank
        elif not looks_ahead(ctx):
            return
        flight = self._flights.get(uri)
        if (
            flight is not None
            and before.startswith(flight.before)
            and flight.suffix == self._prompt_suffix(ctx)
        ):
            typed = before[len(flight.before) :]
            if flight.result.done():
                ahead = flight.ahead(typed, flight.raw)
                if ahead is not None and (
                    settled(ahead, ctx.cursor, ctx.mode)
                    if blank
                    else next_line_settled(ahead, ctx.cursor)
                ):
                    return
                if flight.result.exception() is not None:
                    return
                if not flight.result.result().cancelled and len(before) <= flight.bound_at:
                    return  # it ended for good here: end of text, a stop string, its token bound
            elif not flight.cancel.is_set() and not flight.diverged(typed, flight.raw):
                flight.look_ahead(typed, ctx.cursor)
                return
        self.stats.count("lookahead")
        self._start(uri, before, ctx, self.prompt_for(ctx)).served = True

    def _start(self, uri: str, before: str, ctx: CompletionContext, prompt: str) -> Flight:
        """Start a generation for ``ctx`` on the model thread (superseding ``uri``'s previous
        one). At the end of a line in single-line mode it goes on past the newline until the
        next line's suggestion is settled (lookahead, see :func:`next_line_settled`), so that
        it is ready when the user presses Enter."""
        healed = healed_whitespace(ctx)
        lookahead = looks_ahead(ctx)
        cancel = self.scheduler.begin(uri)
        loop = asyncio.get_running_loop()

        def bound(raw: str) -> bool:
            continuation = heal(raw, healed)
            if lookahead:
                return next_line_settled(continuation, ctx.cursor)
            return settled(continuation, ctx.cursor, ctx.mode)

        flight = Flight(
            before,
            healed,
            self._prompt_suffix(ctx),
            cancel,
            loop.create_future(),
            bound=bound,
            bound_at=len(before),
        )
        clock = DecodeClock()

        def on_text(piece: str) -> None:
            clock.piece(piece)
            flight.raw += piece
            flight.ends.append(len(flight.raw))
            if flight.waiting:  # wake the event loop only when a request waits on the text
                loop.call_soon_threadsafe(flight.notify)

        # the lookahead may take the rest of the line and then a whole block
        max_tokens = 2 * self.max_tokens if lookahead else max_tokens_for(ctx.mode, self.max_tokens)
        request = GenerationRequest(
            prompt=prompt,
            max_tokens=max_tokens,
            temperature=self.temperature,
            stop=list(self.engine.template.stop),
            cancel=cancel,
            should_stop=flight.should_stop,
            kv_key=uri,
            on_text=on_text,
        )
        self._flights[uri] = flight
        run = asyncio.ensure_future(
            self.scheduler.run(cancel, lambda: self._generate(request, clock))
        )

        def finished(task: asyncio.Future[Generation]) -> None:
            self.scheduler.finish(uri, cancel)
            if task.cancelled() or isinstance(task.exception(), Superseded):
                # skipped before it started: an empty, cancelled generation
                flight.result.set_result(Generation("", 0, 0, 0, 0.0, cancelled=True))
            elif task.exception() is not None:
                flight.result.set_exception(cast(BaseException, task.exception()))
                flight.result.exception()  # waiting requests re-raise it; no "never retrieved"
            else:
                gen = task.result()
                flight.raw = gen.text  # the whole text, also from engines that do not stream
                if gen.cancelled:
                    self.stats.count("cancelled")
                else:
                    self.stats.tokens(gen.prompt_tokens, gen.reused_tokens, gen.completion_tokens)
                flight.result.set_result(gen)
            flight.notify()

        run.add_done_callback(finished)
        return flight

    async def _join(
        self, uri: str, before: str, ctx: CompletionContext
    ) -> tuple[str, Source] | None:
        """Answer from ``uri``'s generation in flight (waiting for it as long as it predicts
        what was typed since it started). None when there is none, or when what it produced
        does not continue ``before`` or stopped short of a whole suggestion for ``ctx``.
        Raises Superseded when it was cancelled first, and EngineError when it failed."""
        flight = self._flights.get(uri)
        if flight is None or not before.startswith(flight.before):
            return None
        if flight.cancel.is_set() and not flight.result.done():
            return None  # being stopped (lookahead made way for other work): generate anew
        if flight.suffix != self._prompt_suffix(ctx):  # the code after the cursor changed
            return None
        typed = before[len(flight.before) :]

        def rest(raw: str) -> str | None:
            return flight.ahead(typed, raw)

        def diverged(raw: str) -> bool:
            return flight.diverged(typed, raw)

        deadline = time.perf_counter() + MULTI_LINE_BUDGET_SECONDS
        # this request's own bound, as if it had started a generation: tokens after ``typed``
        cap = max_tokens_for(ctx.mode, self.max_tokens)
        typed_at = len(typed) + len(flight.healed)

        def capped() -> bool:
            return len(flight.ends) - bisect.bisect_right(flight.ends, typed_at) >= cap

        def ready(ahead: str) -> bool:
            if settled(ahead, ctx.cursor, ctx.mode) or capped():
                return True
            return (
                ctx.mode is Mode.MULTI_LINE
                and time.perf_counter() > deadline
                and bool(finished_lines(ahead).strip())
            )

        def goal(raw: str) -> bool:
            ahead = rest(raw)
            if ahead is None:
                return diverged(raw)  # nothing more is needed from a generation gone astray
            return ready(ahead)

        if looks_ahead(ctx):
            flight.look_ahead(typed, ctx.cursor)  # before waiting: it may stop at our answer
        arrived_done = flight.result.done()
        flight.goals.append(goal)
        flight.waiting += 1
        waited = False
        try:
            while not flight.result.done():
                if diverged(flight.raw):
                    self.stats.count("diverged")
                    return None
                if goal(flight.raw):
                    break
                waited = True
                await flight.changed()
        except asyncio.CancelledError:
            if flight.waiting == 1:
                asyncio.get_running_loop().call_later(ABANDON_SECONDS, flight.abandon)
            raise
        finally:
            flight.waiting -= 1
            flight.goals.remove(goal)
        if flight.result.done():
            finished = flight.result.exception() is None and goal(flight.raw)
            if arrived_done and not finished:
                return None  # it ended short of this request's suggestion: generate anew
            gen = flight.result.result()  # raises EngineError
            if gen.cancelled and not finished:
                raise Superseded()
        ahead = rest(flight.raw)
        if ahead is None:
            self.stats.count("diverged")
            return None
        if typed:
            self.stats.count("joined")
        if not (flight.result.done() or settled(ahead, ctx.cursor, ctx.mode) or capped()):
            ahead = finished_lines(ahead)  # the budget ran out: the lines finished so far
        text = postprocess(ahead, ctx.cursor, ctx.mode)
        flight.served = True
        return text, "model" if waited or not typed else "type-through"

    def _prompt_suffix(self, ctx: CompletionContext) -> str:
        return ctx.suffix if self.engine.template.uses_suffix else ""

    def _generate(self, request: GenerationRequest, clock: DecodeClock) -> Generation:
        """Run the engine (on the model thread) and record the generation's metadata there, so
        that a generation whose request was cancelled meanwhile is recorded too."""
        gen = self.engine.generate(request)
        self.stats.generation(
            prompt_tokens=gen.prompt_tokens,
            reused_tokens=gen.reused_tokens,
            completion_tokens=gen.completion_tokens,
            seconds=gen.seconds,
            cancelled=gen.cancelled,
            clock=clock,
        )
        return gen

    async def generation(self, uri: str) -> Generation | None:
        """The document's latest generation once it has ended (its lookahead included), for
        token counts; None when there is none or it failed."""
        flight = self._flights.get(uri)
        if flight is None:
            return None
        with contextlib.suppress(Exception):
            return await asyncio.shield(flight.result)
        return None

    def stop_lookahead(self, starting: threading.Event) -> None:
        """Cancel the generations that only look ahead now (answered, nobody waiting) and the
        prefills (:meth:`prewarm`), except the one whose cancel event is ``starting``: any new
        model work goes first. A prefill starting stops only older prefills (the document
        opened last matters); it waits for the lookahead."""
        for prewarm in self._prewarms.values():
            if prewarm is not starting:
                prewarm.set()
        if starting in self._prewarms.values():
            return
        for flight in self._flights.values():
            if flight.served and flight.waiting == 0 and flight.cancel is not starting:
                flight.cancel.set()

    def forget(self, uri: str) -> None:
        """Drop what is kept for ``uri`` (document closed); its generation is cancelled."""
        self.type_through.forget(uri)
        self._latest.pop(uri, None)
        prewarm = self._prewarms.pop(uri, None)
        if prewarm is not None:
            prewarm.set()
        flight = self._flights.pop(uri, None)
        if flight is not None:
            flight.cancel.set()

    async def prefetch_after_accept(
        self, uri: str, latest: Callable[[], Document], wait_seconds: float = 1.0
    ) -> Suggestion | None:
        """Once the client has inserted the suggestion last shown for ``uri`` (polled through
        ``latest()``, for at most ``wait_seconds``), compute the next one at the new cursor so
        the user's next request is answered from the cache. None when the document did not
        become what acceptance implies, or when a newer request superseded the prefetch."""
        shown = self.type_through.shown(uri)
        if shown is None:
            return None
        accepted = shown.before + shown.suggestion
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        doc = latest()
        while not doc.text.startswith(accepted):
            if loop.time() > deadline:
                return None
            await asyncio.sleep(0.02)
            doc = latest()
        self.stats.count("prefetch")
        try:
            return await self.complete(doc, doc.position_at(len(accepted)))
        except Superseded:
            return None

    def _answer(
        self,
        text: str,
        ctx: CompletionContext,
        source: Source,
        started: float,
    ) -> Suggestion:
        seconds = time.perf_counter() - started
        self.stats.count(source)
        self.stats.latency(source, seconds)
        return Suggestion(text, ctx.offset, source, seconds)


def looks_ahead(ctx: CompletionContext) -> bool:
    """Whether a generation for ``ctx`` goes on past the end of the line (single-line mode,
    nothing after the cursor on its line) to prepare the next line's suggestion."""
    return ctx.mode is Mode.SINGLE_LINE and not ctx.cursor.line_suffix.strip()


def healed_whitespace(ctx: CompletionContext) -> str:
    """Spaces/tabs that end the cursor's line prefix after some code ("" on a blank line).

    Code tokens usually carry their leading space (" tag"), so a prompt that ends in a space
    pushes a model towards unlikely tokens (often a newline). These characters are cut from the
    prompt and then from the start of the model's answer ("token healing").
    """
    line_prefix = ctx.cursor.line_prefix
    stripped = line_prefix.rstrip(" \t")
    return line_prefix[len(stripped) :] if stripped.strip() else ""


def heal(raw: str, healed: str) -> str:
    """Remove the healed whitespace again from the start of the model's answer."""
    if not healed:
        return raw
    return raw[len(healed) :] if raw.startswith(healed) else raw.lstrip(" \t")


def finished_lines(text: str) -> str:
    """``text`` up to and including its last newline ("" without one)."""
    return text[: text.rfind("\n") + 1]
