"""KV states saved per document: going back to a file does not evaluate its whole prompt again.

Uses llama.cpp's sequence-state API through llama-cpp-python's low-level bindings (see
:meth:`KvStates._save` for why not ``Llama.save_state``).
"""

from __future__ import annotations

import ctypes
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

STATE_SLOTS = 3
"""Saved KV states (one per recently used document). Each holds the KV cells of its prompt:
about 18 KB per token for Gemma 3 270M, so roughly 30 MB for a 1,500-token prompt."""


@dataclass(frozen=True)
class KvSnapshot:
    """A saved KV cache: the token ids it holds and llama.cpp's sequence-state bytes."""

    tokens: list[int]
    data: Any  # ctypes uint8 array of at least ``size`` bytes
    size: int


def cached_prefix(llm: Any, tokens: list[int]) -> int:
    """How many leading ``tokens`` are already in ``llm``'s KV cache (llama.cpp reuses them)."""
    held = llm._input_ids[: llm.n_tokens].tolist()
    return int(llm.longest_token_prefix(held, tokens))


class KvStates:
    """The KV states of the last STATE_SLOTS keys (documents) of one ``llama_cpp.Llama``.
    Model thread only, like the model itself."""

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self._states: OrderedDict[str, KvSnapshot] = OrderedDict()
        self._key: str | None = None

    def switch(self, key: str | None, tokens: list[int]) -> None:
        """Keep llama.cpp's KV state per key (document), so that going back to a file does not
        evaluate its whole prompt again: when the key changes, the current state is saved
        (the last STATE_SLOTS keys are kept, least recently used dropped) and the new key's
        saved state is restored if it shares more of the prompt than what is loaded now."""
        if key is None or key == self._key:
            return
        if self._key is not None and self._llm.n_tokens > 0:
            self._states[self._key] = self._save()
            self._states.move_to_end(self._key)
            while len(self._states) > STATE_SLOTS:
                self._states.popitem(last=False)
        saved = self._states.get(key)
        shared = 0 if saved is None else self._llm.longest_token_prefix(saved.tokens, tokens)
        if saved is not None and shared > cached_prefix(self._llm, tokens):
            self._load(saved)
        self._key = key

    def _save(self) -> KvSnapshot:
        """Copy sequence 0's KV cells and the tokens they hold.

        llama-cpp-python's ``save_state``/``load_state`` also copy and broadcast its logits
        array (n_batch x n_vocab floats: 512 MiB for Gemma 3's 262k vocabulary), which more
        than doubled the server's peak RSS; the sequence-level llama.cpp API copies only the
        KV cells (about 18 KB a token for Gemma 3 270M)."""
        import llama_cpp

        ctx = self._llm._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        return KvSnapshot(self._llm._input_ids[: self._llm.n_tokens].tolist(), buffer, written)

    def _load(self, saved: KvSnapshot) -> None:
        """Put ``saved`` back into sequence 0; on failure the cache is left empty (the next
        prompt is evaluated in full)."""
        import llama_cpp

        self._llm._ctx.kv_cache_seq_rm(0, 0, -1)
        self._llm.n_tokens = 0
        if llama_cpp.llama_state_seq_set_data(self._llm._ctx.ctx, saved.data, saved.size, 0) == 0:
            log.warning("could not restore a saved KV state; evaluating the prompt again")
            return
        self._llm.input_ids[: len(saved.tokens)] = saved.tokens
        self._llm.n_tokens = len(saved.tokens)
        self._llm._requires_eval = True  # no logits for the last token: decode it again
