"""What the server arm of ``codesaga bench`` records: each request as the client saw it, the
pause points, and the run as a whole. Plain data, filled in by :mod:`codesaga.bench.typist`,
:mod:`codesaga.bench.replay` and :class:`codesaga.bench.live.ServerArm`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types

__all__ = ["PausePoint", "Request", "ServerRun"]


@dataclass
class Request:
    """One inline-completion request as the client saw it. Times are ``perf_counter`` seconds.

    ``kind``: ``key`` (sent after a keystroke), ``pause`` (after an Enter the person then
    waits on) or ``accept`` (sent after a suggestion was accepted)."""

    kind: str
    sent: float
    done: float | None = None
    outcome: str | None = None
    """``result``, ``cancelled`` (the server answered RequestCancelled) or ``error``."""
    text: str = ""
    """The first item's text ("" for no item)."""
    source: str | None = None
    """Where the server's answer came from (``model``/``cache``/``type-through``), read from
    the item's command arguments; None without an item."""
    next_key: float | None = None
    """When the next key was sent (None: no key followed)."""
    cancel_sent: bool = False

    @property
    def seconds(self) -> float | None:
        """Client-side latency (None while pending)."""
        return None if self.done is None else self.done - self.sent

    @property
    def result_seconds(self) -> float | None:
        """Client-side latency of a result (None while pending, or for an error or a
        cancellation: those are no answer)."""
        return self.seconds if self.outcome == "result" else None

    @property
    def answered_before_next_key(self) -> bool:
        """A result (not an error) arrived before the next key was sent."""
        return (
            self.outcome == "result"
            and self.done is not None
            and (self.next_key is None or self.done <= self.next_key)
        )


@dataclass(frozen=True)
class PausePoint:
    """The document at a pause: the cursor is at ``offset`` (str index) = ``position``."""

    file: str
    language_id: str
    text: str
    offset: int
    position: types.Position


@dataclass
class ServerRun:
    """What the server arm measured."""

    requests: list[Request] = field(default_factory=list)
    pauses: list[PausePoint] = field(default_factory=list)
    accepted: int = 0
    accepted_chars: int = 0
    keys_typed: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    """The server's ``codesaga.stats`` answer at the end of the run."""
    peak_rss_bytes: int | None = None
    """VmHWM of the server process read from /proc by the client (None where unavailable)."""
    ready_seconds: float = 0.0
    messages: list[str] = field(default_factory=list)
    replay_generations: int | None = None
    """How many of the last ``stats["generations"]`` records the decode replay made (None: no
    replay)."""
    replay_errors: int = 0
    """Decode-replay requests the server answered with an error, or not at all."""
