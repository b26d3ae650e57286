"""The OpenAI-compatible engine against scripted engines on httpx's MockTransport (no
network): the requests it builds, what it learns from each kind of engine, server-sent event
edge cases, faults, retries, cancellation. The same engine against a real
``llama_cpp.server`` is tested in ``tests/e2e/test_shared_engine.py``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from codesaga.engine import ChatMessage, EngineError, GenerationRequest
from codesaga.engine import openai as openai_engine
from codesaga.engine.faults import EngineFault, FaultWatch
from codesaga.engine.openai import API_KEY_ENV, OpenAIEngine
from codesaga.settings import OpenAISettings

QWEN_TOKENS = {"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>"}


def sse(*chunks: dict[str, object] | str) -> bytes:
    """A server-sent event stream of ``chunks`` (strings are sent as they are), then
    ``[DONE]``."""
    events = [c if isinstance(c, str) else f"data: {json.dumps(c)}\n\n" for c in chunks]
    return ("".join(events) + "data: [DONE]\n\n").encode()


def _count(text: str) -> int:
    """A tokenizer for the scripted engines: the Qwen FIM tokens are one token each, other
    text one token per 4 characters."""
    return 1 if text in QWEN_TOKENS else -(-len(text) // 4)


class Engine:
    """A scripted OpenAI-compatible engine of one ``flavor``. Records every request; answers
    completions and chats with ``stream`` (or ``status`` and ``error``)."""

    def __init__(
        self,
        flavor: str = "openai-compatible",
        *,
        stream: bytes = b"data: [DONE]\n\n",
        status: int = 200,
        error: str = "",
        models: tuple[str, ...] = ("coder-1",),
        headers: dict[str, str] | None = None,
    ) -> None:
        self.flavor = flavor
        self.stream = stream
        self.status = status
        self.error = error
        self.models = models
        self.headers = headers or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        body = json.loads(request.content) if request.content else {}
        if path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": m} for m in self.models]})
        if path in ("/v1/completions", "/v1/chat/completions"):
            if self.status >= 400:
                return httpx.Response(
                    self.status, json={"error": {"message": self.error}}, headers=self.headers
                )
            return httpx.Response(
                200, content=self.stream, headers={"content-type": "text/event-stream"}
            )
        if self.flavor == "llama.cpp" and path == "/props":
            return httpx.Response(
                200, json={"total_slots": 4, "default_generation_settings": {"n_ctx": 2048}}
            )
        if self.flavor == "llama.cpp" and path == "/tokenize":
            return httpx.Response(200, json={"tokens": list(range(_count(body["content"])))})
        if self.flavor == "vllm" and path == "/version":
            return httpx.Response(200, json={"version": "0.9"})
        if self.flavor == "vllm" and path == "/tokenize":
            return httpx.Response(200, json={"count": _count(body["prompt"]), "tokens": []})
        if self.flavor == "llama-cpp-python" and path == "/extras/tokenize/count":
            return httpx.Response(200, json={"count": 1 + _count(body["input"])})  # with BOS
        return httpx.Response(404, json={"detail": "Not Found"})

    def sent(self, path: str) -> list[dict[str, Any]]:
        """The JSON bodies of the requests to ``path``."""
        return [json.loads(r.content) for r in self.requests if r.url.path == path]


def engine(
    handler: Callable[[httpx.Request], Any],
    *,
    api_key: str = "sk-test",
    fim_family: str = "auto",
    probe: bool = True,
) -> OpenAIEngine:
    """An engine on ``handler``, probed first (as the loader does) unless ``probe`` is False."""
    cfg = OpenAISettings(base_url="http://llm.test/v1/", api_key=api_key, model="coder-1")
    eng = OpenAIEngine(
        cfg, n_ctx=4096, fim_family=fim_family, transport=httpx.MockTransport(handler)
    )
    if probe:
        with contextlib.suppress(EngineFault):
            eng.probe()
    return eng


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries and re-probes without their pauses."""
    monkeypatch.setattr(openai_engine, "RETRY_DELAYS", (0.0, 0.0, 0.0))
    monkeypatch.setattr(openai_engine, "PROBE_INTERVAL", 0.0)
    monkeypatch.setattr(openai_engine, "MAX_RETRY_AFTER", 0.0)


def test_completion_request() -> None:
    server = Engine(stream=sse({"choices": [{"text": "x + 1"}]}, {"choices": [{"text": ")"}]}))
    eng = engine(server, fim_family="qwen")
    stop = ["\n\n", "\n", "```", "<|endoftext|>", "<|fim_pad|>"]
    gen = eng.generate(GenerationRequest(prompt="def f(x):\n    return ", max_tokens=16, stop=stop))
    sent = [r for r in server.requests if r.url.path == "/v1/completions"][-1]
    assert str(sent.url) == "http://llm.test/v1/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert server.sent("/v1/completions") == [
        {
            "prompt": "def f(x):\n    return ",
            "model": "coder-1",
            "max_tokens": 16,
            "temperature": 0.2,
            "stream": True,
            "stream_options": {"include_usage": True},
            "stop": ["\n", "\n\n", "```", "<|fim_pad|>"],  # the 4 shortest: the API's limit
        }
    ]
    assert gen.text == "x + 1)" and gen.completion_tokens == 2 and not gen.cancelled
    assert eng.template.name == "qwen"
    eng.close()


def test_chat_request_streams_its_pieces() -> None:
    server = Engine(
        stream=sse(
            {"choices": [{"delta": {"role": "assistant"}}]},
            {"choices": [{"delta": {"content": "Hello"}}]},
            {"choices": [{"delta": {"content": " there"}}]},
            {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 2}},
        )
    )
    pieces: list[str] = []
    messages: list[ChatMessage] = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "안녕"},
    ]
    request = GenerationRequest(prompt="", max_tokens=64, temperature=0.0, on_text=pieces.append)
    gen = engine(server).chat(messages, request)
    (body,) = server.sent("/v1/chat/completions")
    assert body["messages"] == messages and "stop" not in body and body["stream"] is True
    assert gen.text == "Hello there" and pieces == ["Hello", " there"]
    assert (gen.prompt_tokens, gen.completion_tokens) == (12, 2)  # the engine's usage


def test_llama_cpp_server_counts_tokens_and_keeps_prompts() -> None:
    server = Engine("llama.cpp", stream=sse({"choices": [{"text": "y"}]}))
    eng = engine(server)
    assert eng.template.name == "qwen"  # from the vocabulary, through /tokenize
    assert eng.n_ctx == 2048  # the engine's window is smaller than the setting's 4096
    assert eng.count_tokens("abcdefgh") == 2
    before = len(server.requests)
    assert eng.count_tokens("abcdefgh") == 2  # remembered
    assert len(server.requests) == before
    eng.generate(GenerationRequest(prompt="p", max_tokens=4))
    assert server.sent("/v1/completions")[-1]["cache_prompt"] is True


def test_vllm_counts_tokens_with_its_tokenizer() -> None:
    eng = engine(Engine("vllm"))
    assert eng.count_tokens("a" * 40) == 10
    assert eng.info() is not None and eng.info().flavor == "vllm"  # type: ignore[union-attr]


def test_llama_cpp_python_is_asked_once_then_estimated() -> None:
    """Its tokenize endpoint waits for (and by default interrupts) a running generation:
    the probe calibrates an estimate, and counting asks nothing more."""
    server = Engine("llama-cpp-python")
    eng = engine(server)
    assert eng.template.name == "qwen"
    info = eng.info()
    assert info is not None and info.tokenizer is None
    assert 3.9 < info.chars_per_token < 4.1  # 4 characters a token, BOS taken off
    before = len(server.requests)
    assert eng.count_tokens("a" * 400) in range(98, 104)
    assert len(server.requests) == before


def test_an_engine_without_tokenizer_is_prefix_only_and_estimated() -> None:
    eng = engine(Engine("ollama"))
    assert eng.template.name == "none" and eng.count_tokens("a" * 35) == 10


def test_a_prefill_is_sent_only_to_engines_that_keep_prompts() -> None:
    keeps = Engine("llama.cpp")
    engine(keeps).generate(GenerationRequest(prompt="head", max_tokens=0))
    assert [b["max_tokens"] for b in keeps.sent("/v1/completions")] == [1]
    plain = Engine()
    gen = engine(plain).generate(GenerationRequest(prompt="head", max_tokens=0))
    assert plain.sent("/v1/completions") == [] and gen.text == ""


def test_no_api_key_sends_none_and_the_environment_gives_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = Engine()
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    engine(server, api_key="").generate(GenerationRequest(prompt="p", max_tokens=4))
    assert all("authorization" not in r.headers for r in server.requests)
    monkeypatch.setenv(API_KEY_ENV, "sk-env")
    engine(server, api_key="").generate(GenerationRequest(prompt="p", max_tokens=4))
    assert server.requests[-1].headers["authorization"] == "Bearer sk-env"


def test_stop_strings_beyond_four_are_cut_here() -> None:
    server = Engine(stream=sse({"choices": [{"text": "a<|endoftext|>b"}]}))
    stop = ["\n", "\n\n", "```", "<|fim_pad|>", "<|endoftext|>"]
    gen = engine(server).generate(GenerationRequest(prompt="p", max_tokens=8, stop=stop))
    assert gen.text == "a"


# ----- server-sent events -------------------------------------------------------------------


def test_multi_line_data_comments_and_named_events() -> None:
    stream = sse(
        ": keep-alive\n\n",
        'data: {"choices":\ndata: [{"text": "a"}]}\n\n',  # one event's data on two lines
        'event: message\ndata: {"choices": [{"text": "b"}]}\n\n',
    )
    assert engine(Engine(stream=stream)).generate(GenerationRequest("p", 4)).text == "ab"


@pytest.mark.parametrize(
    ("stream", "kind", "detail"),
    [
        (sse("data: {not json\n\n"), "malformed", "not JSON"),
        (sse({"choices": {"text": "a"}}), "malformed", "not a list"),
        (sse({"choices": [{"text": 3}]}), "malformed", "not a string"),
        (sse('event: error\ndata: "slot unavailable"\n\n'), "server_error", "slot unavailable"),
        (sse({"error": {"code": 500, "message": "kv cache full"}}), "server_error", "kv cache"),
        (
            sse({"object": "error", "code": 400, "message": "prompt too long"}),
            "rejected",
            "prompt too long",
        ),
    ],
)
def test_a_bad_stream_is_a_fault(stream: bytes, kind: str, detail: str) -> None:
    eng = engine(Engine(stream=stream))
    with pytest.raises(EngineFault) as caught:
        eng.generate(GenerationRequest(prompt="p", max_tokens=4))
    assert caught.value.kind == kind and detail in caught.value.detail


def test_an_answer_that_is_not_an_event_stream_is_malformed() -> None:
    def json_answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(404)
        return httpx.Response(200, json={"choices": [{"text": "a"}]})

    with pytest.raises(EngineFault, match="OpenAI-compatible") as caught:
        engine(json_answer).generate(GenerationRequest(prompt="p", max_tokens=4))
    assert caught.value.kind == "malformed"


# ----- faults and retries ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "kind", "tries"),
    [
        (401, "Invalid API key", "unauthorized", 1),
        (403, "forbidden", "unauthorized", 1),
        (404, "The model `coder-1` does not exist.", "unknown_model", 1),
        (404, "Not Found", "malformed", 1),
        (400, "context length exceeded", "rejected", 1),
        (429, "slow down", "rate_limited", 4),
        (503, "loading model", "server_error", 4),
    ],
)
def test_http_errors_are_faults_retried_only_when_safe(
    status: int, error: str, kind: str, tries: int
) -> None:
    server = Engine(status=status, error=error, headers={"retry-after": "1"})
    with pytest.raises(EngineFault) as caught:
        engine(server).generate(GenerationRequest(prompt="p", max_tokens=4))
    assert caught.value.kind == kind and error[:10] in caught.value.detail
    assert len(server.sent("/v1/completions")) == tries


def test_a_model_the_engine_does_not_list_fails_before_asking() -> None:
    server = Engine(models=("qwen", "gemma"))
    with pytest.raises(EngineFault, match="does not serve the model 'coder-1'") as caught:
        engine(server).generate(GenerationRequest(prompt="p", max_tokens=4))
    assert "qwen, gemma" in caught.value.detail and server.sent("/v1/completions") == []


def test_unreachable_timeout_and_recovery() -> None:
    up = Engine(stream=sse({"choices": [{"text": "ok"}]}))
    state = {"mode": "down", "tries": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        if state["mode"] == "down":
            state["tries"] += 1
            raise httpx.ConnectError("connection refused", request=request)
        if state["mode"] == "slow" and request.url.path == "/v1/completions":
            state["tries"] += 1
            raise httpx.ReadTimeout("timed out", request=request)
        return up(request)

    eng = engine(flaky, probe=False)
    heard: list[tuple[str | None, str | None]] = []
    eng.watch.listener = lambda now, before: heard.append(
        (now and now.kind, before and before.kind)
    )
    assert eng.template.name == "none" and eng.count_tokens("a" * 7) == 2  # not reached yet
    assert eng.info() is None  # never blocks: a probe runs in the background
    for _ in range(3):  # one message for the outage, however many requests fail
        with pytest.raises(EngineFault, match="nothing answers at http://llm.test/v1"):
            eng.generate(GenerationRequest(prompt="p", max_tokens=4))
    assert heard == [("unreachable", None)]
    assert state["tries"] >= 3 * 4  # each request tried 4 times
    state.update(mode="slow", tries=0)
    with pytest.raises(EngineFault) as caught:
        eng.generate(GenerationRequest(prompt="p", max_tokens=4))
    assert caught.value.kind == "timeout" and state["tries"] == 1  # a timeout is not retried
    state["mode"] = "up"
    assert eng.generate(GenerationRequest(prompt="p", max_tokens=4)).text == "ok"
    assert heard == [("unreachable", None), ("timeout", "unreachable"), (None, "timeout")]


def test_fault_watch_says_each_change_once() -> None:
    watch = FaultWatch()
    heard: list[tuple[str | None, str | None]] = []
    watch.listener = lambda now, before: heard.append((now and now.kind, before and before.kind))
    fault = EngineFault("unreachable", url="u", model="m", detail="d")
    watch.succeeded()
    watch.failed(fault)
    watch.failed(fault)
    watch.succeeded()
    watch.succeeded()
    assert heard == [("unreachable", None), (None, "unreachable")]
    assert watch.current is None


def test_fault_messages_are_in_korean_too() -> None:
    fault = EngineFault("unauthorized", url="http://h/v1", model="m", detail="HTTP 401")
    assert "API" in fault.text("ko") and fault.text("ko") != fault.text("en")


# ----- cancellation ----------------------------------------------------------------------


def test_cancel_closes_the_stream_at_once() -> None:
    """A superseded request returns as soon as it is cancelled, and its stream is closed,
    while the engine would go on sending."""
    closed = asyncio.Event()
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            yield b'data: {"choices": [{"text": "a"}]}\n\n'
            started.set()
            await asyncio.Event().wait()  # the engine never sends more
            yield b""
        finally:
            closed.set()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": []})
        if request.url.path == "/v1/completions":
            return httpx.Response(
                200, content=endless(), headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(404)

    eng = engine(handler)
    pieces: list[str] = []
    request = GenerationRequest(prompt="p", max_tokens=64)
    request.on_text = lambda piece: (pieces.append(piece), request.cancel.set())
    gen = eng.generate(request)
    assert gen.cancelled and gen.text == "a" and pieces == ["a"]
    asyncio.run_coroutine_threadsafe(asyncio.wait_for(closed.wait(), 5), eng._loop).result(6)
    eng.close()


def test_settings_errors() -> None:
    with pytest.raises(EngineError, match="openai.model"):
        OpenAIEngine(OpenAISettings(model=""), n_ctx=2048)
    with pytest.raises(EngineError, match="unknown fimFamily"):
        engine(Engine(), fim_family="nope")


def test_an_engine_reached_later_is_probed_in_the_background() -> None:
    state = {"up": False}
    up = Engine("llama.cpp")

    def later(request: httpx.Request) -> httpx.Response:
        if not state["up"]:
            raise httpx.ConnectError("connection refused", request=request)
        return up(request)

    eng = engine(later)
    assert eng.info() is None and eng.template.name == "none"
    state["up"] = True
    for _ in range(200):  # the next call starts a probe in a thread of its own
        if eng.info() is not None:
            break
        threading.Event().wait(0.01)
    assert eng.template.name == "qwen" and eng.counts_tokens
