"""The in-process engine with the real Gemma 3 270M GGUF and the real llama-cpp-python."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from codesaga.engine import GenerationRequest
from codesaga.engine.llama import LlamaEngine

from .conftest import FIXTURES, bundled_model

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def engine() -> Iterator[LlamaEngine]:
    eng = LlamaEngine(bundled_model(), n_ctx=2048)
    yield eng
    eng.close()


def test_family_detected_from_the_gguf(engine: LlamaEngine) -> None:
    assert engine.architecture == "gemma3"
    assert engine.template.name == "none"  # Gemma 3 has no FIM tokens: prefix-only


def test_generation_and_kv_reuse(engine: LlamaEngine) -> None:
    prompt = (FIXTURES / "cart.ts").read_text(encoding="utf-8").split("<CURSOR>")[0]
    cold = engine.generate(GenerationRequest(prompt=prompt, max_tokens=16, temperature=0.0))
    assert cold.text.strip() and cold.completion_tokens > 0
    warm = engine.generate(GenerationRequest(prompt=prompt + "t", max_tokens=16, temperature=0.0))
    # one more character: nearly the whole prompt comes from llama.cpp's KV cache
    assert warm.reused_tokens >= warm.prompt_tokens - 3
    assert warm.evaluated_tokens < cold.evaluated_tokens


def test_cancel_stops_within_one_token(engine: LlamaEngine) -> None:
    cancel = threading.Event()
    seen: list[str] = []

    def stop_after_first(text: str) -> bool:
        seen.append(text)
        cancel.set()  # as a newer request would, from another thread
        return False

    gen = engine.generate(
        GenerationRequest(
            prompt="def fibonacci(n):\n",
            max_tokens=64,
            temperature=0.0,
            cancel=cancel,
            should_stop=stop_after_first,
        )
    )
    assert gen.cancelled
    assert gen.completion_tokens <= 2
    assert len(seen) == 1


def test_prompt_too_long_is_an_engine_error(engine: LlamaEngine) -> None:
    from codesaga.engine import EngineError

    with pytest.raises(EngineError, match="context window"):
        engine.generate(GenerationRequest(prompt="x = 1\n" * 3000, max_tokens=8))


def test_switching_documents_restores_their_kv_state(engine: LlamaEngine) -> None:
    a = (FIXTURES / "cart.ts").read_text(encoding="utf-8").split("<CURSOR>")[0]
    b = (FIXTURES / "inventory.py").read_text(encoding="utf-8").split("<CURSOR>")[0]

    def ask(prompt: str, key: str) -> int:
        req = GenerationRequest(prompt=prompt, max_tokens=2, temperature=0.0, kv_key=key)
        return engine.generate(req).evaluated_tokens

    ask(a, "a.ts")
    ask(b, "b.py")
    # back to the first document, one character typed: its saved state is restored
    assert ask(a + "t", "a.ts") <= 3
    assert ask(b + "r", "b.py") <= 3


def test_a_prefill_fills_the_kv_cache_and_generates_nothing(engine: LlamaEngine) -> None:
    text = (FIXTURES / "orders.py").read_text(encoding="utf-8").replace("<CURSOR>", "")
    pre = engine.generate(GenerationRequest(prompt=text, max_tokens=0, kv_key="prefill.py"))
    assert pre.text == "" and pre.completion_tokens == 0 and not pre.cancelled
    assert engine.cached_prefix(engine.tokenize(text, bos=True)) == pre.prompt_tokens
    # a request at a cursor inside the prefilled text evaluates only its last tokens
    cursor = text.index("\n", len(text) // 2)
    req = GenerationRequest(prompt=text[:cursor], max_tokens=2, kv_key="prefill.py")
    assert engine.generate(req).evaluated_tokens <= 3


def test_a_cancelled_prompt_stops_between_batches_and_keeps_what_it_evaluated(
    engine: LlamaEngine,
) -> None:
    prompt = "".join(f"total_{i} = {i} * {i}\n" for i in range(110))  # ~1,400 tokens
    cancel = threading.Event()
    timer = threading.Timer(0.05, cancel.set)  # as a newer request would, mid-prompt
    timer.start()
    gen = engine.generate(
        GenerationRequest(prompt=prompt, max_tokens=8, cancel=cancel, kv_key="long.py")
    )
    timer.join()
    assert gen.cancelled and gen.text == ""
    held = engine.cached_prefix(engine.tokenize(prompt, bos=True))
    assert 0 < held < gen.prompt_tokens - engine.llm.n_batch  # stopped early, kept its part
    again = engine.generate(GenerationRequest(prompt=prompt, max_tokens=1, kv_key="long.py"))
    assert again.reused_tokens == held
