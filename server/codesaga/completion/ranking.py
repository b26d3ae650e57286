"""Suffix ranking: let the code after the cursor choose among candidates, for prefix-only models.

Models without FIM tokens see only the prefix, so the code after the cursor cannot steer their
answer. Ranking makes it count afterwards: the engine gives several candidates for the prompt
(the greedy answer, then samples at :data:`SAMPLE_TEMPERATURE`); each is post-processed as a
generation's answer would be; empty and duplicate ones are dropped, and so are candidates that
repeat the next line; a tree-sitter parse of prefix + candidate + suffix rejects candidates
that add syntax errors; and the one under which the model finds the document most likely --
the candidate plus the first lines of the suffix after it, given the prompt -- wins if it
beats the greedy answer by :data:`MARGIN`. With no code after the cursor there is nothing to
rank by and the greedy answer alone is asked for. Offsets and lengths are str characters;
token counts are model tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from tree_sitter import Parser

from codesaga.context import CompletionContext
from codesaga.engine.base import GenerationRequest, RankingEngine
from codesaga.postprocess import postprocess, suggestion_stops
from codesaga.syntax import new_parser

from .prompt import heal, healed_whitespace

SUFFIX_LINES = 2
"""Lines of the code after the cursor scored after each candidate: the rest of the cursor's
line counts as the first. Measured (60 HumanEval single-line holes, Gemma 3 270M, 4
candidates): 2 and 3 lines chose equally well; 2 costs less."""

SAMPLE_TEMPERATURE = 0.7
"""Temperature of the sampled candidates (the first candidate is the greedy answer)."""

MARGIN = 1.0
"""Natural-log margin by which another candidate's score must beat the greedy answer's."""

SUFFIX_TOKENS = 48
"""The most model tokens of suffix scored; lines are dropped from the end until it fits."""


@dataclass(frozen=True)
class Ranked:
    """The outcome of :func:`rank`: ``text`` is the suggestion ("" when every candidate was
    empty, a duplicate or broke the syntax); ``candidates`` how many the engine gave,
    ``plausible`` how many were left to score."""

    text: str
    candidates: int
    plausible: int


def rank(
    engine: RankingEngine,
    request: GenerationRequest,
    ctx: CompletionContext,
    n: int,
    *,
    grammar: str | None,
    count_tokens: Callable[[str], int],
) -> Ranked | None:
    """Rank ``n`` candidates for ``request.prompt`` (a prefix-only prompt of ``ctx``) by the
    log-likelihood (summed over tokens) of candidate + the first :data:`SUFFIX_LINES` lines of
    ``ctx.suffix`` (see the module docstring for the whole procedure).
    ``request.should_stop`` is replaced by the single suggestion's stopping criterion and
    ``request.temperature`` by :data:`SAMPLE_TEMPERATURE`. ``grammar`` (a
    :data:`codesaga.syntax.GRAMMARS` name, or None for no syntax check) parses the windows.
    Returns None once ``request.cancel`` is set.

    Raises EngineError when the engine fails.
    """
    healed = healed_whitespace(ctx)

    def stops(raw: str) -> bool:
        return suggestion_stops(heal(raw, healed), ctx.cursor, ctx.mode)

    request.should_stop = stops
    request.temperature = SAMPLE_TEMPERATURE
    head = suffix_head(ctx.suffix, count_tokens)
    if not head.strip():
        n = 1  # nothing after the cursor to judge by: the greedy answer alone
    candidates = engine.candidates(request, n)
    if request.cancel.is_set():
        return None
    texts = _distinct(postprocess(heal(c.text, healed), ctx.cursor, ctx.mode) for c in candidates)
    greedy = texts[0] if texts else None
    if grammar is not None:
        texts = plausible(texts, ctx.prefix, ctx.suffix, new_parser(grammar))
    texts = not_repeating(texts, ctx.suffix)
    if len(texts) <= 1:
        return Ranked(texts[0] if texts else "", len(candidates), len(texts))
    scores = engine.score(request, [healed + text + head for text in texts])
    if request.cancel.is_set() or len(scores) < len(texts):
        return None
    totals = [sum(score) for score in scores]
    # the sum (the document's log-likelihood), not the mean per token: the mean never chose
    # better on the HumanEval holes and chose worse on some; ties: the earlier candidate
    best = max(range(len(texts)), key=lambda i: totals[i])
    if greedy in texts and totals[best] < totals[texts.index(greedy)] + MARGIN:
        best = texts.index(greedy)
    return Ranked(texts[best], len(candidates), len(texts))


def not_repeating(texts: Sequence[str], suffix: str) -> list[str]:
    """The ``texts`` that are not the first non-blank line after the cursor's line (all of
    them when every one is): a candidate that repeats the next line is a stutter."""
    following = next((line.strip() for line in suffix.split("\n")[1:] if line.strip()), None)
    kept = [text for text in texts if text.strip() != following]
    return kept or list(texts)


def suffix_head(
    suffix: str,
    count_tokens: Callable[[str], int],
    lines: int = SUFFIX_LINES,
    max_tokens: int = SUFFIX_TOKENS,
) -> str:
    """The first ``lines`` lines of ``suffix`` (the rest of the cursor's line counting as the
    first; blank lines do not count), fewer when they exceed ``max_tokens`` model tokens."""
    parts = suffix.split("\n")
    end = 0
    taken = 0
    while end < len(parts) and taken < lines:
        taken += bool(parts[end].strip())
        end += 1
    while end > 0:
        head = "\n".join(parts[:end])
        if count_tokens(head) <= max_tokens:
            return head
        end -= 1
    return ""


def plausible(texts: Sequence[str], prefix: str, suffix: str, parser: Parser) -> list[str]:
    """The ``texts`` whose insertion between ``prefix`` and ``suffix`` leaves no more syntax
    errors (ERROR and MISSING nodes) than the best of: nothing inserted, any of ``texts``."""
    counts = [syntax_errors(parser, prefix + text + suffix) for text in texts]
    allowed = min([syntax_errors(parser, prefix + suffix), *counts])
    return [text for text, count in zip(texts, counts, strict=True) if count <= allowed]


def syntax_errors(parser: Parser, text: str) -> int:
    """ERROR and MISSING nodes in ``parser``'s tree of ``text`` (encoded as UTF-8)."""
    root = parser.parse(text.encode("utf-8")).root_node
    if not root.has_error:
        return 0
    count = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
        stack.extend(child for child in node.children if child.has_error or child.is_missing)
    return count


def _distinct(texts: Iterable[str]) -> list[str]:
    """Non-empty ``texts``, first occurrences only, in order."""
    return list(dict.fromkeys(text for text in texts if text))
