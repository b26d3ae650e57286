"""The model's special tokens: the ones a suggestion must never contain.

llama.cpp marks each vocabulary entry with attributes (``llama_vocab_get_attr``). Control
tokens (BOS/EOS, turn markers, Gemma's ``<unusedN>``) are special. User-defined tokens are
mixed: Gemma 3 lists ``<start_of_image>`` and ``[multimodal]`` beside plain HTML tags such as
``<table>`` and newline runs, so a user-defined token counts only when it is shaped like a
marker (:func:`codesaga.postprocess.is_marker_text`) and names one with ``_`` or ``|``, or is
a bracketed word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from codesaga.postprocess import is_marker_text

_NAMED_MARKER = re.compile(r"[<\[].*[_|].*[>\]]|\[\w+\]")


@dataclass(frozen=True)
class SpecialTokens:
    """Special token ids and their texts (as ``detokenize(special=True)`` writes them)."""

    ids: frozenset[int] = frozenset()
    texts: frozenset[str] = frozenset()


def is_special_user_token(text: str) -> bool:
    """Whether a user-defined token's ``text`` is a marker, not ordinary text (see module)."""
    return is_marker_text(text) and _NAMED_MARKER.fullmatch(text) is not None


def special_tokens(llm: Any) -> SpecialTokens:
    """The special tokens of a loaded ``llama_cpp.Llama`` (one attribute call per vocabulary
    entry: about 0.4 s for Gemma 3's 262,144 on 2 cores)."""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    control = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL
    user = llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
    ids: set[int] = set()
    texts: set[str] = set()
    for token in range(llama_cpp.llama_vocab_n_tokens(vocab)):
        attr = llama_cpp.llama_vocab_get_attr(vocab, token)
        if not attr & (control | user):
            continue
        text = llm.detokenize([token], special=True).decode("utf-8", errors="replace")
        if attr & control or is_special_user_token(text):
            ids.add(token)
            if text:
                texts.add(text)
    return SpecialTokens(frozenset(ids), frozenset(texts))
