"""The protocol surface: a CodeSagaServer with every handler attached."""

from __future__ import annotations

from codesaga.lsp import actions, chat, completion, errors, lifecycle, stats, workspace
from codesaga.lsp.server import CodeSagaServer


def create_server() -> CodeSagaServer:
    """A new server with all features registered (not yet started)."""
    errors.quiet_pygls()  # a client's mistake is logged once, not with a traceback
    server = CodeSagaServer()
    lifecycle.register(server)
    completion.register(server)
    actions.register(server)
    chat.register(server)
    stats.register(server)
    workspace.register(server)
    return server
