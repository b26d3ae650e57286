"""Turn a raw model continuation into the ghost text the editor shows.

Everything here is a pure function of strings: no I/O and no model. All lengths, offsets and
indentation widths are measured in Python ``str`` characters; when indentation widths are
compared, a tab counts as :data:`TAB_WIDTH` columns (``str.expandtabs``).

:func:`postprocess` applies the rules below in this order. Each is a public function so it can
be tested on its own:

1. :func:`strip_artifacts` -- cut at the first end-of-text marker, normalise line endings.
2. :func:`truncate_single_line` -- single-line mode: keep the text before the first newline.
3. :func:`truncate_multi_line` -- multi-line mode: keep the block being written.
4. :func:`trim_following_overlap` (multi-line) and :func:`trim_suffix_overlap` -- stop where
   the suggestion repeats text that is already after the cursor.
5. :func:`balance_brackets` -- cut at a closing bracket the suggestion may not close.
6. :func:`drop_repetition` -- drop a suggestion that repeats the line above.
7. :func:`finalize` -- strip trailing whitespace; ``""`` when nothing is left.

Before all of these the engine ends a generation at the model's first special token
(:func:`cut_at_special`, with the token texts from :mod:`codesaga.engine.special`).
"""

from .cursor import (
    DEFAULT_INDENT_UNIT,
    SINGLE_LINE_TOKEN_CAP,
    TAB_WIDTH,
    CursorContext,
    Mode,
    decide_mode,
    detect_indent_unit,
    max_tokens_for,
)
from .rules import (
    END_OF_TEXT_MARKERS,
    balance_brackets,
    cut_at_special,
    drop_repetition,
    finalize,
    is_marker_text,
    postprocess,
    strip_artifacts,
    trim_following_overlap,
    trim_suffix_overlap,
    truncate_multi_line,
    truncate_single_line,
)
from .stopping import lookahead_stops, suggestion_stops

__all__ = [
    "DEFAULT_INDENT_UNIT",
    "END_OF_TEXT_MARKERS",
    "SINGLE_LINE_TOKEN_CAP",
    "TAB_WIDTH",
    "CursorContext",
    "Mode",
    "balance_brackets",
    "cut_at_special",
    "decide_mode",
    "detect_indent_unit",
    "drop_repetition",
    "finalize",
    "is_marker_text",
    "lookahead_stops",
    "max_tokens_for",
    "postprocess",
    "strip_artifacts",
    "suggestion_stops",
    "trim_following_overlap",
    "trim_suffix_overlap",
    "truncate_multi_line",
    "truncate_single_line",
]
