"""Running a listed action, for the protocol layer: the document-version checks, the model
call on the model thread with progress, the review's retry, and what each action gives back.

The host is the server (anything with :class:`ActionHost`'s members). Refusals
(:class:`ActionRefused`) are shown to the user here; other CodeSagaErrors (no model, an engine
failure, a broken template, a span outside the document, a cancelled request) propagate.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from codesaga.actions import apply, explain, review
from codesaga.actions.catalogue import finish_edit, plan
from codesaga.actions.data import ActionData, ActionRefused
from codesaga.actions.edits import Edit
from codesaga.actions.jobs import Job, Planner
from codesaga.actions.messages import Lang, action_title, prompt_language, say
from codesaga.answers import Finding
from codesaga.documents import Document
from codesaga.engine import Engine, GenerationRequest
from codesaga.errors import CodeSagaError, Superseded
from codesaga.repo.workspace import Workspace, definitions_source
from codesaga.scheduler import Scheduler
from codesaga.settings import Settings
from codesaga.stats import Stats
from codesaga.targets import bounds

__all__ = [
    "REVIEW_RETRY_TEMPERATURE",
    "ActionHost",
    "Explanation",
    "ReviewOutcome",
    "model_answer",
    "produce_edit",
    "run_explain",
    "run_review",
    "stale_message",
]

log = logging.getLogger(__name__)

REVIEW_RETRY_TEMPERATURE = 0.6
"""Added to the temperature for the one retry of a review whose answer was unreadable."""


class ActionHost(Protocol):
    """What running an action needs from the server."""

    settings: Settings
    locale: str | None
    scheduler: Scheduler
    stats: Stats
    workspace_index: Workspace | None

    def document(self, uri: str, *, parsed: bool = True) -> Document:
        """The open document (UnknownDocumentError when it is not open)."""
        ...

    def show(self, message: str, *, error: bool = False) -> None:
        """Tell the user (``window/showMessage``)."""
        ...

    async def ready_engine(self) -> Engine:
        """The loaded engine (ModelUnavailable when there is none)."""
        ...

    async def begin_progress(self, title: str, message: str) -> str | None:
        """Start a progress report (None when the client shows none)."""
        ...

    def end_progress(self, token: str | None, message: str) -> None:
        """End a progress report."""
        ...


def host_language(host: ActionHost) -> Lang:
    """The user's language for the host's settings and client locale."""
    return prompt_language(host.settings, host.locale)


def stale_message(
    doc: Document, data: ActionData, lang: Lang, *, during: bool = False
) -> str | None:
    """Why an action listed for ``data.version`` must not edit ``doc`` (a newer version),
    or ``None`` when the versions match. ``during``: the change came while the model ran."""
    if doc.version == data.version:
        return None
    return say(
        "changed" if during else "stale",
        lang,
        title=action_title(data.action, lang),
        old=data.version,
        new=doc.version,
    )


async def model_answer(
    host: ActionHost,
    doc: Document,
    data: ActionData,
    lang: Lang,
    *,
    temperature: float | None = None,
) -> tuple[Job, str]:
    """Plan the action's prompt and run the model on the model thread, with ``$/progress``
    (``temperature`` overrides the setting). ``job.truncated`` tells whether the answer
    stopped at the token limit.

    Raises ActionRefused (nothing to do, too large), ModelUnavailable, EngineError,
    PromptError, PositionError (span outside the document) and Superseded (cancelled).
    """
    engine = await host.ready_engine()
    settings = host.settings
    cancel = threading.Event()
    planner = Planner(
        lang,
        engine.count_tokens,
        engine.n_ctx,
        settings.style_guide,
        definitions=definitions_source(
            host.workspace_index, settings.repo_context_tokens, engine.count_tokens
        ),
    )

    def work() -> tuple[Job, Any]:
        job = plan(doc, data, planner)
        request = GenerationRequest(
            prompt="",
            max_tokens=job.max_tokens,
            temperature=settings.temperature if temperature is None else temperature,
            cancel=cancel,
            should_stop=job.should_stop,
        )
        return job, engine.chat(job.messages, request)

    title = action_title(data.action, lang)
    token = await host.begin_progress("CodeSaga", f"{title}: {say('progress', lang)}")
    outcome = say("done", lang)
    try:
        job, generation = await host.scheduler.run(cancel, work)
    except CodeSagaError as exc:
        outcome = exc.text(lang)
        raise
    finally:
        host.end_progress(token, outcome)
    if generation.cancelled:
        raise Superseded()
    job.truncated = generation.completion_tokens >= job.max_tokens
    host.stats.count(f"action_{data.action}")
    host.stats.tokens(
        generation.prompt_tokens, generation.reused_tokens, generation.completion_tokens
    )
    host.stats.latency(f"action_{data.action}", generation.seconds)
    log.info(
        "action %s: %d prompt tokens, %d generated, %.2f s",
        data.action,
        generation.prompt_tokens,
        generation.completion_tokens,
        generation.seconds,
    )
    return job, generation.text


def _refuse_stale(host: ActionHost, data: ActionData, lang: Lang, *, during: bool) -> bool:
    """Tell the user and count it when the document moved past ``data.version``."""
    stale = stale_message(host.document(data.uri, parsed=False), data, lang, during=during)
    if stale is None:
        return False
    host.stats.count("action_stale")
    host.show(stale)
    return True


async def produce_edit(host: ActionHost, data: ActionData) -> tuple[Document, Edit] | None:
    """The edit for a refactor, fix, docstring or apply action, on the document version the
    action was listed for; ``None`` (after telling the user why) when the document changed
    before or during the work, or the model's answer was unusable."""
    lang = host_language(host)
    if _refuse_stale(host, data, lang, during=False):
        return None
    doc = host.document(data.uri)
    try:
        if data.action == "apply":
            edit = apply.finish(doc, data, lang)
        else:
            job, answer = await model_answer(host, doc, data, lang)
            edit = finish_edit(doc, job, answer)
    except ActionRefused as exc:
        host.stats.count("action_refused")
        host.show(str(exc))
        return None
    if _refuse_stale(host, data, lang, during=True):
        return None
    return doc, edit


@dataclass(frozen=True)
class Explanation:
    """An explanation's Markdown (``""`` when refused) and the file it was written to
    (``None`` when refused or when the file could not be written)."""

    markdown: str
    path: Path | None = None


async def run_explain(host: ActionHost, data: ActionData) -> Explanation:
    """Explain the code at ``data.span`` of the current document and write the Markdown
    file under the cache directory. A refusal or a file that cannot be written is shown."""
    lang = host_language(host)
    data = replace(data, action="explain")
    doc = host.document(data.uri)
    bounds(doc, data.span)  # PositionError for a span outside the document
    try:
        job, answer = await model_answer(host, doc, data, lang)
        markdown = explain.finish(doc, job, answer)
    except ActionRefused as exc:
        host.show(str(exc))
        return Explanation("")
    try:
        path = explain.write_explanation(host.settings.resolved_cache_dir(), doc, job, markdown)
    except OSError as exc:
        host.show(say("explanation_unwritten", lang, error=exc), error=True)
        return Explanation(markdown)
    return Explanation(markdown, path)


@dataclass(frozen=True)
class ReviewOutcome:
    """A review's result: the findings on ``doc`` (the version reviewed), the message for
    the user, and whether to publish the findings as the document's review diagnostics
    (also with none: that clears earlier ones)."""

    doc: Document
    findings: list[Finding]
    message: str
    publish: bool


async def run_review(host: ActionHost, data: ActionData) -> ReviewOutcome:
    """Review the code at ``data.span`` of the current document (the file when the span
    is empty). An unreadable answer is asked for once more at a higher temperature; a change
    of the document during the work drops the findings. Notes gathered while planning (an
    unreadable style guide) are shown at once."""
    lang = host_language(host)
    doc = host.document(data.uri)
    data = replace(data, action="review", version=doc.version)
    bounds(doc, data.span)  # PositionError for a span outside the document
    try:
        job, answer = await model_answer(host, doc, data, lang)
    except ActionRefused as exc:
        return ReviewOutcome(doc, [], str(exc), publish=False)
    for note in job.notes:
        host.show(note)
    result = review.finish(doc, job, answer)
    if result.status == "unreadable":
        # A small model replaying its example or echoing the code: ask once more,
        # sampling more freely.
        retry = min(1.0, host.settings.temperature + REVIEW_RETRY_TEMPERATURE)
        try:
            job, answer = await model_answer(host, doc, data, lang, temperature=retry)
        except ActionRefused:
            pass  # keep the first answer's outcome
        else:
            result = review.finish(doc, job, answer)
    changed = stale_message(host.document(doc.uri, parsed=False), data, lang, during=True)
    if changed is not None:
        return ReviewOutcome(doc, [], changed, publish=False)
    return ReviewOutcome(doc, result.findings, result.message, result.status != "unreadable")
