"""An OpenAI-compatible completion server (vLLM, llama.cpp's server, Ollama, LiteLLM) over HTTP.

Code leaves this machine only through this engine, and only when the user set
``backend: openai``. Uses the legacy ``/completions`` endpoint with a raw prompt so that FIM
templates work; streaming (server-sent events) lets a cancelled request stop reading at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from codesaga.engine.base import ChatMessage, EngineError, Generation, GenerationRequest
from codesaga.prompts import PREFIX_ONLY, FimTemplate, fim_templates
from codesaga.settings import OpenAISettings

CHARS_PER_TOKEN = 3.5
"""Token estimate without the server's tokenizer: a common rule of thumb for code."""


class OpenAIEngine:
    """Generation through ``POST {baseUrl}/completions``. The FIM family cannot be read from a
    remote model's vocabulary, so it comes from the ``fimFamily`` setting (``auto`` = prefix-only).
    ``transport`` replaces httpx's network transport (tests pass an ``httpx.MockTransport``).
    """

    def __init__(
        self,
        cfg: OpenAISettings,
        *,
        n_ctx: int,
        fim_family: str = "auto",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not cfg.model:
            raise EngineError("backend 'openai' needs the setting openai.model")
        self.cfg = cfg
        self.n_ctx = n_ctx
        self.model_id = f"openai:{cfg.base_url}:{cfg.model}"
        name = PREFIX_ONLY if fim_family == "auto" else fim_family
        templates = fim_templates()
        if name not in templates:
            raise EngineError(f"unknown fimFamily {fim_family!r}")
        self.template: FimTemplate = templates[name]
        headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
        self.client = httpx.Client(
            base_url=cfg.base_url.rstrip("/"), headers=headers, timeout=30.0, transport=transport
        )

    def count_tokens(self, text: str) -> int:
        """Estimated tokens in ``text`` (characters / CHARS_PER_TOKEN, rounded up)."""
        return int(-(-len(text) // CHARS_PER_TOKEN))

    def generate(self, request: GenerationRequest) -> Generation:
        """Stream one completion of ``request.prompt`` from ``/completions``.

        A prefill (``max_tokens`` 0) sends nothing: the remote server keeps its own cache.

        Raises EngineError when the server is unreachable or answers with an error.
        """
        if request.max_tokens == 0:
            return Generation("", 0, 0, 0, 0.0, cancelled=request.cancel.is_set())
        body = {"prompt": request.prompt}
        return self._stream("/completions", body, request, lambda c: c.get("text"))

    def chat(self, messages: Sequence[ChatMessage], request: GenerationRequest) -> Generation:
        """Stream an answer from ``/chat/completions`` (the server applies its chat template).

        Raises EngineError when the server is unreachable or answers with an error.
        """
        body = {"messages": [dict(m) for m in messages]}
        return self._stream(
            "/chat/completions", body, request, lambda c: (c.get("delta") or {}).get("content")
        )

    def _stream(
        self,
        path: str,
        body: dict[str, Any],
        request: GenerationRequest,
        piece_of: Callable[[dict[str, Any]], str | None],
    ) -> Generation:
        started = time.perf_counter()
        payload = {
            **body,
            "model": self.cfg.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            # The OpenAI API takes at most 4 stop strings: send the shortest (the newline in
            # single-line mode); the rest are cut below.
            "stop": sorted(request.stop, key=len)[:4] or None,
            "stream": True,
        }
        text, n_out = "", 0
        try:
            with self.client.stream("POST", path, json=payload) as response:
                if response.status_code >= 400:
                    response.read()
                    raise EngineError(
                        f"{self.cfg.base_url}: HTTP {response.status_code}: {response.text[:200]}"
                    )
                for line in response.iter_lines():
                    if request.cancel.is_set():
                        break
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    choices = json.loads(data).get("choices") or [{}]
                    piece = piece_of(choices[0]) or ""
                    text += piece
                    n_out += 1
                    if request.on_text is not None and piece:
                        request.on_text(piece)
                    if request.should_stop is not None and request.should_stop(text):
                        break
        except httpx.HTTPError as exc:
            raise EngineError(f"cannot reach {self.cfg.base_url}: {exc}") from exc
        for stop in request.stop:  # servers that ignore extra stop strings
            cut = text.find(stop)
            if cut >= 0:
                text = text[:cut]
        return Generation(
            text=text,
            prompt_tokens=self.count_tokens(str(body)),
            reused_tokens=0,
            completion_tokens=n_out,
            seconds=time.perf_counter() - started,
            cancelled=request.cancel.is_set(),
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.client.close()
