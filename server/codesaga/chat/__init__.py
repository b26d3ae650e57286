"""Chat: plain Python, no protocol (the handlers are in :mod:`codesaga.lsp.chat`).

* :mod:`~codesaga.chat.store`: sessions in SQLite under the cache dir; session-id rules;
* :mod:`~codesaga.chat.context`: the code a question is about, clipped to a token budget;
* :mod:`~codesaga.chat.assembly`: system prompt, history trimming, the messages of a turn;
* :mod:`~codesaga.chat.params`: the chat params, validated by pydantic models;
* :mod:`~codesaga.chat.service`: one turn end to end (store, plan, stream, progress).
"""

from __future__ import annotations

from codesaga.chat.assembly import (
    MAX_ANSWER_TOKENS,
    MESSAGE_OVERHEAD,
    Assembled,
    ChatError,
    ChatPlan,
    Language,
    answer_tokens,
    assemble,
    code_budget,
    empty_answer,
    history_budget,
    message_tokens,
    plan_turn,
    system_prompt,
    trim_history,
    user_message,
)
from codesaga.chat.context import CodeContext, TokenCounter, clip_lines, code_context, file_name
from codesaga.chat.params import ChatArgs, ChatParams, chat_params, session_id
from codesaga.chat.service import ChatHost, ChatService, Reply
from codesaga.chat.store import (
    SessionStore,
    Turn,
    check_session_id,
    new_session_id,
)

__all__ = [
    "MAX_ANSWER_TOKENS",
    "MESSAGE_OVERHEAD",
    "Assembled",
    "ChatArgs",
    "ChatError",
    "ChatHost",
    "ChatParams",
    "ChatPlan",
    "ChatService",
    "CodeContext",
    "Language",
    "Reply",
    "SessionStore",
    "TokenCounter",
    "Turn",
    "answer_tokens",
    "assemble",
    "chat_params",
    "check_session_id",
    "clip_lines",
    "code_budget",
    "code_context",
    "empty_answer",
    "file_name",
    "history_budget",
    "message_tokens",
    "new_session_id",
    "plan_turn",
    "session_id",
    "system_prompt",
    "trim_history",
    "user_message",
]
