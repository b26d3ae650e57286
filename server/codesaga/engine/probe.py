"""What an OpenAI-compatible engine is and offers, asked once over HTTP.

The OpenAI API has no way to tokenize or to say which program serves it, so the probe tries
the endpoints each known engine adds beside ``/v1`` (all of them GET or side-effect free):

* llama.cpp's ``llama-server``: ``GET /props`` (its slots and context size) and
  ``POST /tokenize`` ``{"content"}`` -> ``{"tokens"}``; answered by the HTTP thread, beside
  any generation.
* vLLM: ``GET /version`` and ``POST /tokenize`` ``{"model", "prompt"}`` -> ``{"count"}``.
* llama-cpp-python's ``llama_cpp.server``: ``POST /extras/tokenize/count`` ``{"input"}`` ->
  ``{"count"}`` (BOS included). It takes the model's lock, so it waits for a running
  generation and, with the server's default ``interrupt_requests``, cuts it short: it is
  used here once, for the probe, never per count.
* Ollama: ``GET /api/version``; no tokenizer.

Anything else (LiteLLM's proxy, a hosted API) is ``openai-compatible``: only ``/v1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from codesaga.engine.faults import EngineFault, kind_of_status

Flavor = Literal["llama.cpp", "vllm", "llama-cpp-python", "ollama", "openai-compatible"]

CALIBRATION_TEXT = '''import os


def read_config(path: str, *, default: dict | None = None) -> dict:
    """Read a JSON config file; return ``default`` when it does not exist."""
    if not os.path.exists(path):
        return dict(default or {})
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
'''
"""Code whose token count gives the characters per token of an engine whose tokenizer is
used once only (see :attr:`EngineInfo.chars_per_token`)."""

CHARS_PER_TOKEN = 3.5
"""Characters per token when the engine cannot tokenize: a common rule of thumb for code
(Qwen2.5-Coder's tokenizer gives 3.6 on :data:`CALIBRATION_TEXT`)."""


@dataclass(frozen=True)
class EngineInfo:
    """What the probe found. ``models``: the ids ``GET /v1/models`` lists (empty when it
    is not offered); ``tokenizer``: the flavor whose tokenize endpoint counts tokens per
    request (llama.cpp, vLLM), or None; ``chars_per_token``: for estimates when there is no
    such endpoint (measured on :data:`CALIBRATION_TEXT` where the engine could tokenize
    once, else :data:`CHARS_PER_TOKEN`); ``special_tokens``: the FIM-family tokens (as
    asked) that are single tokens of the engine's vocabulary; ``slots``: llama.cpp's
    parallel slots (0 = unknown); ``n_ctx``: the engine's context window in tokens per
    sequence, when it says."""

    flavor: Flavor
    models: tuple[str, ...]
    tokenizer: Literal["llama.cpp", "vllm"] | None
    chars_per_token: float
    special_tokens: frozenset[str]
    slots: int = 0
    n_ctx: int | None = None

    def serves(self, model: str) -> bool:
        """Whether ``model`` is one the engine lists (Ollama's ``name`` means ``name:latest``);
        True when it lists none."""
        return not self.models or model in self.models or f"{model}:latest" in self.models


def root_of(base_url: str) -> str:
    """The engine's root URL: ``base_url`` without a trailing ``/v1``."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def fault_of(response: httpx.Response, url: str, model: str) -> EngineFault:
    """The fault an HTTP error ``response`` (status ≥ 400, body read) means."""
    body = _json(response)
    message = ""
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message", "")))
        message = str(error.get("message", error) if isinstance(error, dict) else error)
    message = message or response.text
    retry_after = response.headers.get("retry-after", "")
    return EngineFault(
        kind_of_status(response.status_code, message),
        url=url,
        model=model,
        detail=f"HTTP {response.status_code}: {message[:200]}".rstrip(": "),
        retry_after=float(retry_after) if retry_after.replace(".", "", 1).isdigit() else None,
    )


def network_fault(exc: httpx.HTTPError, url: str, model: str) -> EngineFault:
    """The fault a network error means (refused or dropped connection, timeout)."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError | httpx.RemoteProtocolError):
        kind: Any = "unreachable"
    elif isinstance(exc, httpx.TimeoutException):
        kind = "timeout"
    elif isinstance(exc, httpx.NetworkError):
        kind = "unreachable"
    else:
        kind = "malformed"
    return EngineFault(kind, url=url, model=model, detail=type(exc).__name__)


class Tokenizer:
    """Token counts from a llama.cpp or vLLM tokenize endpoint (one request per text)."""

    def __init__(self, client: httpx.Client, root: str, model: str, flavor: str) -> None:
        self._client, self._root, self._model, self._flavor = client, root, model, flavor

    def count(self, text: str) -> int:
        """Tokens in ``text`` (no BOS, special tokens recognised).

        Raises EngineFault when the engine cannot be asked or answers with an error."""
        if self._flavor == "llama.cpp":
            body: dict[str, Any] = {"content": text, "add_special": False, "parse_special": True}
        else:
            body = {"model": self._model, "prompt": text, "add_special_tokens": False}
        try:
            response = self._client.post(f"{self._root}/tokenize", json=body)
        except httpx.HTTPError as exc:
            raise network_fault(exc, self._root, self._model) from exc
        if response.status_code >= 400:
            raise fault_of(response, self._root, self._model)
        found = _json(response)
        if isinstance(found, dict) and isinstance(found.get("count"), int):
            return int(found["count"])
        if isinstance(found, dict) and isinstance(found.get("tokens"), list):
            return len(found["tokens"])
        raise EngineFault(
            "malformed", url=self._root, model=self._model, detail="tokenize: no count"
        )


def _get(client: httpx.Client, url: str) -> Any:
    """The JSON of a 200 answer to ``GET url``, else None (a missing endpoint)."""
    try:
        response = client.get(url)
    except httpx.HTTPError:
        return None
    return _json(response) if response.status_code == 200 else None


def _count_once(client: httpx.Client, root: str, model: str, text: str) -> int | None:
    """llama-cpp-python's count of ``text`` without its BOS (None when not offered)."""
    counts = []
    for probe in ("", text):
        try:
            response = client.post(
                f"{root}/extras/tokenize/count", json={"input": probe, "model": model}
            )
        except httpx.HTTPError:
            return None
        found = _json(response) if response.status_code == 200 else None
        if not isinstance(found, dict) or not isinstance(found.get("count"), int):
            return None
        counts.append(int(found["count"]))
    return counts[1] - counts[0]


def probe(client: httpx.Client, base_url: str, model: str, tokens: tuple[str, ...]) -> EngineInfo:
    """Ask the engine at ``base_url`` (its ``/v1`` URL) what it is; ``tokens``: special
    tokens whose presence in the vocabulary is wanted (the FIM families').

    Raises EngineFault when ``GET {base_url}/models`` cannot be made or is refused
    (unreachable, timeout, unauthorized); a 404 there only means the list is not offered.
    """
    url = base_url.rstrip("/")
    root = root_of(url)
    try:
        response = client.get(f"{url}/models")
    except httpx.HTTPError as exc:
        raise network_fault(exc, url, model) from exc
    if response.status_code in (401, 403) or response.status_code >= 500:
        raise fault_of(response, url, model)
    listed = _json(response) if response.status_code == 200 else None
    data = listed.get("data") if isinstance(listed, dict) else None
    models = tuple(
        str(m["id"]) for m in data or () if isinstance(m, dict) and isinstance(m.get("id"), str)
    )

    props = _get(client, f"{root}/props")
    if isinstance(props, dict) and "total_slots" in props:
        settings = props.get("default_generation_settings") or {}
        n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
        return _with_tokenizer(
            Tokenizer(client, root, model, "llama.cpp"),
            "llama.cpp",
            models,
            tokens,
            slots=int(props["total_slots"]),
            n_ctx=int(n_ctx) if isinstance(n_ctx, int) else None,
        )
    if isinstance(_get(client, f"{root}/version"), dict):
        tokenizer = Tokenizer(client, root, model, "vllm")
        try:
            tokenizer.count("x")
        except EngineFault:
            pass
        else:
            return _with_tokenizer(tokenizer, "vllm", models, tokens)
    sample = _count_once(client, root, model, CALIBRATION_TEXT)
    if sample:
        special = frozenset(t for t in tokens if _count_once(client, root, model, t) == 1)
        ratio = len(CALIBRATION_TEXT) / sample
        return EngineInfo("llama-cpp-python", models, None, ratio, special)
    flavor: Flavor = "ollama" if _get(client, f"{root}/api/version") else "openai-compatible"
    return EngineInfo(flavor, models, None, CHARS_PER_TOKEN, frozenset())


def _with_tokenizer(
    tokenizer: Tokenizer,
    flavor: Literal["llama.cpp", "vllm"],
    models: tuple[str, ...],
    tokens: tuple[str, ...],
    *,
    slots: int = 0,
    n_ctx: int | None = None,
) -> EngineInfo:
    special = frozenset(t for t in tokens if tokenizer.count(t) == 1)
    ratio = len(CALIBRATION_TEXT) / max(1, tokenizer.count(CALIBRATION_TEXT))
    return EngineInfo(flavor, models, flavor, ratio, special, slots, n_ctx)


def estimate_tokens(text: str, chars_per_token: float) -> int:
    """Tokens in ``text`` estimated from its length in characters (rounded up)."""
    return math.ceil(len(text) / chars_per_token)
