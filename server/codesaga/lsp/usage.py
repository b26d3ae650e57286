"""Usage rows for the protocol layer: which feature, the document's language id and the
model's name, around the handlers' core calls (see :mod:`codesaga.usage`)."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from pathlib import Path
from typing import Any

from codesaga.completion import Suggestion
from codesaga.completion.flight import Flight
from codesaga.engine import Generation
from codesaga.lsp.server import CodeSagaServer
from codesaga.usage import UsageRow, measuring

_COUNTED: weakref.WeakSet[Flight] = weakref.WeakSet()
"""Generations whose token counts went to a request's row already: a request that joins one
later gets its answer without new model work, and adds no tokens."""


def model_name(ls: CodeSagaServer) -> str:
    """The model's name for usage rows: a registry name, a GGUF file's name without its
    directory, or for ``backend: openai`` ``openai:<model>``."""
    settings = ls.settings
    if settings.backend == "openai":
        return f"openai:{settings.openai.model}"
    engine = ls.model.engine
    if engine is not None:  # "name.gguf:size" (see LlamaEngine.model_id)
        return engine.model_id.rsplit(":", 1)[0]
    return Path(settings.model).name


def language_of(ls: CodeSagaServer, uri: object) -> str:
    """The language id the client gave the open document ``uri`` ("" for none)."""
    if isinstance(uri, str) and uri in ls.store:
        return ls.store.get(uri).language_id
    return ""


def measure(
    ls: CodeSagaServer, feature: str, uri: object, *, context_tokens: bool = True
) -> contextlib.AbstractContextManager[UsageRow]:
    """:func:`codesaga.usage.measuring` for ``feature`` on document ``uri``."""
    return measuring(
        ls.usage, feature, language_of(ls, uri), model_name(ls), context_tokens=context_tokens
    )


def uri_in(args: tuple[Any, ...]) -> object:
    """The document URI in a command's first argument (action data or ``{"uri": ...}``)."""
    first = args[0] if args else None
    return first.get("uri") if isinstance(first, dict) else None


def suggested(ls: CodeSagaServer, row: UsageRow, uri: str, suggestion: Suggestion) -> None:
    """Fill a completion request's row from its answer on document ``uri``. A model answer's
    token counts are added once its generation has ended (it may go on looking ahead), to
    the first request it answered only."""
    row.source, row.shown = suggestion.source, bool(suggestion.text)
    completer = ls.model.completer
    session = completer.sessions.find(uri) if completer is not None else None
    flight = session.flight if session is not None else None
    if suggestion.source != "model" or flight is None or flight in _COUNTED:
        return
    _COUNTED.add(flight)
    usage, request_id = ls.usage, row.id

    def ended(result: asyncio.Future[Generation]) -> None:
        if not result.cancelled() and result.exception() is None:
            gen = result.result()
            usage.add_tokens(request_id, gen.prompt_tokens, gen.completion_tokens)

    flight.result.add_done_callback(ended)  # runs after the row is queued (call_soon)
