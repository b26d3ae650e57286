"""The server's own messages for the user, in English and Korean: progress (model load, chat,
indexing), model-load and settings errors, the engine's health.

The catalogue is ``prompts/messages.yaml`` (the code actions' messages are in
``prompts/actions/messages.yaml``, :mod:`codesaga.actions.messages`); each key maps to ``en``
and ``ko`` texts whose ``{placeholders}`` are filled with ``str.format``.
"""

from __future__ import annotations

from typing import TypeVar

from codesaga.errors import CodeSagaError, Language
from codesaga.prompts import SERVER_MESSAGES_FILE, message

__all__ = ["SERVER_MESSAGES_FILE", "error", "say"]

E = TypeVar("E", bound=CodeSagaError)


def say(key: str, language: Language, **values: object) -> str:
    """The message ``key`` in ``language``, ``values`` filling its placeholders. Raises
    PromptError when the catalogue has no such key."""
    return message(SERVER_MESSAGES_FILE, key, language, **values)


def error(kind: type[E], key: str, **values: object) -> E:
    """A ``kind`` error carrying the message ``key`` in English and Korean (not raised)."""
    return kind(say(key, "en", **values), ko=say(key, "ko", **values))
