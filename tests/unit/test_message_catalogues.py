"""Every message catalogue has every key in English and Korean: the server's
(``prompts/messages.yaml``), the code actions' (``prompts/actions/messages.yaml``) and the
VS Code extension's (``editors/vscode/package.nls.json`` / ``package.nls.ko.json``, which
``package.json`` refers to as ``%key%``)."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

import pytest

from codesaga.errors import CodeSagaError
from codesaga.prompts import MESSAGE_FILES, SERVER_MESSAGES_FILE, prompt_file
from codesaga.texts import error, say

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server" / "codesaga"
VSCODE = ROOT / "editors" / "vscode"
LANGUAGES = ("en", "ko")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


@pytest.mark.parametrize("relative", MESSAGE_FILES)
def test_every_catalogue_key_has_every_language(relative: str) -> None:
    table = prompt_file(relative)
    assert table
    for key, entry in table.items():
        assert isinstance(entry, dict) and set(entry) == set(LANGUAGES), f"{relative}: {key}"
        for lang in LANGUAGES:
            assert isinstance(entry[lang], str) and entry[lang].strip(), f"{key}.{lang}"
        assert placeholders(entry["en"]) == placeholders(entry["ko"]), key
        assert hangul(entry["ko"]), f"{relative}: {key}.ko is not Korean"


def said_keys() -> set[str]:
    """Keys the server code passes to ``codesaga.texts`` (``say("k", ...)``,
    ``error(Kind, "k", ...)``) or to its catalogue by name (``"engine.unknown_family"``)."""
    keys: set[str] = set()
    for path in SERVER.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        if "codesaga.texts" not in source and "SERVER_MESSAGES_FILE" not in source:
            continue
        keys.update(re.findall(r"\bsay\(\s*\"([\w.]+)\"", source))
        keys.update(re.findall(r"\berror\(\s*\w+,\s*\"([\w.]+)\"", source))
        keys.update(re.findall(r"SERVER_MESSAGES_FILE,\s*\"([\w.]+)\"", source))
    return keys


def test_every_key_the_server_says_is_in_its_catalogue() -> None:
    table = prompt_file(SERVER_MESSAGES_FILE)
    said = said_keys()
    assert {"progress.loading_model", "progress.model_ready", "settings.invalid"} <= said
    assert said <= set(table), said - set(table)
    for outcome in ("done", "cancelled", "failed"):  # said as f"progress.chat.{outcome}"
        assert f"progress.chat.{outcome}" in table


def test_say_fills_the_placeholders_in_either_language() -> None:
    assert say("progress.loading_model", "en", model="auto") == "loading model auto"
    assert say("progress.loading_model", "ko", model="auto") == "모델 auto 불러오는 중"
    caught = error(CodeSagaError, "model.no_such_file", path="x.gguf")
    assert (caught.text("en"), caught.text("ko")) == (
        "no such file: x.gguf",
        "파일이 없습니다: x.gguf",
    )


def nls(name: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((VSCODE / name).read_text(encoding="utf-8"))
    return data


def references(value: Any) -> set[str]:
    """Every ``%key%`` string anywhere in ``value`` (package.json's localised fields)."""
    if isinstance(value, str):
        match = re.fullmatch(r"%([\w.-]+)%", value)
        return {match.group(1)} if match else set()
    if isinstance(value, dict):
        return set().union(*(references(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(references(v) for v in value)) if value else set()
    return set()


def test_the_vscode_extension_is_localised_in_english_and_korean() -> None:
    english, korean = nls("package.nls.json"), nls("package.nls.ko.json")
    assert english.keys() == korean.keys()
    for key in english:
        assert english[key].strip() and korean[key].strip(), key
        assert hangul(korean[key]), f"package.nls.ko.json: {key} is not Korean"
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    assert references(package) == set(english)  # each used, each defined
    contributes = package["contributes"]
    titles = [c["title"] for c in contributes["commands"]]
    described = [
        text
        for prop in contributes["configuration"]["properties"].values()
        for field in ("description", "markdownDescription")
        if (text := prop.get(field)) is not None
    ] + [
        d
        for prop in contributes["configuration"]["properties"].values()
        for d in prop.get("enumDescriptions", [])
    ]
    assert all(references(text) for text in [*titles, *described, package["description"]])
