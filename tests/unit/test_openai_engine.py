"""The OpenAI-compatible engine's requests: URL, JSON body and headers for completion and chat,
against httpx's MockTransport (no network)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from codesaga.engine import ChatMessage, EngineError, GenerationRequest
from codesaga.engine.openai import OpenAIEngine
from codesaga.settings import OpenAISettings

Handler = Callable[[httpx.Request], httpx.Response]


def sse(*chunks: dict[str, object]) -> bytes:
    """A server-sent event stream of ``chunks``, then ``[DONE]``."""
    events = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks]
    return ("".join(events) + "data: [DONE]\n\n").encode()


class Server:
    """A scripted OpenAI-compatible server: records each request, answers with ``body``."""

    def __init__(self, body: bytes = b"data: [DONE]\n\n", status: int = 200) -> None:
        self.body = body
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(
            self.status, content=self.body, headers={"content-type": "text/event-stream"}
        )

    @property
    def json(self) -> object:
        return json.loads(self.requests[-1].content)


def engine(handler: Handler, *, api_key: str = "sk-test", fim_family: str = "auto") -> OpenAIEngine:
    cfg = OpenAISettings(base_url="http://llm.test/v1/", api_key=api_key, model="coder-1")
    return OpenAIEngine(
        cfg, n_ctx=4096, fim_family=fim_family, transport=httpx.MockTransport(handler)
    )


def test_completion_request() -> None:
    server = Server(sse({"choices": [{"text": "x + 1"}]}, {"choices": [{"text": ")"}]}))
    eng = engine(server, fim_family="qwen")
    stop = ["\n\n", "\n", "```", "<|endoftext|>", "<|fim_pad|>"]
    request = GenerationRequest(prompt="def f(x):\n    return ", max_tokens=16, stop=stop)
    gen = eng.generate(request)
    sent = server.requests[-1]
    assert sent.method == "POST"
    assert str(sent.url) == "http://llm.test/v1/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.headers["content-type"] == "application/json"
    assert server.json == {
        "prompt": "def f(x):\n    return ",
        "model": "coder-1",
        "max_tokens": 16,
        "temperature": 0.2,
        "stop": ["\n", "\n\n", "```", "<|fim_pad|>"],  # the 4 shortest: the API's limit
        "stream": True,
    }
    assert gen.text == "x + 1)" and gen.completion_tokens == 2 and not gen.cancelled
    assert eng.template.name == "qwen"


def test_chat_request() -> None:
    server = Server(
        sse(
            {"choices": [{"delta": {"role": "assistant"}}]},
            {"choices": [{"delta": {"content": "Hello"}}]},
            {"choices": [{"delta": {"content": " there"}}]},
        )
    )
    pieces: list[str] = []
    messages: list[ChatMessage] = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "안녕"},
    ]
    request = GenerationRequest(prompt="", max_tokens=64, temperature=0.0, on_text=pieces.append)
    gen = engine(server).chat(messages, request)
    sent = server.requests[-1]
    assert str(sent.url) == "http://llm.test/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert server.json == {
        "messages": messages,
        "model": "coder-1",
        "max_tokens": 64,
        "temperature": 0.0,
        "stop": None,
        "stream": True,
    }
    assert gen.text == "Hello there" and pieces == ["Hello", " there"]


def test_no_api_key_sends_no_authorization() -> None:
    server = Server()
    engine(server, api_key="").generate(GenerationRequest(prompt="p", max_tokens=4))
    assert "authorization" not in server.requests[-1].headers


def test_a_prefill_sends_nothing() -> None:
    server = Server()
    gen = engine(server).generate(GenerationRequest(prompt="p", max_tokens=0))
    assert server.requests == [] and gen.text == ""


def test_stop_strings_beyond_four_are_cut_here() -> None:
    server = Server(sse({"choices": [{"text": "a<|endoftext|>b"}]}))
    stop = ["\n", "\n\n", "```", "<|fim_pad|>", "<|endoftext|>"]
    gen = engine(server).generate(GenerationRequest(prompt="p", max_tokens=8, stop=stop))
    assert gen.text == "a"


def test_http_errors_and_unreachable_servers_raise_engine_error() -> None:
    server = Server(b'{"error": "model not found"}', status=404)
    with pytest.raises(EngineError, match="HTTP 404: .*model not found"):
        engine(server).generate(GenerationRequest(prompt="p", max_tokens=4))

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(EngineError, match="cannot reach http://llm.test/v1/"):
        engine(unreachable).chat([], GenerationRequest(prompt="", max_tokens=4))


def test_settings_errors() -> None:
    with pytest.raises(EngineError, match="openai.model"):
        OpenAIEngine(OpenAISettings(model=""), n_ctx=2048)
    with pytest.raises(EngineError, match="unknown fimFamily"):
        engine(Server(), fim_family="nope")
