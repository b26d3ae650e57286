"""The workspace index over LSP: the root from ``initialize``, indexing in the background
after ``initialized`` (with ``$/progress``), kept current on ``didSave`` and
``workspace/didChangeWatchedFiles`` (registered dynamically where the client allows it), and
the repository context handed to the completer."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from lsprotocol import types

from codesaga.lsp.server import CodeSagaServer
from codesaga.repo.workspace import Workspace, uri_path
from codesaga.texts import say

log = logging.getLogger(__name__)

WATCH_REGISTRATION = "codesaga-watched-files"


def workspace_root(params: types.InitializeParams) -> Path | None:
    """The folder to index: the first workspace folder, else ``rootUri``, else ``rootPath``
    (None when the client opened no folder, or not a local one)."""
    uris = [folder.uri for folder in params.workspace_folders or []]
    if params.root_uri:
        uris.append(params.root_uri)
    for uri in uris:
        path = uri_path(uri)
        if path is not None:
            return path
    return Path(params.root_path) if params.root_path else None


def open_workspace(ls: CodeSagaServer, params: types.InitializeParams) -> None:
    """Remember the workspace of ``initialize`` (indexing starts at ``initialized``)."""
    root = workspace_root(params)
    if root is None or not root.is_dir():
        return
    ls.workspace_index = Workspace(
        root,
        ls.settings.resolved_cache_dir() / "index",
        lambda: [ls.store.get(uri) for uri in ls.store.uris()],
    )


def start_indexing(ls: CodeSagaServer) -> None:
    """Index the workspace in the background (its state is ``indexing`` from now on, or
    ``off`` without repository context), then watch it."""
    workspace = ls.workspace_index
    if workspace is None:
        return
    if ls.settings.repo_context_tokens <= 0:
        workspace.state = "off"
        return
    workspace.state = "indexing"
    asyncio.ensure_future(_index(ls, workspace))


async def _index(ls: CodeSagaServer, workspace: Workspace) -> None:
    """The first refresh, reported with ``$/progress``."""
    lang = ls.language
    token = await ls.begin_progress(
        "CodeSaga", say("progress.indexing", lang, name=workspace.root.name)
    )

    def progress(done: int, total: int) -> None:
        if token is not None and total:
            ls.work_done_progress.report(
                token,
                types.WorkDoneProgressReport(
                    message=say("progress.indexing_files", lang, done=done, total=total),
                    percentage=done * 100 // total,
                ),
            )

    await workspace.refresh(on_progress=progress)
    report = workspace.report
    ls.end_progress(
        token,
        say("progress.index_ready", lang, files=report.get("files", 0))
        if workspace.state == "ready"
        else say("progress.index_failed", lang, error=workspace.error),
    )
    await _watch_files(ls)


async def _watch_files(ls: CodeSagaServer) -> None:
    caps = ls.client_capabilities.workspace
    watched = caps.did_change_watched_files if caps is not None else None
    if watched is None or not watched.dynamic_registration:
        return
    options = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[types.FileSystemWatcher(glob_pattern="**/*")]
    )
    try:
        await ls.client_register_capability_async(
            types.RegistrationParams(
                registrations=[
                    types.Registration(
                        id=WATCH_REGISTRATION,
                        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                        register_options=options,
                    )
                ]
            )
        )
    except Exception as exc:  # a client that refuses: didSave still keeps the index current
        log.info("workspace/didChangeWatchedFiles not registered: %s", exc)


def _reindex(ls: CodeSagaServer, uris: list[str]) -> None:
    workspace = ls.workspace_index
    if workspace is None or workspace.state in ("idle", "off"):
        return
    paths = [path for uri in uris if workspace.relative(uri) and (path := uri_path(uri))]
    if paths:
        asyncio.ensure_future(workspace.refresh(paths))


def register(server: CodeSagaServer) -> None:
    """Attach the workspace-index handlers to ``server``."""

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: CodeSagaServer, params: types.DidSaveTextDocumentParams) -> None:
        _reindex(ls, [params.text_document.uri])

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(
        ls: CodeSagaServer, params: types.DidChangeWatchedFilesParams
    ) -> None:
        _reindex(ls, [change.uri for change in params.changes])
