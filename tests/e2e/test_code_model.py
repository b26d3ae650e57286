"""The embedded default code model, Qwen2.5-Coder 0.5B from PyPI, with the real
llama-cpp-python and a real server: FIM prompts built from its own tokens."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from codesaga.engine import GenerationRequest
from codesaga.engine.llama import LlamaEngine
from codesaga.models import EMBEDDED_DEFAULT, auto_choice, registry

from .conftest import code_model, config, inline_params, start

pytestmark = pytest.mark.model


def test_assembled_from_pypi_and_used_by_auto(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = code_model()
    entry = registry()[EMBEDDED_DEFAULT]
    assert path.name == entry.file and path.stat().st_size == 491_400_064
    assert auto_choice(tmp_path) == EMBEDDED_DEFAULT  # its wheels are installed


def test_fim_template_from_the_gguf() -> None:
    engine = LlamaEngine(code_model(), n_ctx=2048)
    try:
        assert engine.architecture == "qwen2"
        assert engine.template.name == "qwen" and engine.template.uses_suffix
        prompt = engine.template.render(
            prefix="def add(a, b):\n    return ", suffix="\n\nprint(add(2, 3))\n", context=""
        )
        gen = engine.generate(GenerationRequest(prompt=prompt, max_tokens=8, temperature=0.0))
        assert gen.text.startswith("a + b"), gen.text
    finally:
        engine.close()


@pytest_lsp.fixture(config=config(CODESAGA_MODEL=str(code_model())), scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, client_capabilities("neovim@v0.11.0"), temperature=0.0)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio(loop_scope="module")
async def test_server_completes_in_the_middle(client: LanguageClient) -> None:
    uri = "file:///qwen/geometry.py"
    text = "def area(width, height):\n    return \n\nprint(area(3, 4))\n"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    result = await client.text_document_inline_completion_async(
        inline_params(uri, types.Position(line=1, character=11))
    )
    assert isinstance(result, types.InlineCompletionList) and result.items
    suggestion = result.items[0].insert_text
    assert isinstance(suggestion, str) and "width * height" in suggestion, suggestion
