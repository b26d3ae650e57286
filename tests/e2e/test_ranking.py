"""The llama engine's ranking capability with the real Gemma 3 270M model (prefix-only)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from codesaga.engine.base import GenerationRequest, RankingEngine
from codesaga.engine.llama import LlamaEngine

from .conftest import bundled_model

pytestmark = pytest.mark.model

PROMPT = "def add(a, b):\n    return"


@pytest.fixture(scope="module")
def engine() -> Iterator[LlamaEngine]:
    loaded = LlamaEngine(bundled_model(), n_ctx=1024, n_threads=2)
    yield loaded
    loaded.close()


def one_line(prompt: str = PROMPT) -> GenerationRequest:
    return GenerationRequest(
        prompt=prompt, max_tokens=16, temperature=0.0, should_stop=lambda text: "\n" in text
    )


def test_the_engine_has_the_ranking_capability(engine: LlamaEngine) -> None:
    assert isinstance(engine, RankingEngine)
    assert not engine.template.uses_suffix


def test_candidates_are_distinct_single_lines_with_finite_log_probabilities(
    engine: LlamaEngine,
) -> None:
    candidates = engine.candidates(one_line(), 4)
    assert len(candidates) == 4
    assert len({c.text for c in candidates}) == 4
    for c in candidates:
        assert "\n" not in c.text.rstrip()  # it stopped at the token holding the newline
        assert c.logprobs and all(math.isfinite(p) and p <= 0.0 for p in c.logprobs)
    # the first candidate starts with the most likely token: it is the greedy answer's start
    greedy = engine.generate(one_line())
    assert greedy.text.startswith(candidates[0].text.split("\n")[0])


def test_sampled_candidates_start_with_the_greedy_answer_and_repeat_for_one_prompt(
    engine: LlamaEngine,
) -> None:
    sampled = one_line("def total(items):\n    result = 0\n    for item in items:\n       ")
    sampled.temperature = 0.8
    candidates = engine.candidates(sampled, 5)
    assert len(candidates) == 5
    for c in candidates:
        assert c.logprobs and all(math.isfinite(p) and p <= 0.0 for p in c.logprobs)
    greedy = engine.generate(one_line(sampled.prompt))
    assert greedy.text.startswith(candidates[0].text.split("\n")[0])
    # sampling is seeded: the same prompt gives the same candidates
    assert [c.text for c in engine.candidates(sampled, 5)] == [c.text for c in candidates]


def test_scores_are_finite_and_favour_the_candidate_the_suffix_confirms(
    engine: LlamaEngine,
) -> None:
    prompt = "def greet(name):\n    message ="
    suffix = "\n    return message\n\n\nassert greet('Bob') == 'Hello, Bob'\n"
    right, wrong = ' "Hello, " + name', ' "Goodbye, " + name'
    request = one_line(prompt)
    with_suffix = engine.score(request, [right + suffix, wrong + suffix])
    alone = engine.score(request, [right, wrong])
    assert all(math.isfinite(p) and p <= 0.0 for s in with_suffix + alone for p in s)
    assert sum(with_suffix[0]) > sum(with_suffix[1])
    # the suffix itself is likelier after the candidate it confirms
    suffix_part = [sum(w) - sum(a) for w, a in zip(with_suffix, alone, strict=True)]
    assert suffix_part[0] > suffix_part[1]


def test_generate_after_ranking_reuses_the_prompt_and_answers_as_before(
    engine: LlamaEngine,
) -> None:
    before = engine.generate(one_line())
    engine.candidates(one_line(), 4)
    engine.score(one_line(), [" a + b\n\n\nprint(add(1, 2))\n", " a * b\n"])
    after = engine.generate(one_line())
    assert after.text == before.text
    assert after.reused_tokens == after.prompt_tokens


def test_cancelled_ranking_leaves_the_engine_usable(engine: LlamaEngine) -> None:
    before = engine.generate(one_line())
    cancelled = one_line()
    cancelled.cancel.set()
    assert engine.candidates(cancelled, 4) == []
    assert engine.score(cancelled, [" a + b"]) == []
    assert engine.generate(one_line()).text == before.text
