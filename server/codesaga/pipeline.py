"""One completion, start to finish: context, type-through, cache, prompt, engine, post-process.

Plain Python shared by the LSP handlers, ``codesaga complete`` and the demo; no protocol here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from lsprotocol.types import Position

from codesaga.cache import CompletionCache, TypeThrough, cache_key
from codesaga.context import Budget, CompletionContext, LineTokens, build_completion_context
from codesaga.documents import Document
from codesaga.engine import Engine, Generation, GenerationRequest
from codesaga.postprocess import Mode, max_tokens_for, postprocess
from codesaga.scheduler import Scheduler, Superseded
from codesaga.stats import DecodeClock, Stats

Source = Literal["model", "cache", "type-through"]


@dataclass(frozen=True)
class Suggestion:
    """A post-processed suggestion to insert at ``offset`` (str index); ``text`` may be empty
    (nothing worth showing). ``seconds`` is the time spent in the server."""

    text: str
    offset: int
    source: Source
    seconds: float
    generation: Generation | None = None


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

    async def complete(self, doc: Document, position: Position) -> Suggestion:
        """The suggestion at ``position``.

        Raises PositionError for a position outside the document, Superseded when a newer
        request for the same document (or ``$/cancelRequest``) cancelled this one, and
        EngineError when the engine fails.
        """
        started = time.perf_counter()
        ctx = self.context_at(doc, position)
        if "\x00" in ctx.prefix or "\x00" in ctx.suffix:  # binary content: nothing to suggest
            return self._answer("", ctx, "model", started)
        before = doc.text[: ctx.offset]
        rest = self.type_through.lookup(doc.uri, before)
        if rest is not None:
            self.type_through.remember(doc.uri, before, rest)
            return self._answer(rest, ctx, "type-through", started)

        prompt = self.prompt_for(ctx)
        max_tokens = max_tokens_for(ctx.mode, self.max_tokens)
        key = self.cache_key_for(ctx, prompt)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.type_through.remember(doc.uri, before, hit)
                return self._answer(hit, ctx, "cache", started)

        cancel = self.scheduler.begin(doc.uri)
        clock = DecodeClock()
        request = GenerationRequest(
            prompt=prompt,
            max_tokens=max_tokens,
            temperature=self.temperature,
            stop=[*self.engine.template.stop, *(["\n"] if ctx.mode is Mode.SINGLE_LINE else [])],
            cancel=cancel,
            should_stop=_line_limit(ctx.cursor.max_lines) if ctx.mode is Mode.MULTI_LINE else None,
            kv_key=doc.uri,
            on_text=clock.piece,
        )
        try:
            gen = await self.scheduler.run(cancel, lambda: self._generate(request, clock))
        finally:
            self.scheduler.finish(doc.uri, cancel)
        if gen.cancelled:
            self.stats.count("cancelled")
            raise Superseded()
        self.stats.tokens(gen.prompt_tokens, gen.reused_tokens, gen.completion_tokens)
        text = postprocess(heal(gen.text, healed_whitespace(ctx)), ctx.cursor, ctx.mode)
        if self.cache is not None:
            self.cache.put(key, text)
        self.type_through.remember(doc.uri, before, text)
        return self._answer(text, ctx, "model", started, gen)

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
        gen: Generation | None = None,
    ) -> Suggestion:
        seconds = time.perf_counter() - started
        self.stats.count(source)
        self.stats.latency(source, seconds)
        return Suggestion(text, ctx.offset, source, seconds, gen)


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


def _line_limit(max_lines: int) -> Callable[[str], bool]:
    def should_stop(text: str) -> bool:
        return text.count("\n") > max_lines

    return should_stop
