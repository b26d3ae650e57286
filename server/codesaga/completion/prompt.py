"""The completion context, the model's prompt and the exact-cache key for a cursor.

Token counts are model tokens; offsets are str indices (code points) into the document text.
"""

from __future__ import annotations

from dataclasses import replace

from codesaga.cache import cache_key
from codesaga.context import (
    Budget,
    CompletionContext,
    LineTokens,
    build_completion_context,
    first_window_end,
)
from codesaga.documents import Document
from codesaga.engine import Engine
from codesaga.postprocess import max_tokens_for

from .repo_context import RepoMemo, RepoSource


class PromptBuilder:
    """Builds what a completion sends to ``engine``: the context within the token budget, the
    FIM (or prefix-only) prompt, and the key of the answer in the exact cache.

    ``repo`` gives the repository context, at most ``repo_tokens`` model tokens of it (none
    without a source or with 0 tokens)."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_tokens: int,
        temperature: float,
        repo: RepoSource | None = None,
        repo_tokens: int = 0,
    ) -> None:
        self.engine = engine
        self.line_tokens = LineTokens(engine.count_tokens)
        self.repo = repo
        self.repo_memo = RepoMemo()
        self.repo_tokens = repo_tokens
        self.configure(max_tokens=max_tokens, temperature=temperature)

    def configure(self, *, max_tokens: int, temperature: float) -> None:
        """Apply new generation settings (the context budget depends on ``max_tokens``)."""
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.budget = Budget.for_window(
            self.engine.n_ctx,
            max_tokens,
            self.engine.template.uses_suffix,
            repo=self.repo_tokens if self.repo is not None else 0,
        )

    def use_repo(self, repo: RepoSource | None, repo_tokens: int) -> None:
        """Take at most ``repo_tokens`` of repository context from ``repo`` from now on (None
        or 0: no repository context)."""
        self.repo, self.repo_tokens = repo, repo_tokens
        self.configure(max_tokens=self.max_tokens, temperature=self.temperature)

    def context_at(self, doc: Document, offset: int) -> CompletionContext:
        """The completion context at str ``offset``, with the repository context when there is
        a source (raises PositionError outside the document)."""
        ctx = build_completion_context(doc, offset, self.line_tokens, self.budget)
        source = self.repo
        if source is None or self.budget.repo <= 0:
            return ctx
        budget = self.budget.repo
        repo = self.repo_memo.get(
            source,
            doc,
            offset,
            ctx.window_start_line,
            lambda: source.repo_prompt(doc, offset, budget, self.engine.count_tokens),
        )
        return replace(ctx, repo=repo)

    def first_window(self, doc: Document) -> CompletionContext:
        """The context of a cursor at the end of ``doc``'s first prefix window (from its first
        line on, as far as the budget reaches: :func:`first_window_end`). The prompt of a
        cursor anywhere in that window starts with the same text."""
        return self.context_at(doc, first_window_end(doc, self.line_tokens, self.budget))

    def prompt_for(self, ctx: CompletionContext) -> str:
        """Render the model's FIM (or prefix-only) template for ``ctx``.

        Trailing spaces/tabs after code on the cursor's line are left out of the prompt (see
        :func:`healed_whitespace`).
        """
        tpl = self.engine.template
        prefix = ctx.prefix[: len(ctx.prefix) - len(healed_whitespace(ctx))]
        return tpl.render(
            prefix=prefix, suffix=self.suffix_in_prompt(ctx), context=ctx.context, repo=ctx.repo
        )

    def suffix_in_prompt(self, ctx: CompletionContext) -> str:
        """The code after the cursor as the prompt holds it ("" for prefix-only templates)."""
        return ctx.suffix if self.engine.template.uses_suffix else ""

    def token_bound(self, ctx: CompletionContext) -> int:
        """The most tokens a request for ``ctx`` generates (see :func:`max_tokens_for`)."""
        return max_tokens_for(ctx.mode, self.max_tokens)

    def cache_key_for(self, ctx: CompletionContext, prompt: str) -> str:
        """The exact-cache key: the model, the rendered prompt, the generation parameters and
        the post-processing inputs."""
        return cache_key(
            model=self.engine.model_id,
            template=self.engine.template.name,
            prompt=prompt,
            max_tokens=self.token_bound(ctx),
            temperature=self.temperature,
            mode=ctx.mode.value,
            cursor=[ctx.cursor.line_suffix, ctx.cursor.following, ctx.cursor.previous_line],
        )


def healed_whitespace(ctx: CompletionContext) -> str:
    """Spaces/tabs that end the cursor's line prefix after some code ("" on a blank line).

    Code tokens usually carry their leading space (" tag"), so a prompt that ends in a space
    pushes a model towards unlikely tokens (often a newline). These characters are cut from the
    prompt and then from the start of the model's answer ("token healing").
    """
    line_prefix = ctx.cursor.line_prefix
    stripped = line_prefix.rstrip(" \t")
    return line_prefix[len(stripped) :] if stripped.strip() else ""


def heal(raw: str, healed: str) -> str:
    """Remove the healed whitespace again from the start of the model's answer."""
    if not healed:
        return raw
    return raw[len(healed) :] if raw.startswith(healed) else raw.lstrip(" \t")
