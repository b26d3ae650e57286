"""Repository context in completion prompts: placement, budget, and how long it is kept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from codesaga.completion.prompt import PromptBuilder
from codesaga.context import Budget
from codesaga.documents import Document, DocumentStore
from codesaga.prompts import RepoFile, RepoPrompt

from .fakes import FakeEngine

TEXT = "".join(f"x{i} = helper({i})\n" for i in range(60))


@dataclass
class CountingSource:
    """A repository context source that says which cursor line it was asked for."""

    generation: int = 0
    asked: list[int] = field(default_factory=list)
    budgets: list[int] = field(default_factory=list)

    def repo_prompt(
        self, doc: Document, offset: int, budget: int, count_tokens: Callable[[str], int]
    ) -> RepoPrompt:
        line = doc.line_at(offset)
        self.asked.append(line)
        self.budgets.append(budget)
        text = f"def helper(n):  # asked at line {line}"
        return RepoPrompt(files=(RepoFile("lib.py", text),), path="a.py", repo_name="r")


def builder(source: CountingSource | None, tokens: int = 200) -> PromptBuilder:
    return PromptBuilder(
        FakeEngine(family="qwen"), max_tokens=32, temperature=0.0, repo=source, repo_tokens=tokens
    )


def doc() -> Document:
    return DocumentStore().open("file:///w/a.py", "python", 0, TEXT)


def test_repository_context_heads_the_prompt_within_its_budget() -> None:
    source = CountingSource()
    prompts = builder(source)
    d = doc()
    ctx = prompts.context_at(d, d.line_start(20) + 3)
    prompt = prompts.prompt_for(ctx)
    assert prompt.startswith("<|repo_name|>r\n<|file_sep|>lib.py\ndef helper(n):")
    assert prompt.index("<|file_sep|>a.py\n") < prompt.index("<|fim_prefix|>")
    assert source.budgets == [prompts.budget.repo] and prompts.budget.repo == 200
    # the file's own windows shrink by what the repository context may use
    plain = Budget.for_window(2048, 32, uses_suffix=True)
    assert prompts.budget.prefix + prompts.budget.suffix + prompts.budget.context < (
        plain.prefix + plain.suffix + plain.context
    )


def test_kept_while_typing_on_the_same_stretch_of_lines() -> None:
    source = CountingSource()
    prompts = builder(source)
    d = doc()
    first = prompts.prompt_for(prompts.context_at(d, d.line_start(20) + 2))
    again = prompts.prompt_for(prompts.context_at(d, d.line_start(21) + 5))
    assert source.asked == [20]  # computed once: the prompt head is unchanged
    head = first[: first.index("<|fim_prefix|>")]
    assert again.startswith(head)
    prompts.context_at(d, d.line_start(40))  # another stretch of the file
    assert source.asked == [20, 40]


def test_a_new_index_state_refreshes_it() -> None:
    source = CountingSource()
    prompts = builder(source)
    d = doc()
    prompts.context_at(d, d.line_start(20))
    source.generation += 1
    prompts.context_at(d, d.line_start(20))
    assert source.asked == [20, 20]


def test_none_without_a_source_or_budget() -> None:
    d = doc()
    for prompts in (builder(None), builder(CountingSource(), tokens=0)):
        ctx = prompts.context_at(d, d.line_start(20))
        assert ctx.repo.files == ()
        assert not prompts.prompt_for(ctx).startswith("<|repo_name|>")
    prompts = builder(CountingSource())
    prompts.use_repo(None, 0)
    assert prompts.budget == Budget.for_window(2048, 32, uses_suffix=True)
    assert prompts.context_at(d, 0).repo.files == ()


def test_budget_takes_at_most_a_third_of_the_window() -> None:
    budget = Budget.for_window(1024, 64, uses_suffix=True, repo=10_000)
    total = 1024 - 64 - 8
    assert budget.repo == total // 3
    assert budget.prefix + budget.suffix + budget.context + budget.repo == total
