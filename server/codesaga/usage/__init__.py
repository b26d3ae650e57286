"""Usage kept as local metadata: one row per request (feature, language id, model, token
counts, latency, answer source, accepted or not) in a SQLite file under the cache directory.

Never code, prompts or file names: the language id is all that is kept of a document.
:mod:`.store` is the file, :mod:`.recorder` the batched writer the server uses,
:mod:`.summary` the figures ``codesaga stats`` and ``codesaga.stats`` show.
"""

from .recorder import UsageRecorder, add_tokens, measuring
from .store import USAGE_FILE, UsageRow, UsageStore
from .summary import summarize

__all__ = [
    "USAGE_FILE",
    "UsageRecorder",
    "UsageRow",
    "UsageStore",
    "add_tokens",
    "measuring",
    "summarize",
]
