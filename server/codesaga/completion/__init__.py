"""Inline completion: context → prompt → (type-through | cache | join a generation | new
generation) → post-processing, with speculative lookahead and prefill in the background.

Modules, one job each: :mod:`.completer` (the orchestrator), :mod:`.prompt` (context, prompt
and cache key), :mod:`.typethrough`, :mod:`.flight` (a generation shared by requests, its
stopping criteria), :mod:`.generations` (starting and joining them), :mod:`.lookahead`,
:mod:`.prefill`, :mod:`.prefetch` (after acceptance).
"""

from .completer import Completer, Suggestion
from .generations import Source

__all__ = ["Completer", "Source", "Suggestion"]
