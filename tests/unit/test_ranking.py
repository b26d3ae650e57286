"""Suffix ranking's selection logic with a scripted ranking engine (the real model's side is in
tests/e2e/test_ranking.py)."""

from __future__ import annotations

import pytest

from codesaga.completion import Completer
from codesaga.completion.prompt import PromptBuilder
from codesaga.completion.ranking import (
    MARGIN,
    SAMPLE_TEMPERATURE,
    Ranked,
    not_repeating,
    rank,
    suffix_head,
    syntax_errors,
)
from codesaga.context import CompletionContext
from codesaga.documents import Document, DocumentStore
from codesaga.engine import GenerationRequest
from codesaga.engine.base import Candidate
from codesaga.scheduler import Scheduler
from codesaga.syntax import new_parser

from .fakes import FakeEngine, RankingFake

BEFORE = "def add(a, b):\n    return "
AFTER = "\n\n\nprint(add(2, 3))\n"


def context(engine: FakeEngine, before: str = BEFORE, after: str = AFTER) -> CompletionContext:
    doc = Document("file:///a.py", "python", 1, before + after)
    return PromptBuilder(engine, max_tokens=32, temperature=0.0).context_at(doc, len(before))


def ranked(engine: RankingFake, ctx: CompletionContext, n: int = 4) -> Ranked | None:
    request = GenerationRequest(prompt="p", max_tokens=16)
    return rank(engine, request, ctx, n, grammar="python", count_tokens=engine.count_tokens)


def test_the_best_scored_candidate_wins_and_is_scored_with_the_suffix() -> None:
    engine = RankingFake(
        choices=["a + b\n", "a - b\n", "a * b\n"],
        preference={"a + b": -3.0, "a - b": -1.0, "a * b": -2.0},
        healed=" ",
    )
    result = ranked(engine, context(engine))
    assert result == Ranked("a - b", 3, 3)
    # healed whitespace + candidate + the suffix's first lines, in candidate order
    assert engine.scored[0] == " a + b" + AFTER
    assert [text[1:6] for text in engine.scored] == ["a + b", "a - b", "a * b"]


def test_only_n_candidates_are_asked_for() -> None:
    engine = RankingFake(
        choices=["a + b\n", "a - b\n", "a * b\n"], preference={"a * b": 0.0}, healed=" "
    )
    result = ranked(engine, context(engine), n=2)
    assert result is not None and result.candidates == 2 and result.text != "a * b"


def test_a_candidate_that_breaks_the_syntax_loses_whatever_its_score() -> None:
    engine = RankingFake(
        choices=["a + (b\n", "a + b\n"], preference={"a + (b": 0.0, "a + b": -5.0}, healed=" "
    )
    result = ranked(engine, context(engine))
    assert result == Ranked("a + b", 2, 1)
    assert engine.scored == []  # one plausible candidate: nothing to score


def test_empty_and_duplicate_candidates_are_dropped_after_post_processing() -> None:
    engine = RankingFake(
        choices=["\n", "a + b  \n", "a + b\n", "a - b\n"],
        preference={"a - b": -1.0, "a + b": -2.0},
        healed=" ",
    )
    result = ranked(engine, context(engine))
    assert result == Ranked("a - b", 4, 2)
    assert len(engine.scored) == 2


def test_nothing_is_said_when_every_candidate_is_implausible() -> None:
    engine = RankingFake(choices=["((\n", "x = 1 +\n", "\n"], preference={"((": 0.0})
    ctx = context(engine, before="y = 1\n", after="\nz = 2\n")
    assert ranked(engine, ctx) == Ranked("", 3, 0)


class RecordingFake(RankingFake):
    """A RankingFake that keeps each ``candidates`` call's n and request temperature."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.asked: list[tuple[int, float]] = []

    def candidates(self, request: GenerationRequest, n: int) -> list[Candidate]:
        self.asked.append((n, request.temperature))
        return super().candidates(request, n)


def test_candidates_are_sampled_at_the_ranking_temperature() -> None:
    engine = RecordingFake(choices=["a + b\n", "a - b\n"], preference={"a - b": -1.0}, healed=" ")
    ranked(engine, context(engine), n=4)
    assert engine.asked == [(4, SAMPLE_TEMPERATURE)]
    assert SAMPLE_TEMPERATURE > 0.0


def test_without_code_after_the_cursor_the_greedy_answer_alone_is_asked_for() -> None:
    engine = RecordingFake(choices=["a + b\n", "a - b\n"], preference={"a - b": 0.0}, healed=" ")
    result = ranked(engine, context(engine, after="\n\n   \n"), n=4)
    assert result == Ranked("a + b", 1, 1)
    assert engine.asked[0][0] == 1 and engine.scored == []


def test_another_candidate_must_beat_the_greedy_one_by_the_margin() -> None:
    close = {"a + b": -2.0, "a - b": -2.0 + MARGIN / 2}
    engine = RankingFake(choices=["a + b\n", "a - b\n"], preference=close, healed=" ")
    assert ranked(engine, context(engine)) == Ranked("a + b", 2, 2)
    far = {"a + b": -2.0, "a - b": -2.0 + MARGIN * 2}
    engine = RankingFake(choices=["a + b\n", "a - b\n"], preference=far, healed=" ")
    assert ranked(engine, context(engine)) == Ranked("a - b", 2, 2)


def test_a_candidate_repeating_the_next_line_is_dropped() -> None:
    suffix = "\n\n    return total\n"
    assert not_repeating(["return total", "total += x"], suffix) == ["total += x"]
    assert not_repeating(["return total"], suffix) == ["return total"]
    assert not_repeating(["x = 1"], "") == ["x = 1"]
    engine = RankingFake(
        choices=["print(a)\n", "a + b\n"],
        preference={"print(a)": 0.0, "a + b": -5.0},
        healed=" ",
    )
    result = ranked(engine, context(engine, after="\n    print(a)\n"))
    assert result == Ranked("a + b", 2, 1)


def test_cancelled_ranking_answers_none() -> None:
    engine = RankingFake(choices=["a + b\n", "a - b\n"], cancel_after_candidates=True)
    assert ranked(engine, context(engine)) is None


def test_suffix_head_takes_lines_that_are_not_blank_within_the_token_cap() -> None:
    def count(text: str) -> int:
        return len(text)

    suffix = "):\n\n    x = 1\n    y = 2\n    z = 3\n"
    assert suffix_head(suffix, count, lines=3, max_tokens=100) == "):\n\n    x = 1\n    y = 2"
    assert suffix_head(suffix, count, lines=3, max_tokens=15) == "):\n\n    x = 1"
    assert suffix_head(suffix, count, lines=1, max_tokens=1) == ""
    assert suffix_head("", count) == ""


def test_syntax_errors_counts_error_and_missing_nodes() -> None:
    parser = new_parser("python")
    assert syntax_errors(parser, "x = 1\n") == 0
    assert syntax_errors(parser, "x = (1\n") >= 1
    assert syntax_errors(parser, "x = 1 +\ny = 2\nz = ]\n") > syntax_errors(parser, "x = 1 +\n")


TEXT = "def area(w, h):\n    return \n\nprint(area(2, 3))\n"
OFFSET = len("def area(w, h):\n    return ")


def ranking_completer(engine: FakeEngine, n: int) -> Completer:
    return Completer(engine, Scheduler(), None, max_tokens=32, temperature=0.0, rank_candidates=n)


async def test_an_invoked_request_of_a_prefix_only_model_is_ranked() -> None:
    engine = RankingFake(
        answer=" w + h\n",
        choices=["w + h\n", "w * h\n"],
        preference={"w * h": -1.0, "w + h": -2.0},
        healed=" ",
    )
    c = ranking_completer(engine, 4)
    doc = DocumentStore().open("file:///a.py", "python", 1, TEXT)
    invoked = await c.complete(doc, OFFSET, fresh=True)
    assert (invoked.text, invoked.source) == ("w * h", "model")
    assert c.stats.counts["ranked"] == 1 and c.stats.counts["ranking_candidates"] == 2
    assert len(c.stats.latencies_ms["ranking"]) == 1
    assert engine.prompts == []  # no greedy generation
    automatic = await c.complete(doc, OFFSET)  # typed-as-you-go: greedy
    assert automatic.text == "w + h" and len(engine.prompts) == 1


@pytest.mark.parametrize(("family", "n"), [("none", 1), ("qwen", 4)])
async def test_no_ranking_with_one_candidate_or_a_fim_template(family: str, n: int) -> None:
    engine = RankingFake(answer=" w + h\n", family=family, choices=["w * h\n", "w - h\n"])
    c = ranking_completer(engine, n)
    doc = DocumentStore().open("file:///a.py", "python", 1, TEXT)
    assert (await c.complete(doc, OFFSET, fresh=True)).text == "w + h"
    assert "ranked" not in c.stats.counts
