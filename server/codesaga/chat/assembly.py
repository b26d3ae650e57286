"""Chat message assembly: the system prompt (in the response language), as many of the newest
earlier turns as fit the context window, and the new message carrying the current code.

The system prompt, the code and the new message are never dropped; old turns are, oldest
user+assistant pair first (:func:`trim_history`). Token counts are model tokens, given by a
``count(text) -> int`` function (the engine's ``count_tokens``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from codesaga.chat.context import CodeContext, TokenCounter, code_context
from codesaga.chat.store import Turn
from codesaga.documents import Document
from codesaga.documents.span import TextSpan
from codesaga.engine import ChatMessage
from codesaga.errors import InvalidParams
from codesaga.prompts import chat_prompts, render
from codesaga.repo.workspace import Definitions

Language = Literal["ko", "en"]

MESSAGE_OVERHEAD = 8
"""Tokens a chat template adds around each message (role markers, separators); an upper bound
for Gemma-, ChatML- and Llama-style templates and for ``prompts/chat.yaml``."""
MAX_ANSWER_TOKENS = 512
"""Upper bound of a chat answer in tokens, whatever ``maxTokens`` says."""


class ChatError(InvalidParams):
    """The chat cannot go on as asked (e.g. the new message alone overflows the context
    window); the message is meant for the user."""


# ----- prompts -------------------------------------------------------------------------------


def system_prompt(language: Language) -> str:
    """The system prompt in ``language`` (``prompts/chat.yaml`` ``system``; PromptError when
    the file is missing or malformed)."""
    return chat_prompts().system.text(language)


def empty_answer(language: Language) -> str:
    """The reply given when the model's answer is empty."""
    return chat_prompts().empty_answer.text(language)


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
        chat_prompts().user_with_code.text(language),
        path=context.path,
        language=context.language,
        first_line=context.first_line + 1,
        last_line=context.last_line + 1,
        truncated=context.truncated,
        fence=_fence(context.code),
        code=context.code,
        definitions=[{"path": f.path, "text": f.text} for f in context.definitions],
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
    selection: TextSpan | None,
    n_ctx: int,
    max_tokens: int,
    count: TokenCounter,
    definitions: Definitions | None = None,
) -> ChatPlan:
    """Prepare one turn: pick the code context (when ``doc`` is given), render the new
    message, and assemble the messages within the context window.

    ``selection`` is str offsets into ``doc``; ``max_tokens`` is the ``maxTokens`` setting
    (see :func:`answer_tokens`). Raises ChatError (does not fit), PromptError (broken
    template) or PositionError (``selection`` outside ``doc``). ``definitions(doc, start,
    end)`` gives the signatures, from other files, of what str offsets ``start..end`` use
    (the repository context; None: none).
    """
    answer = answer_tokens(max_tokens, n_ctx)
    context = None
    if doc is not None:
        context = code_context(doc, selection, budget=code_budget(n_ctx, answer), count=count)
        if definitions is not None:
            start = doc.line_start(context.first_line)
            end = doc.line_end(context.last_line)
            context = replace(context, definitions=definitions(doc, start, end))
    assembled = assemble(
        system=system_prompt(language),
        history=history,
        user=user_message(message, context, language),
        n_ctx=n_ctx,
        answer_tokens=answer,
        count=count,
    )
    return ChatPlan(session_id, language, message, context, assembled, answer)
