"""CodeSaga: a local AI coding assistant as an LSP server."""

__version__ = "0.1.0"
