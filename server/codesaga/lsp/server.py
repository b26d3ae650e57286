"""CodeSagaServer: capabilities, handler registration, settings and window helpers.

Handlers for the features live beside this module and stay thin: they call plain functions
from the modules one level up.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pydantic import ValidationError
from pygls.exceptions import FeatureRequestError
from pygls.lsp.server import LanguageServer

from codesaga import __version__
from codesaga.completion import Completer
from codesaga.documents import Document, DocumentStore
from codesaga.engine import Engine
from codesaga.errors import Language
from codesaga.logs import set_level
from codesaga.lsp.errors import answers, notices
from codesaga.lsp.model import ModelService
from codesaga.lsp.protocol import CodeSagaProtocol
from codesaga.repo.workspace import Workspace
from codesaga.scheduler import Scheduler
from codesaga.sessions import Sessions
from codesaga.settings import SECTION, Settings, merge, response_language
from codesaga.stats import Stats
from codesaga.texts import say
from codesaga.usage import USAGE_FILE, UsageRecorder
from codesaga.validation import describe

log = logging.getLogger(__name__)

SHOWN_CHARS = 2000
"""Longest text shown in a message when the client cannot open documents."""
PROGRESS_WAIT_SECONDS = 5.0
"""How long to wait for the client to accept a progress token before working without one."""


def is_notification(method: str) -> bool:
    """Whether ``method`` is an LSP notification (no reply), by lsprotocol's method table;
    custom methods (``codesaga/chat``) are requests."""
    entry = types.METHOD_TO_TYPES.get(method)
    return entry is not None and entry[1] is None and method != types.SHUTDOWN


class CodeSagaServer(LanguageServer):
    """The CodeSaga language server."""

    def __init__(self) -> None:
        super().__init__("codesaga", __version__, protocol_cls=CodeSagaProtocol)
        self.store = DocumentStore()
        self.sessions = Sessions()
        self.settings = Settings()
        self.client_settings: dict[str, Any] = {}
        self.locale: str | None = None
        self.scheduler = Scheduler()
        self.stats = Stats()
        self.usage = UsageRecorder()
        """Usage rows, written in the background (configured by :meth:`apply_settings`)."""
        self.model = ModelService(self)
        self.workspace_index: Workspace | None = None
        """The folder the client opened, and its index (None without one)."""

    # ----- handlers ---------------------------------------------------------------------------

    def feature(self, feature_name: str, options: Any | None = None) -> Callable[..., Any]:
        """pygls's ``feature`` decorator, with the handler wrapped so that a CodeSagaError it
        raises reaches the client as one clear message (see :mod:`codesaga.lsp.errors`)."""
        register = super().feature(feature_name, options)
        guard = notices if is_notification(feature_name) else answers
        return lambda handler: register(guard(handler))

    def command(self, command_name: str) -> Callable[..., Any]:
        """pygls's ``command`` decorator, with the handler wrapped like :meth:`feature`'s."""
        register = super().command(command_name)
        return lambda handler: register(answers(handler))

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log what pygls reports (a notification handler that failed, a message it could not
        send) instead of pygls's "Error in server" popup: a client's mistakes are answered or
        logged by :class:`~codesaga.lsp.protocol.CodeSagaProtocol`, and a popup for each one
        would reach the user for what the editor got wrong. Logged errors also reach the
        client's log (:mod:`codesaga.lsp.client_log`). Request errors are not logged again:
        pygls has answered and logged them."""
        if source is FeatureRequestError:
            return
        log.error("%s: %s", getattr(source, "__name__", source), str(error)[:200])

    @property
    def language(self) -> Language:
        """The language of CodeSaga's messages and of what the model writes for the user:
        the ``language`` setting, or with ``auto`` the client's locale (``ko*``: Korean)."""
        return self.settings.response_language(self.locale)

    # ----- settings ---------------------------------------------------------------------------

    def apply_settings(self, update: dict[str, Any] | None) -> bool:
        """Validate client settings merged over what the client sent before.

        On success the new settings are in force and True is returned; invalid values are shown
        to the user with ``window/showMessage`` (in the ``language`` the new settings ask for
        when that one is valid) and the previous settings stay (False).
        """
        merged = merge(self.client_settings, update or {})
        try:
            new = Settings(**merged)
        except ValidationError as exc:
            language = response_language(merged.get("language", "auto"), self.locale)
            self.show(say("settings.invalid", language, problems=describe(exc)), error=True)
            return False
        self.client_settings = merged
        old, self.settings = self.settings, new
        set_level(new.log_level)
        self.model.settings_changed(old, new)
        self.usage.configure(new.resolved_cache_dir() / USAGE_FILE, new.usage_retention_days)
        if old.repo_context_tokens != new.repo_context_tokens:
            self.connect_repo()
        return True

    def connect_repo(self) -> None:
        """Give the completer the repository context the settings ask for (none with
        ``repoContextTokens`` 0 or without a workspace)."""
        completer = self.model.completer
        if completer is None:
            return
        tokens = self.settings.repo_context_tokens
        completer.prompts.use_repo(self.workspace_index if tokens > 0 else None, tokens)

    async def pull_configuration(self) -> None:
        """Ask the client for the ``codesaga`` section (needs ``workspace/configuration``)."""
        caps = self.client_capabilities.workspace
        if caps is None or not caps.configuration:
            return
        try:
            result = await self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
            )
        except Exception as exc:  # a client error must not stop the server
            log.warning("workspace/configuration failed: %s", exc)
            return
        if result and isinstance(result[0], dict):
            self.apply_settings(result[0])

    # ----- model ------------------------------------------------------------------------------

    async def ready_engine(self) -> Engine:
        """The engine once the model is loaded (for chat and code actions; see
        :meth:`ModelService.ready_engine`)."""
        return await self.model.ready_engine()

    async def ready_completer(self) -> Completer:
        """The completer once the model is loaded (see :meth:`ModelService.ready_completer`)."""
        return await self.model.ready_completer()

    # ----- helpers ----------------------------------------------------------------------------

    def document(self, uri: str, *, parsed: bool = True) -> Document:
        """The open document; raises UnknownDocumentError when the client never opened it.

        ``parsed``: with a fresh syntax tree (parsed here if the store's background parse
        has not caught up with the last change); False: the latest snapshot at once, whose
        tree may be the previous one edited to match (enough for completion context and
        version checks; see :attr:`codesaga.documents.Document.tree_stale`).
        """
        return self.store.parsed(uri) if parsed else self.store.get(uri)

    def show(self, message: str, *, error: bool = False) -> None:
        """``window/showMessage``. An error is logged with its text (CodeSaga's own message);
        other messages can carry code or the model's words (a chat reply, an explanation, an
        action's title), so only their length is logged at ``info``, the text at ``debug``."""
        if error:
            log.error("%s", message)
        else:
            log.info("window/showMessage: %d characters", len(message))
            log.debug("window/showMessage: %s", message)
        kind = types.MessageType.Error if error else types.MessageType.Info
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    async def show_markdown(self, path: Path, text: str) -> None:
        """Show a Markdown file the server wrote: ``window/showDocument`` where the client
        supports it, else ``window/showMessage`` with ``text`` (at most SHOWN_CHARS
        characters). A client's failure is logged; the caller keeps its answer."""
        window = self.client_capabilities.window
        if window and window.show_document and window.show_document.support:
            try:
                await self.window_show_document_async(
                    types.ShowDocumentParams(uri=path.as_uri(), take_focus=True)
                )
                return
            except Exception as exc:
                log.warning("window/showDocument failed: %s", exc)
        shown = text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"
        self.show(shown)

    async def begin_progress(self, title: str, message: str) -> str | None:
        """Start a server-initiated ``$/progress`` (None when the client cannot show one)."""
        window = self.client_capabilities.window
        if window is None or not window.work_done_progress:
            return None
        token = f"codesaga-{uuid.uuid4()}"
        try:
            await asyncio.wait_for(
                self.work_done_progress.create_async(token), PROGRESS_WAIT_SECONDS
            )
        except Exception as exc:  # includes a client that never answers: go on without progress
            log.warning("window/workDoneProgress/create failed: %s", exc)
            return None
        self.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=title, message=message, cancellable=False)
        )
        return token

    def end_progress(self, token: str | None, message: str) -> None:
        """End a progress started with :meth:`begin_progress`."""
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
