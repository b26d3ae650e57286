"""The level of the ``codesaga`` logger, and what each level may hold.

At ``info`` and above the log holds metadata only (counts, sizes, timings, kinds, error
messages); code, prompts and the model's replies are logged at ``debug`` alone. Turning
``debug`` on therefore says so, once, in the log itself (and, as a warning, in the client's
log: :mod:`codesaga.lsp.client_log`).
"""

from __future__ import annotations

import logging

__all__ = ["CONTENT_NOTICE", "LOGGER", "set_level"]

LOGGER = "codesaga"
CONTENT_NOTICE = "debug logging is on: the log will now contain code, prompts and replies"
"""Logged (as a warning) when the level drops to ``debug`` from a higher one."""


def set_level(level: str) -> None:
    """Set the ``codesaga`` logger to ``level`` (``error``, ``warning``, ``info``, ``debug``,
    any case); going to ``debug`` from a higher level logs :data:`CONTENT_NOTICE`. Raises
    ValueError for an unknown level name."""
    logger = logging.getLogger(LOGGER)
    was_debug = logger.isEnabledFor(logging.DEBUG)
    logger.setLevel(level.upper())
    if logger.isEnabledFor(logging.DEBUG) and not was_debug:
        logger.warning(CONTENT_NOTICE)
