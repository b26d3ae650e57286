"""Whether a document gives the model enough to go on for an automatic suggestion."""

from __future__ import annotations

import re

NEAR_EMPTY_CHARS = 4
"""A document with fewer non-whitespace characters than this is near-empty: automatic
requests get nothing there (Gemma 3 270M answered an empty file with HTML prose and its
``<start_of_image>`` token)."""

_ENOUGH = re.compile(r"\S" + r"\s*\S" * (NEAR_EMPTY_CHARS - 1))


def near_empty(text: str) -> bool:
    """Whether ``text`` (a whole document) holds fewer than NEAR_EMPTY_CHARS non-whitespace
    characters. Stops at the first NEAR_EMPTY_CHARS found, so a large document costs little."""
    return _ENOUGH.search(text) is None
