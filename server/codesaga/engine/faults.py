"""What can go wrong with a remote (OpenAI-compatible) engine, said so the user can act on it,
and said once.

:class:`EngineFault` is the :class:`~codesaga.engine.base.EngineError` a remote engine raises:
its :attr:`~EngineFault.kind` names the fault (the engine is not listening, too slow, refuses
the API key, does not serve the model, is rate-limiting, failed, or sent a stream that is not
server-sent events of OpenAI chunks). :class:`FaultWatch` follows the engine's health across
requests and calls its listener only when it changes: the first fault of a kind, another kind,
and recovery. An editor asking for a completion at every keystroke therefore shows one message
per outage, not one per keystroke.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal

from codesaga.engine.base import EngineError

FaultKind = Literal[
    "unreachable",
    "timeout",
    "unauthorized",
    "unknown_model",
    "rate_limited",
    "server_error",
    "rejected",
    "malformed",
]

RETRYABLE: frozenset[FaultKind] = frozenset({"unreachable", "rate_limited", "server_error"})
"""Faults worth another try of the same request after a pause: nothing was generated, and
the engine may be starting, restarting or shedding load. A timeout is not retried (the engine
is slow; asking again adds load), nor are the faults only the user can fix."""

_ADVICE: dict[FaultKind, tuple[str, str]] = {
    "unreachable": (
        "nothing answers at {url}: start the engine (e.g. `codesaga engine`) or fix "
        "openai.baseUrl. CodeSaga retries on its own.",
        "{url}에 응답하는 엔진이 없습니다. 엔진을 시작하거나(`codesaga engine`) openai.baseUrl을 "
        "고치세요. CodeSaga가 스스로 다시 시도합니다.",
    ),
    "timeout": (
        "the engine at {url} did not answer in time ({detail}); it may be overloaded.",
        "{url}의 엔진이 제때 응답하지 않았습니다({detail}). 과부하일 수 있습니다.",
    ),
    "unauthorized": (
        "the engine at {url} refused the API key ({detail}): set openai.apiKey or the "
        "environment variable CODESAGA_OPENAI_API_KEY.",
        "{url}의 엔진이 API 키를 거부했습니다({detail}). openai.apiKey 또는 환경 변수 "
        "CODESAGA_OPENAI_API_KEY를 설정하세요.",
    ),
    "unknown_model": (
        "the engine at {url} does not serve the model {model!r} ({detail}): set openai.model "
        "to one it lists (`codesaga doctor` shows them).",
        "{url}의 엔진이 모델 {model!r}을(를) 제공하지 않습니다({detail}). 엔진이 제공하는 모델로 "
        "openai.model을 설정하세요(`codesaga doctor`로 확인).",
    ),
    "rate_limited": (
        "the engine at {url} is rate-limiting requests ({detail}); CodeSaga backs off and retries.",
        "{url}의 엔진이 요청 수를 제한하고 있습니다({detail}). 잠시 후 다시 시도합니다.",
    ),
    "server_error": (
        "the engine at {url} failed ({detail}); see the engine's own log.",
        "{url}의 엔진에서 오류가 났습니다({detail}). 엔진의 로그를 확인하세요.",
    ),
    "rejected": (
        "the engine at {url} rejected the request ({detail}); if the prompt is too long for "
        "its context window, lower contextSize to the engine's.",
        "{url}의 엔진이 요청을 거부했습니다({detail}). 프롬프트가 엔진의 컨텍스트보다 길다면 "
        "contextSize를 엔진에 맞게 줄이세요.",
    ),
    "malformed": (
        "the engine at {url} sent an answer CodeSaga cannot read ({detail}); is openai.baseUrl "
        "an OpenAI-compatible /v1 endpoint?",
        "{url}의 엔진이 읽을 수 없는 응답을 보냈습니다({detail}). openai.baseUrl이 "
        "OpenAI 호환 /v1 주소인지 확인하세요.",
    ),
}


class EngineFault(EngineError):
    """A remote engine's failure. ``kind``: which one; ``url``: the engine's; ``detail``:
    what the engine or the network said (an HTTP status and the first 200 characters of its
    message, or the exception), never the prompt; ``retry_after``: seconds the engine asked
    to wait (HTTP ``Retry-After``), when it did."""

    def __init__(
        self,
        kind: FaultKind,
        *,
        url: str,
        model: str,
        detail: str,
        retry_after: float | None = None,
    ) -> None:
        english, korean = _ADVICE[kind]
        values = {"url": url, "model": model, "detail": detail}
        super().__init__(english.format(**values), ko=korean.format(**values))
        self.kind: FaultKind = kind
        self.url = url
        self.detail = detail
        self.retry_after = retry_after


def kind_of_status(status: int, message: str = "") -> FaultKind:
    """The fault an HTTP error status means (``message``: the engine's error text, which
    tells an unknown model apart from other 400s and 404s; a 404 or 405 that does not name
    the model means the URL is not an OpenAI-compatible endpoint)."""
    if status in (401, 403):
        return "unauthorized"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    lowered = message.lower()
    if "model" in lowered and ("not found" in lowered or "exist" in lowered):
        return "unknown_model"
    return "malformed" if status in (404, 405) else "rejected"


Listener = Callable[["EngineFault | None", "EngineFault | None"], None]
"""Called as ``listener(now, before)``: ``now`` the new fault (None: recovered), ``before``
the fault that was current (None: the engine was healthy)."""


class FaultWatch:
    """The engine's health as the last finished request saw it. Thread-safe; the listener is
    called outside the lock, on the thread that reported the change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: EngineFault | None = None
        self.listener: Listener | None = None

    @property
    def current(self) -> EngineFault | None:
        """The fault the last finished request ended with, or None when it succeeded."""
        return self._current

    def failed(self, fault: EngineFault) -> None:
        """A request ended with ``fault``: the listener hears of it unless the same kind of
        fault is already current."""
        with self._lock:
            before = self._current
            self._current = fault
        if (before is None or before.kind != fault.kind) and self.listener is not None:
            self.listener(fault, before)

    def succeeded(self) -> None:
        """A request got an answer: the listener hears of the recovery if there was a fault."""
        with self._lock:
            before, self._current = self._current, None
        if before is not None and self.listener is not None:
            self.listener(None, before)
