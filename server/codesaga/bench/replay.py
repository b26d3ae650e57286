"""The decode replay of ``codesaga bench``, and the server's generation records it counts.

After the typing, each pause point's suggestion is asked for again, one at a time with
nothing else going on, so that the server's decode speed is measured side by side with the
raw arm's (which decodes the same prompt right after). The server's ``codesaga.stats``
command says how many generations it has recorded; the replay waits for each of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from lsprotocol import types

from codesaga.bench.records import PausePoint, ServerRun
from codesaga.bench.typist import DRAIN_TIMEOUT_SECONDS, PAUSE_TIMEOUT_SECONDS
from codesaga.demo import DemoClient

__all__ = ["REPLAY_POLL_SECONDS", "STATS_COMMAND", "generation_count", "replay_pauses", "stats"]

STATS_COMMAND = "codesaga.stats"
REPLAY_POLL_SECONDS = 0.2


async def stats(client: DemoClient, arguments: list[Any] | None = None) -> dict[str, Any] | None:
    """The server's ``codesaga.stats`` answer (``arguments`` as the command takes them), or
    None when it answers an error, something else than an object, or not within
    ``DRAIN_TIMEOUT_SECONDS``."""
    with contextlib.suppress(Exception):
        result = await asyncio.wait_for(
            client.workspace_execute_command_async(
                types.ExecuteCommandParams(command=STATS_COMMAND, arguments=arguments)
            ),
            DRAIN_TIMEOUT_SECONDS,
        )
        if isinstance(result, dict):
            return result
    return None


async def generation_count(client: DemoClient) -> int | None:
    """Generations the server has recorded so far (None if it did not say)."""
    result = await stats(client, ["counts"])
    with contextlib.suppress(Exception):  # a malformed answer says nothing either
        if result is not None:
            return int(result.get("counts", {}).get("generations", 0))
    return None


async def replay_pauses(
    client: DemoClient, run: ServerRun, after_each: Callable[[int], Awaitable[None]]
) -> None:
    """Ask for each of ``run.pauses``' suggestion again, one at a time with nothing else
    going on (each on a new document, explicitly invoked, so the server generates instead of
    answering from its cache), wait until that generation has ended, then await
    ``after_each(i)`` (the raw arm decodes the same prompt there, so the two decode figures
    are taken side by side). Sets ``run.replay_generations`` (None when the server does not
    count its generations: then nothing is replayed) and counts ``run.replay_errors``."""
    count = await generation_count(client)
    while count is not None:  # let the typing's last generations end first
        await asyncio.sleep(4 * REPLAY_POLL_SECONDS)
        settled = await generation_count(client)
        if settled == count:
            break
        count = settled
    if count is None:
        return
    first = count
    for i, pause in enumerate(run.pauses):
        uri = f"file:///codesaga-bench/decode-{i}/{pause.file}"
        answered = await _ask_again(client, uri, pause)
        if not answered:
            run.replay_errors += 1
        # the generation goes on after the answer (lookahead): wait for its record
        deadline = time.perf_counter() + PAUSE_TIMEOUT_SECONDS
        while answered and time.perf_counter() < deadline:
            now = await generation_count(client)
            if now is None or now > count:
                count = now if now is not None else count + 1
                break
            await asyncio.sleep(REPLAY_POLL_SECONDS)
        client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        if answered:  # the raw arm decodes only what the server decoded too
            await after_each(i)
    run.replay_generations = count - first


async def _ask_again(client: DemoClient, uri: str, pause: PausePoint) -> bool:
    """Open ``pause``'s text as ``uri`` and invoke an inline completion at its cursor; False
    when the server answered an error or not within ``PAUSE_TIMEOUT_SECONDS`` (then there is
    no generation to wait for)."""
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=pause.language_id, version=1, text=pause.text
            )
        )
    )
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=pause.position,
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked
        ),
    )
    try:
        await asyncio.wait_for(
            client.text_document_inline_completion_async(params), PAUSE_TIMEOUT_SECONDS
        )
    except Exception:
        return False
    return True
