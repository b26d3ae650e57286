"""The raw arm of ``codesaga eval``: the same GGUF driven by hand, as a user would script it.

One ``llama_cpp.Llama`` in the eval process, built as the server builds its own (same
``n_ctx`` and thread count, through :func:`codesaga.bench.local.load_engine_for_bench`); its
prompt is the model's own FIM prompt (the template :mod:`codesaga.prompts` detects from the
model's vocabulary, rendered with the whole prefix and suffix and nothing else) or, for a
prefix-only model, the prefix alone. The whole file goes in, truncated to fit the window
(the end of the prefix and the start of the suffix are kept). Greedy (temperature 0), stop
at the first line end, at most :data:`MAX_TOKENS` tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from codesaga.bench.local import load_engine_for_bench
from codesaga.engine.llama import LlamaEngine

MAX_TOKENS = 48
"""Most tokens generated per answer (both arms)."""
TEMPLATE_TOKENS = 16
"""Tokens kept free in the window for the FIM markers and BOS."""
SUFFIX_SHARE = 0.25
"""Most of the prompt budget the suffix may take when the file does not fit."""


def head_within(text: str, count: Callable[[str], int], budget: int) -> str:
    """The longest run of whole lines from the start of ``text`` whose tokens (``count``,
    summed line by line) stay within ``budget``."""
    kept: list[str] = []
    used = 0
    for line in text.splitlines(keepends=True):
        used += count(line)
        if used > budget:
            break
        kept.append(line)
    return "".join(kept)


def tail_within(text: str, count: Callable[[str], int], budget: int) -> str:
    """The longest run of whole lines from the end of ``text`` (the last, partial line
    always whole) whose tokens stay within ``budget``; the last line alone if even it is
    over (then cut to its last characters by ``count``)."""
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        used += count(line)
        if used > budget:
            break
        kept.append(line)
    if not kept and lines:
        last = lines[-1]
        while last and count(last) > budget:
            last = last[len(last) // 4 + 1 :]
        return last
    return "".join(reversed(kept))


def fit_window(
    prefix: str,
    suffix: str,
    count: Callable[[str], int],
    budget: int,
    suffix_share: float = SUFFIX_SHARE,
) -> tuple[str, str]:
    """(prefix, suffix) cut so that their tokens (by ``count``) fit ``budget``: unchanged when
    they fit; else the suffix keeps its first lines within ``suffix_share`` of the budget and
    the prefix its last lines within the rest."""
    if count(prefix) + count(suffix) <= budget:
        return prefix, suffix
    suffix = head_within(suffix, count, int(budget * suffix_share)) if suffix else ""
    prefix = tail_within(prefix, count, budget - count(suffix))
    return prefix, suffix


class RawArm:
    """The model loaded in this process; :meth:`complete` answers one task. Raises
    EngineError from the constructor when the model cannot be loaded."""

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int,
        n_threads: int,
        n_threads_batch: int,
        n_gpu_layers: int,
    ) -> None:
        self.engine: LlamaEngine = load_engine_for_bench(
            model_path,
            n_ctx=n_ctx,
            n_gpu_layers=n_gpu_layers,
            n_threads=n_threads,
            n_threads_batch=n_threads_batch,
            fim_family="auto",
        )

    @property
    def fim(self) -> bool:
        """Whether the model has FIM tokens (the suffix goes into the prompt)."""
        return self.engine.template.uses_suffix

    def prompt(self, prefix: str, suffix: str) -> str:
        """The model's own prompt for the whole file, truncated to fit the window."""
        template = self.engine.template
        budget = self.engine.n_ctx - MAX_TOKENS - TEMPLATE_TOKENS
        prefix, suffix = fit_window(
            prefix, suffix if self.fim else "", self.engine.count_tokens, budget
        )
        return template.render(prefix=prefix, suffix=suffix, context="")

    def complete(self, prefix: str, suffix: str) -> tuple[str, float]:
        """(answer, seconds) for the cursor between ``prefix`` and ``suffix``; the seconds
        include building the prompt, as the server's do."""
        started = time.perf_counter()
        template = self.engine.template
        tokens = self.engine.tokenize(self.prompt(prefix, suffix), bos=True)
        result = cast(
            dict[str, Any],
            self.engine.llm.create_completion(
                prompt=tokens,
                max_tokens=MAX_TOKENS,
                temperature=0.0,
                stop=["\n", *template.stop],
            ),
        )
        text = str(result["choices"][0]["text"])
        return text, time.perf_counter() - started

    def close(self) -> None:
        """Free the model."""
        self.engine.close()
