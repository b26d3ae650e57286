"""Lifecycle and text sync: initialize, initialized, configuration, didOpen/Change/Close."""

from __future__ import annotations

import logging

from lsprotocol import types

from codesaga.documents import DocumentError
from codesaga.errors import InvalidParams
from codesaga.lsp import client_log
from codesaga.lsp.server import CodeSagaServer
from codesaga.lsp.workspace import open_workspace, start_indexing

log = logging.getLogger(__name__)


def register(server: CodeSagaServer) -> None:
    """Attach lifecycle and document-sync handlers to ``server``."""

    @server.feature(types.INITIALIZE)
    def initialize(ls: CodeSagaServer, params: types.InitializeParams) -> None:
        ls.locale = params.locale
        client_log.attach()  # records of the model thread reach the client's log from now on
        encoding = ls.workspace.position_encoding or types.PositionEncodingKind.Utf16
        ls.store.encoding = getattr(encoding, "value", str(encoding))
        options = params.initialization_options
        ls.apply_settings(options if isinstance(options, dict) else {})
        open_workspace(ls, params)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: CodeSagaServer, params: types.InitializedParams) -> None:
        await ls.pull_configuration()
        ls.model.ensure_loading()  # a request may have started it meanwhile
        start_indexing(ls)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: CodeSagaServer, params: types.DidChangeConfigurationParams
    ) -> None:
        caps = ls.client_capabilities.workspace
        if caps is not None and caps.configuration:
            await ls.pull_configuration()
        elif isinstance(params.settings, dict) and isinstance(
            params.settings.get("codesaga"), dict
        ):
            ls.apply_settings(params.settings["codesaga"])

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CodeSagaServer, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        try:
            ls.store.open(doc.uri, doc.language_id, doc.version, doc.text)
        except (DocumentError, ValueError) as exc:
            raise InvalidParams(f"cannot open {doc.uri}: {exc}") from exc
        ls.sessions.open(doc.uri)
        if ls.model.completer is not None:  # else the model load prefills the last one opened
            ls.model.completer.prefill(ls.store.get(doc.uri))

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: CodeSagaServer, params: types.DidChangeTextDocumentParams) -> None:
        try:
            ls.store.change(
                params.text_document.uri, params.text_document.version, params.content_changes
            )
        except DocumentError as exc:
            raise InvalidParams(f"change ignored: {exc}", ko=f"변경을 무시했습니다: {exc}") from exc

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CodeSagaServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.store.close(params.text_document.uri)
        ls.sessions.close(params.text_document.uri)
        if ls.model.completer is not None:
            ls.model.completer.prompts.repo_memo.forget(params.text_document.uri)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: CodeSagaServer, params: None) -> None:
        ls.scheduler.shutdown()
        ls.model.close()
        ls.usage.close()
        if ls.workspace_index is not None:
            ls.workspace_index.close()
