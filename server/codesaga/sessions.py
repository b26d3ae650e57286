"""One :class:`DocumentSession` per open document: everything the completion path keeps for it.

A session is created when the document is opened (``didOpen``) and dropped when it is closed
(``didClose``), which cancels whatever model work it still has. It owns the document's request
sequence, its generation in flight (:class:`~codesaga.completion.flight.Flight`), its prefill
and the suggestion last shown (for type-through). Sessions live on the event loop: nothing
here is touched from the model thread except the cancel events, which are thread-safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codesaga.completion.flight import Flight


@dataclass(frozen=True)
class Shown:
    """A suggestion shown at a point: ``before`` is the document text up to the cursor."""

    before: str
    suggestion: str


class DocumentSession:
    """The completion state of one open document (event loop only)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.requests = 0
        """Number of the latest completion request: work deferred for one request checks
        that no newer one came (see :meth:`is_latest`)."""
        self.flight: Flight | None = None
        """The latest generation, in flight or ended; requests join it while it predicts what
        the user typed."""
        self.prefill: threading.Event | None = None
        """Cancel event of the prefill in flight, if any."""
        self.shown: Shown | None = None
        """The suggestion last offered (type-through reuses it while the user types it)."""
        self.closed = False
        self._work: threading.Event | None = None

    def next_request(self) -> int:
        """Count a new completion request; returns its number."""
        self.requests += 1
        return self.requests

    def is_latest(self, number: int) -> bool:
        """Whether request ``number`` is still the latest and the document is still open."""
        return not self.closed and number == self.requests

    def begin_work(self) -> threading.Event:
        """A cancel event for new model work for this document (a generation or a prefill);
        the event of the work begun before it is set: the latest wins."""
        event = threading.Event()
        if self._work is not None:
            self._work.set()
        self._work = event
        return event

    def forget_model_state(self) -> None:
        """Drop what came from the engine (the model changed): the generation, the prefill
        and the suggestion shown; their work is cancelled."""
        if self._work is not None:
            self._work.set()
        self._work = None
        self.flight = None
        self.prefill = None
        self.shown = None

    def close(self) -> None:
        """The document was closed: cancel its work, keep nothing."""
        self.forget_model_state()
        self.closed = True


class Sessions:
    """The sessions of the open documents, by URI (event loop only)."""

    def __init__(self) -> None:
        self._sessions: dict[str, DocumentSession] = {}

    def open(self, uri: str) -> DocumentSession:
        """The session of ``uri``, created when the document is opened (a second ``didOpen``
        of an open document starts afresh)."""
        old = self._sessions.pop(uri, None)
        if old is not None:
            old.close()
        session = self._sessions[uri] = DocumentSession(uri)
        return session

    def find(self, uri: str) -> DocumentSession | None:
        """The session of ``uri``, or None when it is not open."""
        return self._sessions.get(uri)

    def get(self, uri: str) -> DocumentSession:
        """The session of ``uri``; one is opened for a document the server has but whose
        session was never opened (tools that drive the completer without didOpen)."""
        session = self._sessions.get(uri)
        return session if session is not None else self.open(uri)

    def close(self, uri: str) -> None:
        """Drop the session of ``uri`` (document closed); its model work is cancelled."""
        session = self._sessions.pop(uri, None)
        if session is not None:
            session.close()

    def forget_model_state(self) -> None:
        """Drop every session's engine-derived state (see
        :meth:`DocumentSession.forget_model_state`)."""
        for session in self._sessions.values():
            session.forget_model_state()
