"""The code actions' message table (prompts/actions/messages.yaml): every key in English and
Korean with the same placeholders, and every key the code asks for is there."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from codesaga.actions.data import ACTION_IDS
from codesaga.actions.messages import MESSAGES_FILE, action_title, say
from codesaga.prompts import PromptError, prompt_file

SERVER = Path(__file__).resolve().parents[2] / "server" / "codesaga"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_has_english_and_korean_with_the_same_placeholders() -> None:
    table = prompt_file(MESSAGES_FILE)
    assert table
    for key, entry in table.items():
        assert isinstance(entry, dict), key
        assert set(entry) == {"en", "ko"}, key
        assert all(isinstance(entry[lang], str) and entry[lang].strip() for lang in entry), key
        assert placeholders(entry["en"]) == placeholders(entry["ko"]), key
        assert any("\uac00" <= ch <= "\ud7a3" for ch in entry["ko"]), key


def test_every_key_the_code_says_is_in_the_table() -> None:
    table = prompt_file(MESSAGES_FILE)
    sources = [*(SERVER / "actions").glob("*.py"), SERVER / "lsp" / "actions.py"]
    said = {
        key
        for path in sources
        for key in re.findall(r"\bsay\(\s*\"([\w.]+)\"", path.read_text(encoding="utf-8"))
    }
    assert {"no_target", "no_code", "review_done", "title.apply"} <= said
    assert {"stale", "changed", "progress", "done"} <= set(table)
    assert said <= set(table)
    for action in ACTION_IDS:
        assert action_title(action, "en") and action_title(action, "ko")


def test_say_fills_placeholders_in_either_language() -> None:
    assert say("review_done", "en", n=2) == (
        "CodeSaga: the review published 2 finding(s) as diagnostics."
    )
    assert say("review_done", "ko", n=2) == "CodeSaga: 리뷰 결과 2건을 진단으로 게시했습니다."
    assert action_title("refactor", "ko") == "리팩터링"
    with pytest.raises(PromptError):
        say("no.such.key", "en")
