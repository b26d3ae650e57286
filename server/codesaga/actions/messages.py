"""The code actions' messages for the user, in English and Korean.

The table is ``prompts/actions/messages.yaml`` (loaded once, like chat's ``prompts/chat.yaml``):
each key maps to ``en`` and ``ko`` texts whose ``{placeholders}`` :func:`say` fills.
"""

from __future__ import annotations

from codesaga.errors import Language
from codesaga.prompts import PromptError, prompt_file
from codesaga.settings import Settings

__all__ = ["MESSAGES_FILE", "Lang", "action_title", "prompt_language", "say", "short"]

Lang = Language
MESSAGES_FILE = "actions/messages.yaml"
"""The message table, relative to ``prompts/``."""


def prompt_language(settings: Settings, locale: str | None) -> Lang:
    """The language of everything the model writes for the user and of CodeSaga's messages:
    the ``language`` setting, or with ``auto`` the client's locale (``ko*`` -> Korean)."""
    return settings.response_language(locale)


def say(key: str, lang: Lang, **values: object) -> str:
    """The message ``key`` in ``lang``, ``values`` filling its ``{placeholders}``. Raises
    PromptError when the table has no such text."""
    entry = prompt_file(MESSAGES_FILE).get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get(lang), str):
        raise PromptError(f"{MESSAGES_FILE}: {key}.{lang} is missing")
    return str(entry[lang]).format(**values)


def action_title(action: str, lang: Lang) -> str:
    """A short name of the action for messages ("Refactor", "리팩터링")."""
    return say(f"name.{action}", lang)


def short(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
