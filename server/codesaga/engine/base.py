"""The Engine protocol every backend implements, and the value types it exchanges."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypedDict, runtime_checkable

from codesaga.errors import CodeSagaError
from codesaga.prompts import FimTemplate


class ChatMessage(TypedDict):
    """One turn of a conversation: role is ``system``, ``user`` or ``assistant``."""

    role: str
    content: str


class EngineError(CodeSagaError):
    """The engine could not load or generate; the message is meant for the user."""


@dataclass
class GenerationRequest:
    """One generation.

    ``max_tokens`` and the counts in :class:`Generation` are model tokens; ``max_tokens`` 0
    only evaluates the prompt into the engine's KV cache (a prefill; engines without one do
    nothing). ``cancel`` is set by the scheduler when the request is cancelled or superseded;
    the engine checks it before every token. ``should_stop(text_so_far)`` lets post-processing
    end a stream early.
    """

    prompt: str
    max_tokens: int
    temperature: float = 0.2
    stop: list[str] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    should_stop: Callable[[str], bool] | None = None
    on_text: Callable[[str], None] | None = None
    """Called with each new piece of text as it is decoded (streaming)."""
    kv_key: str | None = None
    """What the prompt belongs to (a document URI, a chat session): engines that keep KV
    state per key restore it when requests switch between keys."""


@dataclass
class Generation:
    """The outcome of a generation. Times are seconds."""

    text: str
    prompt_tokens: int
    reused_tokens: int
    completion_tokens: int
    seconds: float
    cancelled: bool = False

    @property
    def evaluated_tokens(self) -> int:
        """Prompt tokens the engine had to evaluate (not reused from its KV cache)."""
        return self.prompt_tokens - self.reused_tokens


class Engine(Protocol):
    """A loaded model. ``generate`` blocks; callers run it in a worker thread, one at a time."""

    model_id: str
    """Stable identity of the model (file name and size), part of every cache key."""

    @property
    def template(self) -> FimTemplate:
        """The FIM family's template for this model."""
        ...

    @property
    def n_ctx(self) -> int:
        """Context window in tokens."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in ``text`` (no BOS)."""
        ...

    def generate(self, request: GenerationRequest) -> Generation:
        """Run one generation; returns early (``cancelled=True``) once ``request.cancel`` is set.

        Raises EngineError when the prompt does not fit the context window.
        """
        ...

    def chat(self, messages: Sequence[ChatMessage], request: GenerationRequest) -> Generation:
        """Answer a conversation (``request.prompt`` is ignored; the messages are formatted with
        the model's own chat template, or ``prompts/chat.yaml`` when it has none)."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...


@dataclass(frozen=True)
class Candidate:
    """One continuation of a prompt from :meth:`RankingEngine.candidates`: ``text`` as
    decoded (stop string excluded), ``logprobs`` the natural-log probability of each of its
    generated tokens given the prompt and the tokens before it."""

    text: str
    logprobs: tuple[float, ...]


@runtime_checkable
class CpuSharingEngine(Protocol):
    """An optional engine capability: an engine that runs on this machine's CPU says whether
    other processes are taking part of it now (the completer then answers sooner with
    shorter suggestions, see :mod:`codesaga.completion.generations`)."""

    def cpu_contended(self) -> bool:
        """Whether other processes kept part of a core busy at the latest decode (more than
        the engine leaves them, an editor's or a terminal's share)."""
        ...


@runtime_checkable
class RankingEngine(Protocol):
    """An optional engine capability: several continuations of one prompt, and the
    likelihood of given texts after it. The completer ranks candidates with it for
    prefix-only templates (see :mod:`codesaga.completion.ranking`). Both methods leave the
    engine's KV cache holding the prompt, so a following ``generate`` of the same prompt
    reuses it."""

    def candidates(self, request: GenerationRequest, n: int) -> list[Candidate]:
        """Up to ``n`` continuations of ``request.prompt``: with ``request.temperature`` 0,
        the ``n`` most likely distinct first tokens, each continued greedily; otherwise the
        greedy continuation first, then ``n - 1`` sampled at that temperature (they may
        repeat one another; the same prompt gives the same ones). Each ends before a stop
        string, at an end-of-generation token, once ``request.should_stop(text)`` holds or
        after ``request.max_tokens`` tokens. Fewer come back once ``request.cancel`` is set.

        Raises EngineError when the prompt does not fit the context window."""
        ...

    def score(self, request: GenerationRequest, texts: Sequence[str]) -> list[list[float]]:
        """The natural-log probability of each token of each of ``texts`` (tokenized on its
        own, no BOS) as a continuation of ``request.prompt``. A text is cut where it would
        overflow the context window. Fewer lists come back once ``request.cancel`` is set.

        Raises EngineError when the prompt does not fit the context window."""
        ...
