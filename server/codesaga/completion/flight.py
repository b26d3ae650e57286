"""A document's generation in flight, shared by every request whose text it predicts.

Stopping criteria: the generation stops (llama-cpp-python's ``stopping_criteria``, checked on
the model thread after each piece) once every request waiting on it has its suggestion (each
request adds its own criterion) and the speculative lookahead criterion holds: the rest of the
line and the next line's suggestion, for the request furthest into the text (see
:meth:`Flight.look_ahead`), so while the user keeps typing what the model predicted the
generation stays one line ahead.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from codesaga.engine import Generation
from codesaga.postprocess import CursorContext, lookahead_stops

from .prompt import heal

Criterion = Callable[[str], bool]
"""A stopping criterion: True once the model's text so far is enough."""


@dataclass(eq=False)
class Flight:
    """One generation, and what the requests waiting on it need.

    ``before`` is the document text before the cursor when it started; ``raw`` the model's text
    so far (written on the model thread only: appended piece by piece, then set to the whole
    text when the generation ends), of which ``healed`` whitespace is already in the document
    (see :func:`~codesaga.completion.prompt.healed_whitespace`). ``ends`` holds the length of
    ``raw`` after each token. All other attributes are used on the event loop only.
    """

    before: str
    healed: str
    suffix: str
    """The suffix in the prompt ("" for prefix-only templates): a request with another one
    cannot use this generation."""
    cancel: threading.Event
    result: asyncio.Future[Generation]
    lookahead_criterion: Criterion
    lookahead_from: int
    """Length of the ``before`` of the request that set :attr:`lookahead_criterion`."""
    raw: str = ""
    ends: list[int] = field(default_factory=list)
    criteria: list[Criterion] = field(default_factory=list)
    """The stopping criteria of the requests waiting on it."""
    waiting: int = 0
    speculative: bool = False
    """A request got its answer from it, or it was started to look ahead: what it generates
    now is speculative lookahead (background work, see :meth:`is_background`)."""
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def should_stop(self, raw: str) -> bool:
        """Called on the model thread after each piece: True once every criterion holds."""
        return self.lookahead_criterion(raw) and all(c(raw) for c in list(self.criteria))

    def is_background(self) -> bool:
        """Whether nobody waits on it and what it generates is speculative lookahead."""
        return self.speculative and self.waiting == 0

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
        """Move :attr:`lookahead_criterion` to a request ``typed`` characters in (``cursor``
        its context) when that is further than the request that set it: the generation then
        goes on to the rest of that line and the next line's suggestion (see
        :func:`~codesaga.postprocess.lookahead_stops`). Nothing changes once it has ended."""
        at = len(self.before) + len(typed)
        if at <= self.lookahead_from or self.result.done():
            return

        def criterion(raw: str) -> bool:
            ahead = self.ahead(typed, raw)
            if ahead is None:
                return self.diverged(typed, raw)
            return lookahead_stops(ahead, cursor)

        self.lookahead_criterion, self.lookahead_from = criterion, at

    def notify(self) -> None:
        """Wake the requests waiting on this generation (new text, or it ended)."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def changed(self) -> None:
        """Wait for :meth:`notify`."""
        await self._changed.wait()

    def abandon(self) -> None:
        """Cancel the generation if no request is waiting on it and none was answered from it
        (once one was, what it generates is speculative lookahead, bounded by
        :attr:`lookahead_criterion`)."""
        if self.waiting == 0 and not self.speculative and not self.result.done():
            self.cancel.set()


def finished_lines(text: str) -> str:
    """``text`` up to and including its last newline ("" without one)."""
    return text[: text.rfind("\n") + 1]


def finished_words(text: str) -> str:
    """``text``'s first line without the run of word characters it ends with (the next
    token may continue that word); "" when no word is left whole."""
    kept = re.sub(r"\w+$", "", text.split("\n", 1)[0])
    return kept if re.search(r"\w", kept) else ""
