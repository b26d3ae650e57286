"""Speculative lookahead: after a request is answered, prepare what the user will want next.

At the end of a line (single-line mode, nothing after the cursor) that is the next line's
suggestion; on a line that holds only indentation, the suggestion for the line after it,
should the user leave this one blank (see :func:`~codesaga.context.past_blank_line`). The
work is background: any other model work stops it (see :mod:`codesaga.scheduler`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from codesaga.context import CompletionContext, past_blank_line
from codesaga.postprocess import Mode, lookahead_stops, suggestion_stops
from codesaga.sessions import DocumentSession

if TYPE_CHECKING:
    from .generations import Generations


def looks_ahead(ctx: CompletionContext) -> bool:
    """Whether a generation for ``ctx`` goes on past the end of the line (single-line mode,
    nothing after the cursor on its line) to prepare the next line's suggestion."""
    return ctx.mode is Mode.SINGLE_LINE and not ctx.cursor.line_suffix.strip()


def keep_ahead_later(
    generations: Generations, session: DocumentSession, before: str, ctx: CompletionContext
) -> None:
    """Call :func:`keep_ahead` on the event loop's next turn, once the answer is on its way
    (a 0 s timer runs after the callbacks that the request's end has queued, which write the
    response), unless another request for the document came or it was closed."""
    seen = session.requests

    def later() -> None:
        if session.is_latest(seen):
            keep_ahead(generations, session, before, ctx)

    asyncio.get_running_loop().call_later(0, later)


def keep_ahead(
    generations: Generations, session: DocumentSession, before: str, ctx: CompletionContext
) -> None:
    """After a request at ``before`` was answered: make sure a generation prepares the next
    suggestion (see the module docstring).

    The document's generation in flight is kept going when it still predicts what was typed
    (see :meth:`~codesaga.completion.flight.Flight.look_ahead`); one that has ended and holds
    that suggestion is enough; otherwise, unless it failed or ended for good at this very
    point, a new generation starts, in the background."""
    blank = past_blank_line(ctx)
    if blank is not None:
        # the text before the cursor one Enter further: the window's text is replaced
        before, ctx = before[: len(before) - len(ctx.prefix)] + blank.prefix, blank
    elif not looks_ahead(ctx):
        return
    flight = generations.reusable(session, before, ctx)
    if flight is not None:
        typed = before[len(flight.before) :]
        if flight.result.done():
            ahead = flight.ahead(typed, flight.raw)
            if ahead is not None and (
                suggestion_stops(ahead, ctx.cursor, ctx.mode)
                if blank
                else lookahead_stops(ahead, ctx.cursor)
            ):
                return
            if flight.result.exception() is not None:
                return
            if not flight.result.result().cancelled and len(before) <= flight.lookahead_from:
                return  # it ended for good here: end of text, a stop string, its token bound
        elif not flight.diverged(typed, flight.raw):  # (reusable: not being stopped)
            flight.look_ahead(typed, ctx.cursor)
            return
    generations.stats.count("lookahead")
    prompt = generations.prompts.prompt_for(ctx)
    generations.start(session, before, ctx, prompt).speculative = True
