"""Prefetch after acceptance: once the client has inserted an accepted suggestion, compute the
next one at the new cursor, so that the user's next request is answered from the cache."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from codesaga.documents import Document
from codesaga.errors import Superseded

from .completer import Completer, Suggestion


async def prefetch_after_accept(
    completer: Completer, uri: str, latest: Callable[[], Document], wait_seconds: float = 1.0
) -> Suggestion | None:
    """Wait until the document (polled through ``latest()``, for at most ``wait_seconds``)
    holds the suggestion last shown for ``uri``, then complete at its end. None when the
    document did not become what acceptance implies, or when a newer request superseded the
    prefetch."""
    session = completer.sessions.find(uri)
    shown = session.shown if session is not None else None
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
    completer.stats.count("prefetch")
    try:
        return await completer.complete(doc, len(accepted))
    except Superseded:
        return None
