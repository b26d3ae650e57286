"""Special tokens never reach a suggestion, and near-empty documents get none unless asked."""

from __future__ import annotations

from lsprotocol import types

from codesaga.completion import Completer
from codesaga.completion.gate import near_empty
from codesaga.engine.special import is_special_user_token
from codesaga.lsp.completion import suggest
from codesaga.lsp.server import CodeSagaServer
from codesaga.postprocess import cut_at_special

from .fakes import FakeEngine

SPECIALS = frozenset({"<start_of_image>", "<unused7>", "[multimodal]", "<|fim_pad|>"})


def test_cut_at_special_finds_the_first_special_token_text() -> None:
    assert cut_at_special("x = 1<start_of_image>y", SPECIALS) == 5
    assert cut_at_special("<unused7>", SPECIALS) == 0
    assert cut_at_special("a[multimodal]b<unused7>", SPECIALS) == 1
    assert cut_at_special("<<|fim_pad|>", SPECIALS) == 1
    assert cut_at_special("if a < b <start_of_image>", SPECIALS) == 9
    assert cut_at_special("<table><tr>[0]", SPECIALS) is None  # ordinary markup and code
    assert cut_at_special("<start_of_image>", frozenset()) is None
    assert cut_at_special("<start_of_image> <unused7>", SPECIALS, start=1) == 17


def test_user_defined_tokens_count_as_special_only_when_shaped_like_markers() -> None:
    for marker in ("<start_of_image>", "<end_of_image>", "[multimodal]", "<tool_call>"):
        assert is_special_user_token(marker), marker
    for text in ("<table>", "</b>", "\n\n", "<h1>", "  ", "a_b"):
        assert not is_special_user_token(text), text


def test_near_empty() -> None:
    for text in ("", "\n\n", "  \t\n", "x", "de f", "a\n\nb\n c"[:4]):
        assert near_empty(text), repr(text)
    for text in ("def", "impo", "a b c d", "x" + " " * 100_000 + "yzw", "한글한글"):
        assert near_empty(text) == (len("".join(text.split())) < 4), repr(text)


async def test_a_near_empty_document_gets_nothing_unless_invoked() -> None:
    server = CodeSagaServer()
    engine = FakeEngine(answer="Hello, I am prose")
    server.model.use(
        engine, Completer(engine, server.scheduler, None, max_tokens=8, temperature=0.0)
    )
    server.store.open("file:///empty.py", "python", 1, "")
    server.store.open("file:///ws.py", "python", 1, "\n  \n")
    server.store.open("file:///code.py", "python", 1, "def f(x):\n    return ")
    start = types.Position(line=0, character=0)
    for uri in ("file:///empty.py", "file:///ws.py"):
        _doc, automatic = await suggest(server, uri, start)
        assert automatic.text == "" and not engine.prompts  # the model was not asked
    _doc, asked = await suggest(server, "file:///empty.py", start, fresh=True, invoked=True)
    assert asked.text.startswith("Hello") and engine.prompts
    _doc, code = await suggest(server, "file:///code.py", types.Position(line=1, character=11))
    assert code.text
