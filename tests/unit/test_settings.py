"""Settings: camelCase keys, sources and their order, validation, deep merge."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from codesaga.settings import Settings, merge
from codesaga.validation import describe


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(__import__("os").environ):
        if key.startswith("CODESAGA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CODESAGA_CONFIG", str(tmp_path / "absent.toml"))


def test_defaults() -> None:
    s = Settings()
    assert (s.model, s.backend, s.gpu_layers, s.context_size, s.language) == (
        "auto",
        "llama",
        -1,
        2048,
        "auto",
    )


def test_camel_case_keys_from_the_client() -> None:
    s = Settings(**{"gpuLayers": 0, "maxTokens": 32, "openai": {"baseUrl": "http://127.0.0.1:9"}})
    assert s.gpu_layers == 0 and s.max_tokens == 32
    assert s.openai.base_url == "http://127.0.0.1:9"


def test_sources_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('maxTokens = 40\ncontextSize = 4096\nlanguage = "ko"\n', encoding="utf-8")
    monkeypatch.setenv("CODESAGA_CONFIG", str(config))
    monkeypatch.setenv("CODESAGA_MAX_TOKENS", "50")
    s = Settings(**{"contextSize": 1024})
    assert s.context_size == 1024  # client beats env and file
    assert s.max_tokens == 50  # env beats file
    assert s.language == "ko"  # file beats defaults


def test_invalid_values_name_the_key() -> None:
    with pytest.raises(ValidationError) as exc:
        Settings(**{"maxTokens": -1, "backend": "gpt"})
    text = describe(exc.value)
    assert "maxTokens" in text and "backend" in text


def test_merge_is_deep_and_pure() -> None:
    base = {"openai": {"baseUrl": "a", "model": "m"}, "maxTokens": 1}
    out = merge(base, {"openai": {"baseUrl": "b"}})
    assert out == {"openai": {"baseUrl": "b", "model": "m"}, "maxTokens": 1}
    assert base["openai"] == {"baseUrl": "a", "model": "m"}


@pytest.mark.parametrize(
    ("language", "locale", "expected"),
    [("auto", "ko-KR", "ko"), ("auto", "en-US", "en"), ("auto", None, "en"), ("ko", "en", "ko")],
)
def test_response_language(language: str, locale: str | None, expected: str) -> None:
    assert Settings(language=language).response_language(locale) == expected
