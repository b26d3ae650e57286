"""Type-through: while the user types the start of the suggestion on screen, the rest of it
is still the answer, without the model.

Only the document text before the cursor is compared, as a whole, so an edit elsewhere before
the cursor voids the suggestion. Memory: one suggestion per open document, in its
:class:`~codesaga.sessions.DocumentSession`.
"""

from __future__ import annotations

from codesaga.sessions import DocumentSession, Shown


def remember(session: DocumentSession, before: str, suggestion: str) -> None:
    """Record that ``suggestion`` was offered with ``before`` in front of the cursor (an empty
    suggestion forgets the last one)."""
    session.shown = Shown(before, suggestion) if suggestion else None


def typed_through(shown: Shown | None, before: str) -> str | None:
    """The rest of the ``shown`` suggestion when the text before the cursor is what it was
    plus a proper prefix of the suggestion; None otherwise."""
    if shown is None or len(before) <= len(shown.before):
        return None
    if not before.startswith(shown.before):
        return None
    typed = before[len(shown.before) :]
    if len(typed) < len(shown.suggestion) and shown.suggestion.startswith(typed):
        return shown.suggestion[len(typed) :]
    return None
