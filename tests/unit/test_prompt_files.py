"""Prompt files are validated by one pydantic model per shape; a broken file gives a
PromptError naming the file and the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from codesaga import prompts
from codesaga.prompts import (
    ActionPrompt,
    ChatPrompt,
    FimPrompt,
    Messages,
    PromptError,
    chat_prompts,
    load,
    prompt_file,
    shape_of,
)
from codesaga.resources import prompts_dir


def shipped() -> list[str]:
    root = prompts_dir()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.yaml"))


@pytest.mark.parametrize("relative", shipped())
def test_every_shipped_file_matches_its_shape(relative: str) -> None:
    data = prompt_file(relative)
    shape = shape_of(relative)
    assert shape is not None  # every shipped file has a shape
    loaded = load(relative, shape)
    if isinstance(loaded, Messages):
        assert loaded.root.keys() == data.keys()
    else:
        assert loaded.name == data["name"]


def test_shapes_by_path() -> None:
    assert shape_of("chat.yaml") is ChatPrompt
    assert shape_of("fim/qwen.yaml") is FimPrompt
    assert shape_of("actions/explain.yaml") is ActionPrompt
    assert shape_of("actions/messages.yaml") is Messages
    assert shape_of("notes.yaml") is None


def test_chat_prompts_per_language() -> None:
    spec = chat_prompts()
    assert spec.system.text("ko") == prompt_file("chat.yaml")["system"]["ko"]
    assert spec.empty_answer.text("en") == prompt_file("chat.yaml")["empty_answer"]["en"]


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty prompts directory in place of the shipped one (caches cleared around)."""
    monkeypatch.setattr(prompts, "prompts_dir", lambda: tmp_path)
    (tmp_path / "actions").mkdir()
    (tmp_path / "fim").mkdir()
    for cached in (prompts.load, prompts.prompt_file, prompts.fim_templates):
        cached.cache_clear()
    yield tmp_path
    for cached in (prompts.load, prompts.prompt_file, prompts.fim_templates):
        cached.cache_clear()


CHAT = """\
name: chat-fallback
template: "{{ messages }}"
system: {en: S, ko: 시스템}
user_with_code: {en: "{{ message }}", ko: "{{ message }}"}
empty_answer: {en: E, ko: 없음}
"""


def test_a_valid_file_loads(files: Path) -> None:
    (files / "chat.yaml").write_text(CHAT, encoding="utf-8")
    assert chat_prompts().system.text("ko") == "시스템"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CHAT.replace("ko: 시스템", "kr: 시스템"), "chat.yaml: system.ko: Field required"),
        (CHAT.replace("name: chat-fallback", "name: 3"), "chat.yaml: name: Input should be"),
        (CHAT + "extra: 1\n", "chat.yaml: extra: Extra inputs are not permitted"),
        (
            CHAT.replace('{en: "{{ message }}"', '{en: "{{ message "'),
            "chat.yaml: user_with_code.en: template error on line 1",
        ),
        ("- a list\n", "chat.yaml: expected a mapping at the top level"),
        ("a: [unclosed\n", "chat.yaml: while parsing"),
    ],
)
def test_a_broken_chat_file_names_the_field(files: Path, text: str, expected: str) -> None:
    (files / "chat.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(PromptError) as excinfo:
        chat_prompts()
    assert str(excinfo.value).startswith(expected)


def test_a_broken_action_file_names_the_field(files: Path) -> None:
    (files / "actions" / "explain.yaml").write_text(
        "name: explain\nmax_tokens: many\nsystem: {en: s, ko: s}\nuser: {en: u, ko: u}\n"
        "examples:\n  en:\n    - vars: {code: x}\n",
        encoding="utf-8",
    )
    with pytest.raises(PromptError) as excinfo:
        prompt_file("actions/explain.yaml")
    message = str(excinfo.value)
    assert "actions/explain.yaml: max_tokens: Input should be a valid integer" in message
    assert message.endswith("; examples.en.0.answer: Field required")


def test_a_missing_file_and_a_broken_fim_file(files: Path) -> None:
    with pytest.raises(PromptError, match=r"^chat\.yaml: "):
        chat_prompts()
    (files / "fim" / "none.yaml").write_text("name: none\ntokens: [1]\n", encoding="utf-8")
    with pytest.raises(PromptError) as excinfo:
        prompts.fim_templates()
    message = str(excinfo.value)
    assert "fim/none.yaml: tokens.0: Input should be a valid string" in message
    assert message.endswith("; template: Field required")


def test_an_unshaped_file_only_needs_to_be_a_mapping(files: Path) -> None:
    (files / "notes.yaml").write_text("anything: [1, 2]\n", encoding="utf-8")
    assert prompt_file("notes.yaml") == {"anything": [1, 2]}


def test_a_message_without_its_korean_text_is_refused(files: Path) -> None:
    (files / "actions" / "messages.yaml").write_text("done: {en: Done}\n", encoding="utf-8")
    with pytest.raises(PromptError, match=r"actions/messages\.yaml: done\.ko: Field required"):
        prompt_file("actions/messages.yaml")
