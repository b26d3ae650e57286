"""A scripted engine for fast unit tests of server logic (never the proof a feature works)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from codesaga.engine import Generation, GenerationRequest
from codesaga.engine.base import Candidate
from codesaga.prompts import FimTemplate, fim_templates


@dataclass
class FakeEngine:
    """Answers every prompt with ``answer``, streamed a character at a time; with ``block`` it
    waits until cancelled or ``release`` is set."""

    answer: str = "result"
    family: str = "none"
    n_ctx: int = 2048
    block: bool = False
    model_id: str = "fake:1"
    prompts: list[str] = field(default_factory=list)
    prefills: list[str] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    delay: float = 0.0
    """Seconds per streamed character."""

    @property
    def template(self) -> FimTemplate:
        return fim_templates()[self.family]

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def generate(self, request: GenerationRequest) -> Generation:
        if request.max_tokens == 0:  # a prefill: no text
            self.prefills.append(request.prompt)
            return Generation("", self.count_tokens(request.prompt), 0, 0, 0.0)
        self.prompts.append(request.prompt)
        self.started.set()
        if self.block:
            for _ in range(1000):
                if request.cancel.wait(0.01) or self.release.is_set():
                    break
        text = ""
        for piece in self.answer:  # streamed a character at a time
            if request.cancel.wait(self.delay):
                break
            text += piece
            if request.on_text is not None:
                request.on_text(piece)
            if request.should_stop is not None and request.should_stop(text):
                break
        return Generation(
            text=text,
            prompt_tokens=self.count_tokens(request.prompt),
            reused_tokens=0,
            completion_tokens=1,
            seconds=0.0,
            cancelled=request.cancel.is_set(),
        )

    def close(self) -> None:
        pass


@dataclass
class RankingFake(FakeEngine):
    """A FakeEngine with the RankingEngine capability: ``candidates`` gives ``choices`` (at
    most n) as they are; ``score`` gives each text one log-probability, ``preference[c]`` for
    the first choice ``c`` the text starts with after ``healed`` whitespace (-100.0 for none).
    The texts it scored are kept in ``scored``."""

    choices: list[str] = field(default_factory=list)
    preference: dict[str, float] = field(default_factory=dict)
    healed: str = ""
    scored: list[str] = field(default_factory=list)
    cancel_after_candidates: bool = False

    def candidates(self, request: GenerationRequest, n: int) -> list[Candidate]:
        out = [Candidate(text, (-1.0,)) for text in self.choices[:n]]
        if self.cancel_after_candidates:
            request.cancel.set()
        return out

    def score(self, request: GenerationRequest, texts: Sequence[str]) -> list[list[float]]:
        self.scored.extend(texts)
        out = []
        for text in texts:
            body = text[len(self.healed) :]
            best = max((c for c in self.preference if body.startswith(c)), key=len, default=None)
            out.append([self.preference[best] if best is not None else -100.0])
        return out
