"""The real Gemma 3 model: its special tokens are known and never end up in an answer."""

from __future__ import annotations

import pytest

from codesaga.engine import GenerationRequest
from codesaga.engine.llama import LlamaEngine

from .conftest import bundled_model

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def engine() -> LlamaEngine:
    return LlamaEngine(bundled_model(), n_ctx=512, n_gpu_layers=0)


def test_gemma_special_tokens(engine: LlamaEngine) -> None:
    texts = engine.special.texts
    assert {"<start_of_image>", "<end_of_turn>", "<unused0>", "[multimodal]"} <= texts
    assert not {"<table>", "</b>", "\n\n"} & texts  # user-defined, but ordinary text
    assert engine.tokenize("<start_of_image>")[0] in engine.special.ids


def test_generation_ends_before_a_special_token(engine: LlamaEngine) -> None:
    # a prompt after which Gemma 3 270M greedily writes "<start_of_image>f<start_of_image>g..."
    streamed: list[str] = []
    request = GenerationRequest(
        prompt="a<start_of_image>b<start_of_image>c<start_of_image>d<start_of_image>e",
        max_tokens=12,
        temperature=0.0,
        on_text=streamed.append,
    )
    generation = engine.generate(request)
    assert "<start_of_image>" not in generation.text
    assert "<start_of_image>" not in "".join(streamed)
    assert generation.completion_tokens >= 1  # it did generate, and stopped at the marker
