"""Chat: sessions stored on disk, the code context, history trimming and message assembly.

Plain Python, no protocol (the handlers are in :mod:`codesaga.lsp.chat`).

* :class:`SessionStore` keeps each session's turns (role, content, timestamp) in SQLite under
  the cache dir, so a conversation survives a server restart.
* :func:`code_context` picks the code a question is about: the selection, else the function or
  class around the cursor, else lines around it, clipped to a token budget.
* :func:`assemble` builds the messages for the engine: the system prompt (in the response
  language), as many of the newest earlier turns as fit the context window, and the new
  message carrying the current code. The system prompt, the code and the new message are never
  dropped; old turns are, oldest user+assistant pair first (:func:`trim_history`).

Token counts are model tokens, given by a ``count(text) -> int`` function (the engine's
``count_tokens``); lines are 0-based unless a name says otherwise.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from lsprotocol.types import Range

from codesaga.documents import Document
from codesaga.engine import ChatMessage
from codesaga.errors import InvalidParams
from codesaga.prompts import PromptError, prompt_file, render
from codesaga.syntax.scopes import Span, enclosing_scopes

log = logging.getLogger(__name__)

Language = Literal["ko", "en"]
TokenCounter = Callable[[str], int]

MESSAGE_OVERHEAD = 8
"""Tokens a chat template adds around each message (role markers, separators); an upper bound
for Gemma-, ChatML- and Llama-style templates and for ``prompts/chat.yaml``."""
MAX_ANSWER_TOKENS = 512
"""Upper bound of a chat answer in tokens, whatever ``maxTokens`` says."""
WINDOW_LINES = 20
"""Lines taken above and below the cursor when no function or class encloses it."""
MIN_SCOPE_LINES = 3
"""A scope shorter than this (a one-line lambda) is skipped for the next enclosing one."""
MAX_SESSIONS = 500
"""Sessions kept on disk; the least recently used beyond this are deleted when a store opens."""
MAX_STORED_TURNS = 400
"""Turns kept per session on disk (the prompt holds only what fits the context window)."""
MAX_SESSION_ID = 200
"""Longest accepted session id, in characters."""


class ChatError(InvalidParams):
    """The chat cannot go on as asked (e.g. the new message alone overflows the context
    window); the message is meant for the user."""


# ----- turns and sessions --------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One stored message. ``role`` is ``user`` or ``assistant``; ``created`` is Unix seconds."""

    role: str
    content: str
    created: float = 0.0

    def message(self) -> ChatMessage:
        """The turn as an engine message (no timestamp)."""
        return {"role": self.role, "content": self.content}


def new_session_id() -> str:
    """A fresh random session id (32 hex digits)."""
    return uuid.uuid4().hex


def check_session_id(value: object) -> str:
    """``value`` as a session id: a non-blank string of at most MAX_SESSION_ID characters.

    Raises ValueError otherwise.
    """
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SESSION_ID:
        raise ValueError(
            f"sessionId must be a non-empty string of at most {MAX_SESSION_ID} characters"
        )
    return value


_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    session TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (session, seq)
);
"""


class SessionStore:
    """Chat sessions in one SQLite file, ``<directory>/sessions.sqlite3``.

    Only role, content and timestamps are stored. Several server processes may share the
    file (WAL journal, 5 s busy timeout). A file that is not a readable database is moved
    aside to ``sessions.sqlite3.corrupt`` and a new one is started. Raises OSError when the
    directory cannot be created, sqlite3.Error when the file cannot be opened at all.
    """

    FILE_NAME = "sessions.sqlite3"

    def __init__(
        self,
        directory: Path,
        *,
        max_sessions: int = MAX_SESSIONS,
        max_turns: int = MAX_STORED_TURNS,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / self.FILE_NAME
        self.max_turns = max_turns
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            log.warning("chat store unreadable (%s); starting a new one", exc)
            self.path.replace(self.path.with_name(self.FILE_NAME + ".corrupt"))
            self._db = self._open()
        self.prune(max_sessions)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.executescript(_SCHEMA)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def turns(self, session_id: str) -> list[Turn]:
        """The session's turns, oldest first (``[]`` for an unknown session)."""
        rows = self._db.execute(
            "SELECT role, content, created FROM turns WHERE session = ? ORDER BY seq",
            (session_id,),
        ).fetchall()
        return [Turn(role, content, created) for role, content, created in rows]

    def exists(self, session_id: str) -> bool:
        """True when the session has been stored."""
        row = self._db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return row is not None

    def append(self, session_id: str, turns: Iterable[tuple[str, str]]) -> None:
        """Add ``(role, content)`` turns to the session (created on first use), in one
        transaction; the oldest turns beyond ``max_turns`` are deleted. ``role`` must be
        ``user`` or ``assistant`` (sqlite3.IntegrityError otherwise)."""
        now = time.time()
        with self._db:
            self._db.execute(
                "INSERT INTO sessions (id, created, updated) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET updated = excluded.updated",
                (session_id, now, now),
            )
            (last,) = self._db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM turns WHERE session = ?", (session_id,)
            ).fetchone()
            self._db.executemany(
                "INSERT INTO turns (session, seq, role, content, created) VALUES (?, ?, ?, ?, ?)",
                [
                    (session_id, last + i, role, content, now)
                    for i, (role, content) in enumerate(turns, start=1)
                ],
            )
            self._db.execute(
                "DELETE FROM turns WHERE session = ? AND seq NOT IN "
                "(SELECT seq FROM turns WHERE session = ? ORDER BY seq DESC LIMIT ?)",
                (session_id, session_id, self.max_turns),
            )

    def reset(self, session_id: str) -> int:
        """Forget the session; returns how many turns it had (0 for an unknown session)."""
        with self._db:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM turns WHERE session = ?", (session_id,)
            ).fetchone()
            self._db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return int(count)

    def prune(self, max_sessions: int) -> int:
        """Delete the least recently updated sessions beyond ``max_sessions``; returns how many
        were deleted."""
        with self._db:
            cursor = self._db.execute(
                "DELETE FROM sessions WHERE id NOT IN "
                "(SELECT id FROM sessions ORDER BY updated DESC LIMIT ?)",
                (max_sessions,),
            )
        return cursor.rowcount

    def close(self) -> None:
        """Close the database (the store is unusable afterwards)."""
        self._db.close()


# ----- prompts -------------------------------------------------------------------------------


def _localized(key: str, language: Language) -> str:
    data = prompt_file("chat.yaml").get(key)
    if not isinstance(data, dict) or not isinstance(data.get(language), str):
        raise PromptError(f"chat.yaml: {key}.{language} is missing")
    return str(data[language])


def system_prompt(language: Language) -> str:
    """The system prompt in ``language`` (``prompts/chat.yaml`` ``system``; PromptError when
    missing)."""
    return _localized("system", language)


def empty_answer(language: Language) -> str:
    """The reply given when the model's answer is empty."""
    return _localized("empty_answer", language)


@dataclass(frozen=True)
class CodeContext:
    """The code a question is about.

    ``first_line``/``last_line`` are 0-based document lines (inclusive) of ``code``;
    ``source`` says how it was chosen: ``selection``, a tree-sitter scope type such as
    ``function_definition``, ``lines`` (a window around the cursor) or ``file``;
    ``truncated`` is True when the chosen code was clipped to the token budget.
    """

    path: str
    language: str
    first_line: int
    last_line: int
    code: str
    source: str
    truncated: bool = False


def file_name(uri: str) -> str:
    """The last path segment of a document URI, for the prompt (``untitled`` when none)."""
    name = unquote(urlparse(uri).path).rstrip("/").rsplit("/", 1)[-1]
    return name or uri or "untitled"


def code_context(
    doc: Document, selection: Range | None, *, budget: int, count: TokenCounter
) -> CodeContext:
    """The code to show the model for a question about ``doc``.

    * a non-empty ``selection``: the whole lines it covers (a selection ending at character 0
      leaves that line out);
    * an empty one (a cursor): the innermost function/class around it of at least
      MIN_SCOPE_LINES lines (tree-sitter), else WINDOW_LINES lines either side;
    * none: the file from its top.

    Trailing blank lines are left out. The result is clipped to ``budget`` tokens, keeping
    the lines nearest the cursor (the selection's start). Positions use the document's
    position encoding; a position outside the document raises
    codesaga.documents.PositionError.
    """
    last_doc_line = max(0, doc.line_count - 1)
    if selection is None:
        first, last, anchor, source = 0, last_doc_line, 0, "file"
    else:
        start = doc.offset_at(selection.start)
        end = doc.offset_at(selection.end)
        if end < start:
            start, end = end, start
        start_line = doc.line_at(start)
        end_pos = doc.position_at(end)
        if end > start:
            end_line = end_pos.line - 1 if end_pos.character == 0 else end_pos.line
            first, last, anchor, source = (
                start_line,
                max(start_line, end_line),
                start_line,
                "selection",
            )
        else:
            first, last, anchor, source = _around_cursor(doc, start, start_line)
    last = min(last, last_doc_line)
    while last > first and not doc.line_text(last).strip():
        last -= 1  # no trailing blank lines
    anchor = min(max(anchor, first), last)
    lines = [doc.line_text(i) for i in range(first, last + 1)]
    lo, hi, clipped_line = clip_lines(lines, anchor - first, budget, count)
    kept = lines[lo : hi + 1]
    if clipped_line is not None:
        kept[anchor - first - lo] = clipped_line
    return CodeContext(
        path=file_name(doc.uri),
        language=doc.language_id,
        first_line=first + lo,
        last_line=first + hi,
        code="\n".join(kept),
        source=source,
        truncated=(lo, hi) != (0, len(lines) - 1) or clipped_line is not None,
    )


def _around_cursor(doc: Document, offset: int, line: int) -> tuple[int, int, int, str]:
    """(first line, last line, anchor line, source) of the code around a cursor."""
    if doc.tree is not None and doc.grammar is not None:
        scopes = enclosing_scopes(doc.tree, doc.grammar, doc.byte_at(offset))
        scope = _pick_scope(scopes)
        if scope is not None:
            return scope.start_line, scope.end_line, line, scope.kind
    return (
        max(0, line - WINDOW_LINES),
        min(doc.line_count - 1, line + WINDOW_LINES),
        line,
        "lines",
    )


def _pick_scope(scopes: Sequence[Span]) -> Span | None:
    for span in scopes:  # innermost first
        if span.end_line - span.start_line + 1 >= MIN_SCOPE_LINES:
            return span
    return scopes[0] if scopes else None


def clip_lines(
    lines: Sequence[str], anchor: int, budget: int, count: TokenCounter
) -> tuple[int, int, str | None]:
    """The widest run of ``lines`` around index ``anchor`` whose tokens fit ``budget``.

    Each line costs ``count(line + "\\n")`` tokens. Lines are added below and above the
    anchor in turn while they fit. Returns ``(lo, hi, clipped)``: indexes of the first and
    last kept line (inclusive) and, when the anchor line alone exceeds the budget, that line
    cut short (else None). ``lines`` must not be empty.
    """
    anchor = min(max(anchor, 0), len(lines) - 1)
    cost = count(lines[anchor] + "\n")
    clipped: str | None = None
    if cost > budget:
        line = lines[anchor]
        keep = max(0, len(line) * max(budget, 0) // max(cost, 1))
        while keep > 0 and count(line[:keep] + "\n") > budget:
            keep = keep * 3 // 4
        return anchor, anchor, line[:keep]
    lo = hi = anchor
    total = cost
    below_open = above_open = True
    while below_open or above_open:
        if below_open:
            if hi + 1 < len(lines) and total + (c := count(lines[hi + 1] + "\n")) <= budget:
                hi += 1
                total += c
            else:
                below_open = False
        if above_open:
            if lo > 0 and total + (c := count(lines[lo - 1] + "\n")) <= budget:
                lo -= 1
                total += c
            else:
                above_open = False
    return lo, hi, clipped


def _fence(code: str) -> str:
    """A Markdown fence longer than any run of backticks in ``code``."""
    longest = run = 0
    for ch in code:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def user_message(message: str, context: CodeContext | None, language: Language) -> str:
    """The new user message as the model sees it: ``message`` alone, or wrapped with the
    current code by ``prompts/chat.yaml`` ``user_with_code`` (line numbers shown 1-based).

    Raises PromptError when the template is missing or broken.
    """
    if context is None:
        return message
    return render(
        _localized("user_with_code", language),
        path=context.path,
        language=context.language,
        first_line=context.first_line + 1,
        last_line=context.last_line + 1,
        truncated=context.truncated,
        fence=_fence(context.code),
        code=context.code,
        message=message,
    )


# ----- trimming and assembly -----------------------------------------------------------------


def message_tokens(content: str, count: TokenCounter, overhead: int = MESSAGE_OVERHEAD) -> int:
    """Tokens one message takes in the prompt: its content plus the template's overhead."""
    return count(content) + overhead


def _exchanges(turns: Sequence[Turn]) -> list[list[Turn]]:
    """Group turns into user+assistant pairs; a turn without its partner stands alone."""
    groups: list[list[Turn]] = []
    i = 0
    while i < len(turns):
        if turns[i].role == "user" and i + 1 < len(turns) and turns[i + 1].role == "assistant":
            groups.append([turns[i], turns[i + 1]])
            i += 2
        else:
            groups.append([turns[i]])
            i += 1
    return groups


def trim_history(
    turns: Sequence[Turn], budget: int, count: TokenCounter, overhead: int = MESSAGE_OVERHEAD
) -> list[Turn]:
    """The newest ``turns`` whose messages fit ``budget`` tokens (each message costs
    :func:`message_tokens`), dropping whole user+assistant pairs, oldest first.

    What is kept is always a contiguous tail: once a pair does not fit, nothing older is
    kept, even a smaller pair. A budget of zero or less keeps nothing.
    """
    kept: list[list[Turn]] = []
    used = 0
    for group in reversed(_exchanges(turns)):
        cost = sum(message_tokens(t.content, count, overhead) for t in group)
        if used + cost > budget:
            break
        kept.append(group)
        used += cost
    return [turn for group in reversed(kept) for turn in group]


@dataclass(frozen=True)
class Assembled:
    """The messages for one generation.

    ``kept``/``dropped`` count earlier turns included/left out; ``prompt_tokens`` is the
    estimate the trimming used (contents plus MESSAGE_OVERHEAD per message and for the
    answer's header).
    """

    messages: list[ChatMessage]
    kept: int
    dropped: int
    prompt_tokens: int


def history_budget(
    *,
    n_ctx: int,
    answer_tokens: int,
    system: str,
    user: str,
    count: TokenCounter,
    overhead: int = MESSAGE_OVERHEAD,
) -> int:
    """Tokens left for earlier turns: ``n_ctx`` minus the answer, the system message, the new
    user message (which carries the code context) and the answer's header (``overhead``)."""
    fixed = message_tokens(system, count, overhead) + message_tokens(user, count, overhead)
    return n_ctx - answer_tokens - fixed - overhead


def assemble(
    *,
    system: str,
    history: Sequence[Turn],
    user: str,
    n_ctx: int,
    answer_tokens: int,
    count: TokenCounter,
    overhead: int = MESSAGE_OVERHEAD,
) -> Assembled:
    """``[system, *newest earlier turns that fit, user]`` for a window of ``n_ctx`` tokens
    that must also hold ``answer_tokens``.

    The system message and ``user`` (the new message with its code context) are always
    included; earlier turns are trimmed by :func:`trim_history`. Raises ChatError when the
    system message, the new message and the answer alone do not fit.
    """
    budget = history_budget(
        n_ctx=n_ctx,
        answer_tokens=answer_tokens,
        system=system,
        user=user,
        count=count,
        overhead=overhead,
    )
    if budget < 0:
        raise ChatError(
            f"the message and its code context need {n_ctx - budget} tokens with the answer; "
            f"the model's context window holds {n_ctx}: shorten the message or the selection"
        )
    kept = trim_history(history, budget, count, overhead)
    used = sum(message_tokens(t.content, count, overhead) for t in kept)
    messages: list[ChatMessage] = [
        {"role": "system", "content": system},
        *(t.message() for t in kept),
        {"role": "user", "content": user},
    ]
    return Assembled(
        messages=messages,
        kept=len(kept),
        dropped=len(history) - len(kept),
        prompt_tokens=n_ctx - answer_tokens - budget + used,
    )


def answer_tokens(max_tokens: int, n_ctx: int) -> int:
    """Most tokens of a chat answer: four times the ``maxTokens`` setting (which is sized for
    completions), at most MAX_ANSWER_TOKENS and at most half the context window."""
    return max(1, min(max_tokens * 4, MAX_ANSWER_TOKENS, n_ctx // 2))


def code_budget(n_ctx: int, answer: int) -> int:
    """Tokens the code context may take: half of what the answer leaves of the window."""
    return max(0, (n_ctx - answer) // 2)


@dataclass(frozen=True)
class ChatPlan:
    """Everything one chat turn sends to the engine (see :func:`plan_turn`)."""

    session_id: str
    language: Language
    message: str
    """The user's message as stored in the history (without the code)."""
    context: CodeContext | None
    assembled: Assembled
    answer_tokens: int


def plan_turn(
    *,
    session_id: str,
    message: str,
    history: Sequence[Turn],
    language: Language,
    doc: Document | None,
    selection: Range | None,
    n_ctx: int,
    max_tokens: int,
    count: TokenCounter,
) -> ChatPlan:
    """Prepare one turn: pick the code context (when ``doc`` is given), render the new
    message, and assemble the messages within the context window.

    ``max_tokens`` is the ``maxTokens`` setting (see :func:`answer_tokens`). Raises ChatError
    (does not fit), PromptError (broken template) or PositionError (``selection`` outside
    ``doc``).
    """
    answer = answer_tokens(max_tokens, n_ctx)
    context = None
    if doc is not None:
        context = code_context(doc, selection, budget=code_budget(n_ctx, answer), count=count)
    assembled = assemble(
        system=system_prompt(language),
        history=history,
        user=user_message(message, context, language),
        n_ctx=n_ctx,
        answer_tokens=answer,
        count=count,
    )
    return ChatPlan(session_id, language, message, context, assembled, answer)
