"""Identifiers and search terms: what the index stores and what queries ask for.

Identifiers are split into their words (``parseHttpRequest`` -> ``parse http request``,
``MAX_RETRY_COUNT`` -> ``max retry count``) and lower-cased; the whole identifier is kept
too (``parsehttprequest``) so an exact name still scores above a mere shared word. Doing
this in Python before inserting (rather than with FTS5's ``unicode61 tokenchars '_'``)
splits camelCase as well as snake_case, and the same function builds the queries, so the
two sides always agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["STOP_WORDS", "identifiers", "split_identifier", "terms", "terms_text"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

#: Words too common in code to say anything about similarity (keywords of the languages the
#: grammars cover, and the ubiquitous receivers and literals). Lower case.
STOP_WORDS = frozenset(
    """
    self cls this super return def class import from as if elif else for while in is not and
    or none true false null nil undefined pass break continue try except finally raise with
    yield lambda async await global nonlocal del assert print function const let var new
    typeof instanceof void export default extends implements interface public private
    protected static final abstract package fn pub mut impl use mod crate struct enum trait
    match where ref move loop type func go defer chan map range select case switch int str
    bool float string char byte long short double unsigned signed auto do throw throws catch
    include define ifdef ifndef endif std args kwargs get set the of to a an
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_MIN_WORD = 2


def split_identifier(name: str) -> list[str]:
    """The lower-cased words of an identifier (``"getHTTPResponse_v2"`` ->
    ``["get", "http", "response", "v", "2"]``)."""
    return [word.lower() for word in _WORD.findall(name)]


def identifiers(text: str) -> list[str]:
    """Every identifier-shaped token of ``text``, in order (repeats kept)."""
    return _IDENTIFIER.findall(text)


def terms(text: str, *, distinct: bool = True) -> list[str]:
    """The search terms of ``text`` in order: for each identifier, its words and (when it
    has several) the whole identifier lower-cased without underscores; minus
    :data:`STOP_WORDS`, one-letter words and numbers. ``distinct``: each term once (at its
    first appearance); otherwise repeats are kept (term frequency for BM25)."""
    out: list[str] = []
    seen: set[str] = set()
    for name in _IDENTIFIER.findall(text):
        words = split_identifier(name)
        whole = "".join(words)
        for term in ([whole] if len(words) > 1 else []) + words:
            if len(term) < _MIN_WORD or term in STOP_WORDS or term.isdigit():
                continue
            if distinct:
                if term in seen:
                    continue
                seen.add(term)
            out.append(term)
    return out


def terms_text(texts: Iterable[str]) -> str:
    """What the FTS table stores for ``texts``: their terms, repeats kept, joined by spaces
    (every term is lower-case ASCII letters and digits, so FTS5's unicode61 tokenizer keeps
    each one whole)."""
    out: list[str] = []
    for text in texts:
        out.extend(terms(text, distinct=False))
    return " ".join(out)
