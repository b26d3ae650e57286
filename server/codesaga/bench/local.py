"""The in-process arms of ``codesaga bench``, run after the server arm has stopped (so the two
never share the CPU): the naive arm, raw decode speed, and the server's own overhead.

* Naive arm: plain llama-cpp-python with one reused ``Llama`` object; at every pause point of
  the server arm it completes all the text before the cursor (tail-truncated to fit the
  context window) with the same ``maxTokens``, stopping at a newline.
* Raw decode: the same ``Llama`` object streams the server's own prompt for each pause point
  (rebuilt in-process by the real :class:`~codesaga.completion.Completer`), with the server's
  token bound, stop strings and sampling, and times the decode phase as the server's
  :class:`~codesaga.stats.DecodeClock` does.
* Overhead: every step of a keystroke except the model (didChange: the text and an edited
  tree, the re-parse waiting for a pause in typing; context, prompt, type-through, cache,
  post-processing), timed with the real modules and the real tokenizer on a 5,000-line
  Python file.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from lsprotocol.types import Range, TextDocumentContentChangePartial

from codesaga.bench.records import PausePoint
from codesaga.bench.script import advance, keystrokes, middle_typing
from codesaga.cache import CompletionCache
from codesaga.completion import Completer
from codesaga.completion.prompt import PromptBuilder, heal, healed_whitespace
from codesaga.completion.typethrough import remember, typed_through
from codesaga.documents import DocumentStore
from codesaga.engine import Engine, Generation, GenerationRequest
from codesaga.engine.llama import SAMPLING, LlamaEngine
from codesaga.postprocess import Mode, postprocess
from codesaga.prompts import FimTemplate
from codesaga.repo.workspace import Workspace
from codesaga.scheduler import Scheduler

STAGES = ("change", "context", "prompt", "type_through", "cache", "postprocess")
"""Keystroke steps outside the engine, in pipeline order."""


@dataclass
class Completion:
    """One naive-arm completion: seconds of wall time, token counts."""

    seconds: float
    prompt_tokens: int
    reused_tokens: int
    completion_tokens: int
    text_chars: int


@dataclass
class DecodeSample:
    """Timing of one streamed generation's decode phase (first to last piece)."""

    decode_tokens: int
    decode_seconds: float
    completion_tokens: int


@dataclass
class Overhead:
    """Per-keystroke milliseconds of each stage, and of ``Completer.complete`` end to end with
    an engine that answers at once (``pipeline_ms``, plus the didChange)."""

    lines: int
    stages_ms: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    total_ms: list[float] = field(default_factory=list)
    pipeline_ms: list[float] = field(default_factory=list)


def naive_tokens(llm: Any, text: str, max_tokens: int) -> list[int]:
    """BOS + the last tokens of ``text`` that fit ``n_ctx - max_tokens - 1``."""
    ids = list(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))
    room = max(1, int(llm.n_ctx()) - max_tokens - 1)
    bos = int(llm.token_bos())
    return ([bos] if bos >= 0 else []) + ids[-room:]


def run_naive(
    engine: LlamaEngine,
    pauses: Sequence[PausePoint],
    *,
    max_tokens: int,
    temperature: float,
    on_done: Callable[[], None] = lambda: None,
) -> list[Completion]:
    """Complete every pause point the naive way, in order, on one reused ``Llama``."""
    llm = engine.llm
    out: list[Completion] = []
    for pause in pauses:
        started = time.perf_counter()
        tokens = naive_tokens(llm, pause.text[: pause.offset], max_tokens)
        reused = engine.cached_prefix(tokens)
        result = cast(
            dict[str, Any],
            llm.create_completion(
                prompt=tokens, max_tokens=max_tokens, temperature=temperature, stop=["\n"]
            ),
        )
        seconds = time.perf_counter() - started
        usage = result.get("usage") or {}
        out.append(
            Completion(
                seconds=seconds,
                prompt_tokens=len(tokens),
                reused_tokens=reused,
                completion_tokens=int(usage.get("completion_tokens", 0)),
                text_chars=len(result["choices"][0]["text"]),
            )
        )
        on_done()
    return out


def server_request(prompts: PromptBuilder, pause: PausePoint) -> GenerationRequest:
    """The generation request the server's completion path makes at ``pause`` (prompt, token
    bound, stop strings), rebuilt in-process."""
    store = DocumentStore()
    doc = store.open(f"file:///bench/{pause.file}", pause.language_id, 1, pause.text)
    ctx = prompts.context_at(doc, doc.offset_at(pause.position))
    single = ctx.mode is Mode.SINGLE_LINE
    return GenerationRequest(
        prompt=prompts.prompt_for(ctx),
        max_tokens=prompts.token_bound(ctx),
        temperature=prompts.temperature,
        stop=[*prompts.engine.template.stop, *(["\n"] if single else [])],
    )


def run_raw_decode(
    engine: LlamaEngine,
    requests: Sequence[GenerationRequest],
    on_done: Callable[[], None] = lambda: None,
) -> list[DecodeSample]:
    """Stream each request with plain ``create_completion`` (same sampling as the engine, no
    callbacks) and time its decode phase from the first to the last non-empty piece."""
    llm = engine.llm
    out: list[DecodeSample] = []
    for request in requests:
        tokens = engine.tokenize(request.prompt, bos=True)
        room = int(llm.n_ctx()) - request.max_tokens - 1
        if len(tokens) > room:
            tokens = tokens[:1] + tokens[len(tokens) - room + 1 :]
        stream = cast(
            Iterator[Any],
            llm.create_completion(
                prompt=tokens,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                **SAMPLING,
                stop=list(request.stop) or None,
                stream=True,
            ),
        )
        first: float | None = None
        last = 0.0
        pieces = 0
        n_out = 0
        for chunk in stream:
            choice = chunk["choices"][0]
            if choice.get("finish_reason") is None:
                n_out += 1
            if choice["text"]:
                last = time.perf_counter()
                first = last if first is None else first
                pieces += 1
        if pieces >= 2 and first is not None:
            out.append(DecodeSample(pieces - 1, last - first, n_out))
        else:
            out.append(DecodeSample(0, 0.0, n_out))
        on_done()
    return out


class InstantEngine:
    """The real engine's tokenizer, template and window, with a generation that returns a
    preset text at once: ``Completer.complete`` then costs only the server's own work."""

    def __init__(self, engine: Engine) -> None:
        self.inner = engine
        self.model_id = engine.model_id
        self.template: FimTemplate = engine.template
        self.n_ctx = engine.n_ctx
        self.answer = ""

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` (the real tokenizer)."""
        return self.inner.count_tokens(text)

    def generate(self, request: GenerationRequest) -> Generation:
        """The preset :attr:`answer`, without touching the model."""
        return Generation(self.answer, 0, 0, 1, 0.0)

    def chat(self, messages: Any, request: GenerationRequest) -> Generation:
        """Not used by the bench."""
        return self.generate(request)

    def close(self) -> None:
        """Nothing to free (the real engine is closed by its owner)."""


def measure_overhead(
    engine: Engine,
    text: str,
    *,
    keys: int,
    max_tokens: int,
    temperature: float,
    on_key: Callable[[], None] = lambda: None,
    workspace_root: Path | None = None,
    repo_tokens: int = 0,
) -> Overhead:
    """Type ``keys`` keys into the middle of ``text`` (a Python file) and time each stage of
    every keystroke outside the engine, then ``Completer.complete`` end to end with
    :class:`InstantEngine` (type-through and the generation in flight forgotten before each
    call, so every key takes the model path). The preset model answer is the rest of the real
    line and the next line. With ``workspace_root`` and ``repo_tokens`` > 0 the prompts hold
    repository context from an index of that folder (built first, not timed).
    """
    return asyncio.run(
        _measure_overhead(
            engine,
            text,
            keys=keys,
            max_tokens=max_tokens,
            temperature=temperature,
            on_key=on_key,
            workspace_root=workspace_root,
            repo_tokens=repo_tokens,
        )
    )


async def _measure_overhead(
    engine: Engine,
    text: str,
    *,
    keys: int,
    max_tokens: int,
    temperature: float,
    on_key: Callable[[], None],
    workspace_root: Path | None,
    repo_tokens: int,
) -> Overhead:
    line_count = text.count("\n") + (0 if text.endswith("\n") else 1)
    cursor, typed = middle_typing(text)
    uri = "file:///bench/overhead.py"
    store = DocumentStore()
    doc = store.open(uri, "python", 1, text)
    instant = InstantEngine(engine)
    scheduler = Scheduler()
    result = Overhead(lines=line_count)
    with tempfile.TemporaryDirectory(prefix="codesaga-bench-") as tmp:
        # two caches: the stage timings must not pre-fill the one the pipeline reads
        cache = CompletionCache(Path(tmp) / "stages")
        pipeline_cache = CompletionCache(Path(tmp) / "pipeline")
        completer = Completer(
            instant, scheduler, pipeline_cache, max_tokens=max_tokens, temperature=temperature
        )
        workspace = None
        if workspace_root is not None and repo_tokens > 0:
            # repository context from the workspace's index, as the server builds it
            workspace = Workspace(workspace_root, Path(tmp) / "index", lambda: [doc])
            await workspace.refresh()
            completer.prompts.use_repo(workspace, repo_tokens)
        version = 1
        typed_so_far = ""
        # warm-up: the first context build tokenizes every line of the window once
        prompts = completer.prompts
        session = completer.sessions.get(uri)
        prompts.context_at(doc, doc.offset_at(cursor))
        try:
            for n, key in enumerate(keystrokes(typed)):
                if n >= keys:
                    break
                inserted = typed[key.start : key.end]
                version += 1
                t0 = time.perf_counter()
                doc = store.change(
                    uri,
                    version,
                    [
                        TextDocumentContentChangePartial(
                            range=Range(start=cursor, end=cursor), text=inserted
                        )
                    ],
                )
                t1 = time.perf_counter()
                cursor = advance(cursor, inserted)
                typed_so_far += inserted
                ctx = prompts.context_at(doc, doc.offset_at(cursor))
                t2 = time.perf_counter()
                prompt = prompts.prompt_for(ctx)
                t3 = time.perf_counter()
                before = doc.text[: ctx.offset]
                typed_through(session.shown, before)
                t4 = time.perf_counter()
                cache_id = prompts.cache_key_for(ctx, prompt)
                cache.get(cache_id)
                t5 = time.perf_counter()
                instant.answer = _rest_of(typed, key.end)
                suggestion = postprocess(
                    heal(instant.answer, healed_whitespace(ctx)), ctx.cursor, ctx.mode
                )
                t6 = time.perf_counter()
                cache.put(cache_id, suggestion)
                t7 = time.perf_counter()
                remember(session, before, suggestion)
                t8 = time.perf_counter()
                stage_ms = {
                    "change": t1 - t0,
                    "context": t2 - t1,
                    "prompt": t3 - t2,
                    "type_through": (t4 - t3) + (t8 - t7),
                    "cache": (t5 - t4) + (t7 - t6),
                    "postprocess": t6 - t5,
                }
                for stage, seconds in stage_ms.items():
                    result.stages_ms[stage].append(seconds * 1000.0)
                result.total_ms.append(sum(stage_ms.values()) * 1000.0)
                # the real pipeline end to end (model path: nothing remembered, nothing cached)
                completer.sessions.close(uri)
                session = completer.sessions.open(uri)
                started = time.perf_counter()
                await completer.complete(doc, doc.offset_at(cursor))
                result.pipeline_ms.append((t1 - t0 + time.perf_counter() - started) * 1000.0)
                on_key()
        finally:
            cache.close()
            pipeline_cache.close()
            if workspace is not None:
                workspace.close()
            scheduler.shutdown()
    return result


def _rest_of(typed: str, pos: int) -> str:
    """What a good model would answer at ``pos``: the rest of the line and the next one."""
    end = typed.find("\n", pos)
    if end < 0:
        return typed[pos:]
    after = typed.find("\n", end + 1)
    return typed[pos : len(typed) if after < 0 else after]


def load_engine_for_bench(
    model_path: Path,
    *,
    n_ctx: int,
    n_gpu_layers: int,
    n_threads: int,
    n_threads_batch: int,
    fim_family: str,
) -> LlamaEngine:
    """The bench's own ``Llama`` (wrapped for its tokenizer and FIM template), built exactly
    as the server builds its engine. Raises EngineError when the model cannot be loaded."""
    return LlamaEngine(
        model_path,
        n_ctx=n_ctx,
        n_gpu_layers=n_gpu_layers,
        n_threads=n_threads,
        n_threads_batch=n_threads_batch,
        fim_family=fim_family,
    )
