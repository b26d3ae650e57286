"""An OpenAI-compatible inference engine (llama.cpp's server, vLLM, Ollama, LiteLLM's proxy)
over HTTP: ``backend: openai``.

Code leaves this machine only through this engine, and only when the user set
``backend: openai``. Completions use ``POST /v1/completions`` with the prompt CodeSaga built
(FIM template and repository context included); chat and code-action answers that are chats
use ``POST /v1/chat/completions``, whose template the engine applies. Both stream server-sent
events (read with ``httpx-sse``) on an event loop of the engine's own, so that a cancelled or
superseded request closes its stream at once instead of waiting for the engine's next token.

What the engine is (:mod:`codesaga.engine.probe`) is asked when the engine is loaded and, while
it cannot be reached, again in the background at most every :data:`PROBE_INTERVAL` seconds: it
gives the FIM family (from the
vocabulary, when the engine can tokenize), the token counter, and whether a prefill is worth
sending. Failures are :class:`~codesaga.engine.faults.EngineFault`\\ s, reported to
:attr:`OpenAIEngine.watch`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import httpx
from httpx_sse import SSEError, aconnect_sse

from codesaga.engine.base import ChatMessage, EngineError, Generation, GenerationRequest
from codesaga.engine.faults import RETRYABLE, EngineFault, FaultWatch, kind_of_status
from codesaga.engine.probe import (
    CHARS_PER_TOKEN,
    EngineInfo,
    Tokenizer,
    estimate_tokens,
    fault_of,
    network_fault,
    probe,
    root_of,
)
from codesaga.prompts import PREFIX_ONLY, FimTemplate, detect_family, fim_templates
from codesaga.settings import OpenAISettings
from codesaga.texts import error

log = logging.getLogger(__name__)

API_KEY_ENV = "CODESAGA_OPENAI_API_KEY"
"""Environment variable read for the API key when the ``openai.apiKey`` setting is empty."""
TIMEOUT = httpx.Timeout(connect=3.0, read=60.0, write=10.0, pool=10.0)
"""Seconds: to connect, between two reads of a stream (an engine queueing the request under
load sends nothing until it starts), to send, to get a pooled connection."""
RETRY_DELAYS = (0.25, 1.0, 2.0)
"""Seconds before the second, third and fourth try of a request that failed with a
:data:`~codesaga.engine.faults.RETRYABLE` fault before anything was generated; an engine's
``Retry-After`` (at most :data:`MAX_RETRY_AFTER`) replaces the delay. A cancelled request
stops retrying."""
MAX_RETRY_AFTER = 5.0
PROBE_INTERVAL = 5.0
"""Least seconds between two probes while the engine cannot be probed."""
POLL_SECONDS = 0.01
"""How often a request waiting for the engine looks at its cancel flag."""
CACHING_FLAVORS = frozenset({"llama.cpp", "vllm", "llama-cpp-python"})
"""Engines that keep the KV state of a prompt for the next one sharing its head (llama.cpp's
``cache_prompt`` and slots, vLLM's automatic prefix caching, llama-cpp-python's one cached
prompt): a prefill is worth sending to them."""
TOKEN_COUNTS = 4096
"""Texts whose token counts from the engine's tokenizer are remembered."""


class OpenAIEngine:
    """Generation through an OpenAI-compatible engine at ``cfg.base_url`` (its ``/v1`` URL).

    Construction does not touch the network: the engine may start later; call
    :meth:`probe` where blocking is fine (the loader does), and :meth:`info` probes in the
    background until the engine is reached. ``fim_family``
    ``auto`` reads the family from the engine's vocabulary when it can tokenize (llama.cpp,
    vLLM, llama-cpp-python), else uses prefix-only prompts. ``transport`` replaces httpx's
    network transport (tests pass an ``httpx.MockTransport``).

    Raises EngineError when ``cfg.model`` is empty or ``fim_family`` unknown.
    """

    def __init__(
        self,
        cfg: OpenAISettings,
        *,
        n_ctx: int,
        fim_family: str = "auto",
        transport: httpx.MockTransport | None = None,
    ) -> None:
        if not cfg.model:
            raise EngineError(
                "backend 'openai' needs the setting openai.model",
                ko="backend 'openai'에는 openai.model 설정이 필요합니다",
            )
        templates = fim_templates()
        if fim_family != "auto" and fim_family not in templates:
            raise error(
                EngineError, "engine.unknown_family", family=fim_family, known=", ".join(templates)
            )
        self.cfg = cfg
        self.url = cfg.base_url.rstrip("/")
        self.model_id = f"openai:{self.url}:{cfg.model}"
        self.watch = FaultWatch()
        """The engine's health as requests find it (the server shows its changes)."""
        self._n_ctx = n_ctx
        self._templates = templates
        self._template: FimTemplate | None = None if fim_family == "auto" else templates[fim_family]
        key = cfg.api_key or os.environ.get(API_KEY_ENV, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(headers=headers, timeout=TIMEOUT, transport=transport)
        self._aclient = httpx.AsyncClient(headers=headers, timeout=TIMEOUT, transport=transport)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="codesaga-http", daemon=True
        )
        self._thread.start()
        self._info: EngineInfo | None = None
        self._probing = threading.Lock()
        self._next_probe = 0.0
        self._tokenizer_retry_at = 0.0
        self._counted: Callable[[str], int] | None = None

    # ----- what the engine is -----------------------------------------------------------------

    def info(self) -> EngineInfo | None:
        """What the engine is, or None while it has not been reached. Never blocks (it may be
        called on the event loop): when the engine has not been reached, a probe starts in a
        thread of its own, at most every :data:`PROBE_INTERVAL` seconds."""
        due = self._info is None and time.monotonic() >= self._next_probe
        if due and self._probing.acquire(blocking=False):
            self._next_probe = time.monotonic() + PROBE_INTERVAL
            threading.Thread(
                target=self._probe_in_background, name="codesaga-probe", daemon=True
            ).start()
        return self._info

    def _probe_in_background(self) -> None:
        try:
            self.probe()
        except EngineFault as fault:
            log.info("engine probe failed: %s", fault.detail)
        finally:
            self._probing.release()

    def probe(self) -> EngineInfo:
        """Ask the engine what it is now (see :func:`codesaga.engine.probe.probe`) and keep
        the answer. Raises EngineFault when it cannot be asked."""
        wanted = tuple(t for tpl in self._templates.values() for t in tpl.tokens)
        info = probe(self._client, self.url, self.cfg.model, wanted)
        if info.tokenizer is None:
            log.info(
                "%s (%s) cannot count tokens per request: estimating %.2f characters per token",
                self.url,
                info.flavor,
                info.chars_per_token,
            )
        else:
            tokenizer = Tokenizer(self._client, root_of(self.url), self.cfg.model, info.tokenizer)
            self._counted = functools.lru_cache(maxsize=TOKEN_COUNTS)(tokenizer.count)
        log.info(
            "engine %s: %s, %d model(s), %d slot(s)",
            self.url,
            info.flavor,
            len(info.models),
            info.slots,
        )
        self._info = info
        return info

    @property
    def counts_tokens(self) -> bool:
        """Whether token counts come from the engine's tokenizer (else they are estimated)."""
        return self._counted is not None

    @property
    def template(self) -> FimTemplate:
        """The FIM template: the ``fimFamily`` setting's, else the one the engine's vocabulary
        supports (prefix-only until the engine has been reached)."""
        if self._template is None:
            info = self.info()
            if info is None:
                return self._templates[PREFIX_ONLY]
            self._template = detect_family(info.special_tokens.__contains__, "", "auto")
        return self._template

    @property
    def n_ctx(self) -> int:
        """Context window in tokens: the ``contextSize`` setting, or the engine's own window
        per sequence when that is smaller."""
        info = self._info
        if info is not None and info.n_ctx:
            return min(self._n_ctx, info.n_ctx)
        return self._n_ctx

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text``: from the engine's tokenize endpoint (llama.cpp, vLLM;
        remembered per text), else estimated from its length (see
        :attr:`~codesaga.engine.probe.EngineInfo.chars_per_token`). Never raises: while the
        engine cannot be asked, the estimate answers."""
        if not text:
            return 0
        self.info()  # starts a probe when the engine has not been reached
        if self._counted is not None and time.monotonic() >= self._tokenizer_retry_at:
            try:
                return self._counted(text)
            except EngineFault as fault:
                log.info("tokenize failed, estimating for %.0f s: %s", PROBE_INTERVAL, fault)
                self._tokenizer_retry_at = time.monotonic() + PROBE_INTERVAL
        return self._estimate(text)

    # ----- generation ---------------------------------------------------------------------

    def generate(self, request: GenerationRequest) -> Generation:
        """Stream one completion of ``request.prompt`` from ``/v1/completions``.

        A prefill (``max_tokens`` 0) asks for one token when the engine keeps prompts'
        KV state (:data:`CACHING_FLAVORS`), so that the next request sharing the prompt's
        head starts from it; otherwise it sends nothing.

        Raises EngineFault (see :mod:`codesaga.engine.faults`).
        """
        if request.max_tokens == 0:
            info = self.info()
            if info is None or info.flavor not in CACHING_FLAVORS:
                return Generation("", 0, 0, 0, 0.0, cancelled=request.cancel.is_set())
            done = self._run("/completions", {"prompt": request.prompt}, request, _text, 1)
            return Generation("", done.prompt_tokens, done.reused_tokens, 0, done.seconds)
        return self._run("/completions", {"prompt": request.prompt}, request, _text)

    def chat(self, messages: Sequence[ChatMessage], request: GenerationRequest) -> Generation:
        """Stream an answer to ``messages`` from ``/v1/chat/completions`` (the engine applies
        the model's chat template). Raises EngineFault."""
        body = {"messages": [dict(m) for m in messages]}
        return self._run("/chat/completions", body, request, _delta)

    def _payload(self, body: dict[str, Any], request: GenerationRequest, max_tokens: int) -> dict:
        payload: dict[str, Any] = {
            **body,
            "model": self.cfg.model,
            "max_tokens": max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        # the OpenAI API takes at most 4 stop strings: the shortest (the newline in
        # single-line mode) go; the rest are cut here
        stop = sorted(request.stop, key=len)[:4]
        if stop:
            payload["stop"] = stop
        info = self._info
        if info is not None and info.flavor == "llama.cpp":
            # keep the prompt's KV state in the slot: llama.cpp picks, for each request, the
            # slot whose cached prompt shares the most with it, which gives each document
            # its own slot without pinning one (a pinned slot would make a request wait
            # while another slot is idle)
            payload["cache_prompt"] = True
        return payload

    def _run(
        self,
        path: str,
        body: dict[str, Any],
        request: GenerationRequest,
        piece_of: Callable[[dict[str, Any]], Any],
        max_tokens: int | None = None,
    ) -> Generation:
        """One streamed request with retries (see :data:`RETRY_DELAYS`); the health it finds
        goes to :attr:`watch`. Raises EngineFault."""
        started = time.perf_counter()
        info = self.info()
        if info is not None and not info.serves(self.cfg.model):
            listed = ", ".join(info.models[:5])
            fault = EngineFault(
                "unknown_model", url=self.url, model=self.cfg.model, detail=f"it serves {listed}"
            )
            self.watch.failed(fault)
            raise fault
        wanted = request.max_tokens if max_tokens is None else max_tokens
        payload = self._payload(body, request, wanted)
        delays = iter(RETRY_DELAYS)
        while True:
            try:
                stream = self._stream(path, payload, request, piece_of, started)
            except EngineFault as fault:
                delay = next(delays, None)
                if fault.kind not in RETRYABLE or delay is None or request.cancel.is_set():
                    self.watch.failed(fault)
                    raise
                if fault.retry_after is not None:
                    delay = max(delay, min(fault.retry_after, MAX_RETRY_AFTER))
                log.info("engine: %s; retrying in %.2f s", fault.detail, delay)
                if request.cancel.wait(delay):
                    return Generation("", 0, 0, 0, time.perf_counter() - started, cancelled=True)
                continue
            return stream

    def _stream(
        self,
        path: str,
        payload: dict[str, Any],
        request: GenerationRequest,
        piece_of: Callable[[dict[str, Any]], Any],
        started: float,
    ) -> Generation:
        """Send one request and read its stream here, while the engine's event loop receives
        it; a set ``request.cancel`` or a true ``request.should_stop`` closes the stream.
        Raises EngineFault (before or while streaming)."""
        events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        future: Future[None] = asyncio.run_coroutine_threadsafe(
            self._receive(path, payload, events.put), self._loop
        )
        text, pieces, cancelled, answered = "", 0, False, False
        usage: dict[str, Any] = {}
        while True:
            try:
                kind, value = events.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if request.cancel.is_set():
                    future.cancel()
                    cancelled = True
                    break
                continue
            if not answered:  # the engine answers: healthy, whatever the rest brings
                answered = True
                if kind != "fault":
                    self.watch.succeeded()
            if kind == "end":
                break
            if kind == "fault":
                if pieces:  # a stream cut short: what came is kept, the fault reported
                    self.watch.failed(value)
                    break
                raise value
            piece, chunk_usage = self._read_chunk(value, piece_of)
            usage = chunk_usage or usage
            if piece:
                text += piece
                pieces += 1
                if request.on_text is not None:
                    request.on_text(piece)
                if request.should_stop is not None and request.should_stop(text):
                    future.cancel()
                    break
            if request.cancel.is_set():
                future.cancel()
                cancelled = True
                break
        for stop in request.stop:  # the stop strings beyond the engine's 4
            cut = text.find(stop)
            if cut >= 0:
                text = text[:cut]
        prompt = payload.get("prompt") or json.dumps(payload.get("messages", ""))
        details = usage.get("prompt_tokens_details") or {}
        return Generation(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or self._estimate(str(prompt))),
            reused_tokens=int(details.get("cached_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or pieces),
            seconds=time.perf_counter() - started,
            cancelled=cancelled or request.cancel.is_set(),
        )

    def _estimate(self, text: str) -> int:
        info = self._info
        return estimate_tokens(text, info.chars_per_token if info else CHARS_PER_TOKEN)

    def _read_chunk(
        self, chunk: Any, piece_of: Callable[[dict[str, Any]], Any]
    ) -> tuple[str, dict[str, Any]]:
        """The text and the usage (``{}`` when none) of one streamed chunk. Raises
        EngineFault for a chunk that is not an OpenAI one."""
        if not isinstance(chunk, dict):
            raise self._malformed("a chunk that is not an object")
        found = chunk.get("usage")
        usage: dict[str, Any] = found if isinstance(found, dict) else {}
        choices = chunk.get("choices", [])
        if not isinstance(choices, list):
            raise self._malformed("'choices' is not a list")
        if not choices:
            return "", usage
        piece = piece_of(choices[0]) if isinstance(choices[0], dict) else None
        if piece is not None and not isinstance(piece, str):
            raise self._malformed("a choice whose text is not a string")
        return piece or "", usage

    def _malformed(self, detail: str) -> EngineFault:
        return EngineFault("malformed", url=self.url, model=self.cfg.model, detail=detail)

    async def _receive(
        self, path: str, payload: dict[str, Any], put: Callable[[tuple[str, Any]], None]
    ) -> None:
        """Send ``payload`` and hand each event on: ``("chunk", parsed JSON)``, then
        ``("end", None)``, or ``("fault", EngineFault)``. Runs on the engine's event loop;
        cancelling it closes the connection."""
        try:
            async with aconnect_sse(
                self._aclient, "POST", f"{self.url}{path}", json=payload
            ) as source:
                response = source.response
                if response.status_code >= 400:
                    await response.aread()
                    raise fault_of(response, self.url, self.cfg.model)
                async for event in source.aiter_sse():
                    data = event.data.strip()
                    if event.event == "error":
                        raise EngineFault(
                            "server_error", url=self.url, model=self.cfg.model, detail=data[:200]
                        )
                    if data == "[DONE]":
                        break
                    if not data:
                        continue
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        raise self._malformed("an event that is not JSON") from None
                    if isinstance(chunk, dict) and (
                        "error" in chunk or chunk.get("object") == "error"
                    ):
                        raise _stream_error(chunk, self.url, self.cfg.model)
                    put(("chunk", chunk))
        except EngineFault as fault:
            put(("fault", fault))
            return
        except SSEError as exc:
            put(("fault", self._malformed(f"not a stream of server-sent events ({exc})")))
            return
        except httpx.HTTPError as exc:
            put(("fault", network_fault(exc, self.url, self.cfg.model)))
            return
        put(("end", None))

    def close(self) -> None:
        """Close the connections and stop the engine's event loop."""
        if self._loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._aclient.aclose(), self._loop).result(2.0)
        except Exception as exc:  # closing must not fail the caller
            log.debug("closing the HTTP client: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(2.0)
        self._loop.close()
        self._client.close()


def _text(choice: dict[str, Any]) -> Any:
    return choice.get("text")


def _delta(choice: dict[str, Any]) -> Any:
    delta = choice.get("delta")
    return delta.get("content") if isinstance(delta, dict) else None


def _stream_error(chunk: dict[str, Any], url: str, model: str) -> EngineFault:
    """The fault of an error object sent inside a stream (llama.cpp: ``{"error": {"code",
    "message"}}``; vLLM: ``{"object": "error", "code", "message"}``)."""
    error = chunk.get("error", chunk)
    if not isinstance(error, dict):
        error = {"message": str(error)}
    message = str(error.get("message", ""))
    code = error.get("code")
    status = code if isinstance(code, int) and code >= 400 else 500
    return EngineFault(
        kind_of_status(status, message),
        url=url,
        model=model,
        detail=f"error in the stream: {message[:200]}",
    )
