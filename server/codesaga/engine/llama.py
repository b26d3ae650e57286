"""In-process inference with llama-cpp-python.

The FIM prompt is built by :mod:`codesaga.prompts` from the model's own FIM tokens and passed
as token ids tokenized with special tokens enabled; llama-cpp-python's ``suffix=`` infill is
never used (it wraps the prompt with token id 0 instead of the model's FIM tokens).
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from codesaga.engine.base import ChatMessage, EngineError, Generation, GenerationRequest
from codesaga.prompts import FimTemplate, chat_fallback, detect_family

log = logging.getLogger(__name__)

SAMPLING: dict[str, Any] = {"top_k": 40, "top_p": 0.95, "repeat_penalty": 1.0}
"""Sampling settings of every generation besides its temperature (``create_completion``
keyword arguments); the bench's raw arm uses them too."""

STATE_SLOTS = 3
"""Saved KV states (one per recently used document). Each holds the KV cells of its prompt:
about 18 KB per token for Gemma 3 270M, so roughly 30 MB for a 1,500-token prompt."""


@dataclass(frozen=True)
class KvSnapshot:
    """A saved KV cache: the token ids it holds and llama.cpp's sequence-state bytes."""

    tokens: list[int]
    data: Any  # ctypes uint8 array of at least ``size`` bytes
    size: int


def gpu_offload_supported() -> bool:
    """True when this llama-cpp-python build can offload layers to a GPU."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


class LlamaEngine:
    """A GGUF model loaded in this process. Not thread-safe: one generation at a time.

    Raises EngineError from the constructor when the file cannot be loaded (corrupt, truncated
    or an unsupported architecture).
    """

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int = 2048,
        n_gpu_layers: int = -1,
        n_threads: int = 0,
        fim_family: str = "auto",
    ) -> None:
        import llama_cpp

        threads = n_threads or os.cpu_count() or 1
        gpu = gpu_offload_supported() and n_gpu_layers != 0
        started = time.perf_counter()
        try:
            self.llm = llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                # prompt tokens per llama_decode call: on a CPU 128 evaluates as fast as 512
                # (measured with Gemma 3 270M) with smaller compute buffers; a GPU wants more
                n_batch=512 if gpu else 128,
                n_gpu_layers=n_gpu_layers if gpu else 0,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise EngineError(f"could not load {model_path.name}: {exc}") from exc
        self.load_seconds = time.perf_counter() - started
        self.model_path = model_path
        self.model_id = f"{model_path.name}:{model_path.stat().st_size}"
        self.n_ctx = n_ctx
        self.n_gpu_layers = n_gpu_layers
        self._states: OrderedDict[str, KvSnapshot] = OrderedDict()
        self._state_key: str | None = None
        self.metadata: dict[str, Any] = dict(self.llm.metadata)
        self.architecture = str(self.metadata.get("general.architecture", ""))
        self.template: FimTemplate = detect_family(
            self._is_single_token, self.architecture, fim_family
        )
        log.info(
            "model %s loaded in %.2f s (architecture %s, FIM family %s)",
            model_path.name,
            self.load_seconds,
            self.architecture,
            self.template.name,
        )

    def _is_single_token(self, text: str) -> bool:
        ids = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        return len(ids) == 1

    def offloaded_layers(self) -> int:
        """Layers actually placed on the GPU (0 on a CPU-only build)."""
        if not gpu_offload_supported():
            return 0
        n_layer = int(self.metadata.get(f"{self.architecture}.block_count", 0))
        return n_layer if self.n_gpu_layers < 0 else min(self.n_gpu_layers, n_layer)

    def tokenize(self, text: str, *, bos: bool = False) -> list[int]:
        """Token ids of ``text`` with special tokens (FIM markers) recognised."""
        return self.llm.tokenize(text.encode("utf-8"), add_bos=bos, special=True)

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in ``text`` (no BOS)."""
        if not text:
            return 0
        return len(self.tokenize(text))

    def cached_prefix(self, tokens: list[int]) -> int:
        """How many leading ``tokens`` are already in the KV cache (llama.cpp reuses them)."""
        held = self.llm._input_ids[: self.llm.n_tokens].tolist()
        return int(self.llm.longest_token_prefix(held, tokens))

    def chat_prompt(self, messages: Sequence[ChatMessage]) -> tuple[str, list[str]]:
        """Format ``messages`` with the GGUF's own chat template (``tokenizer.chat_template``,
        through llama-cpp-python's Jinja2 chat formatter), or with ``prompts/chat.yaml`` when
        the model has none. Returns (prompt text, stop strings)."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.metadata.get("tokenizer.chat_template")
        if not template:
            fallback = chat_fallback()
            return fallback.render(
                [{"role": m["role"], "content": m["content"]} for m in messages]
            ), list(fallback.stop)
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=self._token_text(self.llm.token_eos()),
            bos_token=self._token_text(self.llm.token_bos()),
        )
        response = formatter(messages=cast(Any, [dict(m) for m in messages]))
        stop = response.stop or []
        return response.prompt, [stop] if isinstance(stop, str) else list(stop)

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def chat(self, messages: Sequence[ChatMessage], request: GenerationRequest) -> Generation:
        """Answer a conversation; see :class:`codesaga.engine.Engine`."""
        prompt, stop = self.chat_prompt(messages)
        request.prompt = prompt
        request.stop = [*request.stop, *stop]
        return self.generate(request)

    def generate(self, request: GenerationRequest) -> Generation:
        """Stream a completion of ``request.prompt``; see :class:`codesaga.engine.Engine`."""
        import llama_cpp

        started = time.perf_counter()
        bos_text = self._token_text(self.llm.token_bos())
        # a chat template may already write the BOS token as text
        add_bos = not (bos_text and request.prompt.startswith(bos_text))
        tokens = self.tokenize(request.prompt, bos=add_bos)
        if len(tokens) + 1 >= self.n_ctx:
            raise EngineError(
                f"prompt of {len(tokens)} tokens does not fit the context window ({self.n_ctx})"
            )
        self._switch_state(request.kv_key, tokens)
        reused = self.cached_prefix(tokens)
        self._prefill(tokens, request, whole=request.max_tokens == 0)
        if request.cancel.is_set() or request.max_tokens == 0:
            return Generation(
                "", len(tokens), reused, 0, time.perf_counter() - started, request.cancel.is_set()
            )

        def stop_now(_ids: Any, _logits: Any) -> bool:
            return request.cancel.is_set()

        text = ""
        n_out = 0
        stream = cast(
            Iterator[Any],
            self.llm.create_completion(
                prompt=tokens,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                **SAMPLING,
                stop=list(request.stop) or None,
                stopping_criteria=llama_cpp.StoppingCriteriaList([stop_now]),
                stream=True,
            ),
        )
        for chunk in stream:
            choice = chunk["choices"][0]
            text += choice["text"]
            if choice.get("finish_reason") is None:  # the closing chunk carries no token
                n_out += 1
            if request.on_text is not None and choice["text"]:
                request.on_text(choice["text"])
            if request.cancel.is_set():
                break
            if request.should_stop is not None and request.should_stop(text):
                break
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # ends the generator: llama-cpp-python stops decoding
        return Generation(
            text=text,
            prompt_tokens=len(tokens),
            reused_tokens=reused,
            completion_tokens=n_out,
            seconds=time.perf_counter() - started,
            cancelled=request.cancel.is_set(),
        )

    def _prefill(self, tokens: list[int], request: GenerationRequest, *, whole: bool) -> None:
        """Evaluate the part of ``tokens`` not in the KV cache yet, ``n_batch`` tokens per
        llama.cpp call, stopping between calls once ``request.cancel`` is set: a long prompt
        that is superseded stops within one batch (about 0.13 s for 128 tokens on 2 cores),
        and what was evaluated stays in the cache for the next prompt that shares it.

        Unless ``whole``, the last batch (up to ``n_batch`` tokens) is left to
        ``create_completion``, which then splits the prompt into the same batches as it would
        alone (batch boundaries change llama.cpp's arithmetic slightly)."""
        start = self.cached_prefix(tokens)
        end = len(tokens) if whole else len(tokens) - 1
        batch = self.llm.n_batch
        if start >= end:
            return
        self.llm.n_tokens = start  # eval() drops the KV cells after it
        for at in range(start, end, batch):
            if request.cancel.is_set() or (not whole and at + batch > end):
                return
            self.llm.eval(tokens[at : at + batch])

    def _switch_state(self, key: str | None, tokens: list[int]) -> None:
        """Keep llama.cpp's KV state per key (document), so that going back to a file does not
        evaluate its whole prompt again: when the key changes, the current state is saved
        (the last STATE_SLOTS keys are kept, least recently used dropped) and the new key's
        saved state is restored if it shares more of the prompt than what is loaded now."""
        if key is None or key == self._state_key:
            return
        if self._state_key is not None and self.llm.n_tokens > 0:
            self._states[self._state_key] = self._save_kv()
            self._states.move_to_end(self._state_key)
            while len(self._states) > STATE_SLOTS:
                self._states.popitem(last=False)
        saved = self._states.get(key)
        shared = 0 if saved is None else self.llm.longest_token_prefix(saved.tokens, tokens)
        if saved is not None and shared > self.cached_prefix(tokens):
            self._load_kv(saved)
        self._state_key = key

    def _save_kv(self) -> KvSnapshot:
        """Copy sequence 0's KV cells and the tokens they hold.

        llama-cpp-python's ``save_state``/``load_state`` also copy and broadcast its logits
        array (n_batch x n_vocab floats: 512 MiB for Gemma 3's 262k vocabulary), which more
        than doubled the server's peak RSS; the sequence-level llama.cpp API copies only the
        KV cells (about 18 KB a token for Gemma 3 270M)."""
        import llama_cpp

        ctx = self.llm._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        return KvSnapshot(self.llm._input_ids[: self.llm.n_tokens].tolist(), buffer, written)

    def _load_kv(self, saved: KvSnapshot) -> None:
        """Put ``saved`` back into sequence 0; on failure the cache is left empty (the next
        prompt is evaluated in full)."""
        import llama_cpp

        self.llm._ctx.kv_cache_seq_rm(0, 0, -1)
        self.llm.n_tokens = 0
        if llama_cpp.llama_state_seq_set_data(self.llm._ctx.ctx, saved.data, saved.size, 0) == 0:
            log.warning("could not restore a saved KV state; evaluating the prompt again")
            return
        self.llm.input_ids[: len(saved.tokens)] = saved.tokens
        self.llm.n_tokens = len(saved.tokens)
        self.llm._requires_eval = True  # no logits for the last token: decode it again

    def close(self) -> None:
        """Free the model and its context."""
        self.llm.close()
