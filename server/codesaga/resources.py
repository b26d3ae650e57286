"""Locate the data files that ship inside the wheel: ``prompts/`` and ``models/registry.toml``.

In a wheel they live in ``codesaga/_data/`` (hatchling ``force-include``); in an editable
install or a source checkout they are read from the repository root.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def data_root() -> Path:
    """Directory that holds ``prompts/`` and ``models/`` (raises FileNotFoundError if neither)."""
    package = Path(__file__).resolve().parent
    for root in (package / "_data", package.parents[1]):
        if (root / "prompts").is_dir() and (root / "models" / "registry.toml").is_file():
            return root
    raise FileNotFoundError("codesaga data files (prompts/, models/registry.toml) are missing")


def prompts_dir() -> Path:
    """The ``prompts/`` directory."""
    return data_root() / "prompts"


def registry_file() -> Path:
    """The ``models/registry.toml`` file."""
    return data_root() / "models" / "registry.toml"
