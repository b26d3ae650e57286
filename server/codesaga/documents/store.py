"""DocumentStore: the open documents, the edits applied to them, their syntax trees.

The store keeps the text of every open document and applies the ``didChange`` edits itself,
so it has the pre-edit byte offsets that tree-sitter's incremental parsing needs (pygls keeps
no copy: :mod:`codesaga.lsp.protocol`).

:class:`~codesaga.documents.text.Document` objects are snapshots: the store never mutates one
after handing it out (``change`` builds a new one, and edits a *copy* of the old tree), so a
completion request can keep using the document it started with while edits arrive.

Parsing is off the keystroke path. ``change`` hands out the previous tree edited with
``Tree.edit`` (its byte ranges match the new text, its nodes are the old ones: a *stale*
tree, see :attr:`Document.tree_stale`) and queues an incremental re-parse on one background
thread; when that finishes and the document is still at that version, the store swaps in a
document with the fresh tree. :meth:`DocumentStore.parsed` gives callers that need the exact
tree a fresh one at once, parsing on the calling thread if the background has not caught up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from lsprotocol.types import TextDocumentContentChangeEvent, TextDocumentContentChangePartial
from tree_sitter import Parser, Point, Tree

from codesaga.documents.encoding import encode
from codesaga.documents.text import UTF16, Document, UnknownDocumentError
from codesaga.syntax.languages import new_parser

__all__ = ["PARSE_IDLE_SECONDS", "DocumentStore"]

logger = logging.getLogger(__name__)

_MAX_BLANKS = 256
"""Most blanks before an edit that :func:`_edit_tree` folds into it."""


PARSE_IDLE_SECONDS = 0.25
"""The background re-parse of a changed document waits until it has been unchanged this long
(seconds). py-tree-sitter holds the GIL while it parses, and a re-parse after an edit that
opens a string or bracket can take tens of ms on a large file, which would stall the event
loop's keystroke handling; while the user types, completions use the edited stale tree."""


class DocumentStore:
    """The open documents, keyed by URI, with their incrementally parsed trees.

    Texts whose UTF-8 size exceeds ``max_bytes``, or that contain a NUL character, are
    kept but not parsed (``tree`` is ``None``).

    Threads. Call the public methods from one thread (the server's event loop): ``open`` and
    ``parsed`` parse on that thread with their own tree-sitter parsers. The re-parses that
    ``change`` queues run on one background thread with parsers of its own, once the
    document has been unchanged for ``parse_idle_seconds`` (py-tree-sitter holds the GIL
    while parsing); that thread only reads the documents it is given, and
    swaps a re-parsed document into the store under a lock, so callers never see a document
    change under them: they see :meth:`get` return a newer snapshot.
    """

    def __init__(
        self,
        max_bytes: int = 2_000_000,
        encoding: str = UTF16,
        parse_idle_seconds: float | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.parse_idle_seconds = (
            PARSE_IDLE_SECONDS if parse_idle_seconds is None else parse_idle_seconds
        )
        """The background re-parse waits until a document is unchanged this long (seconds)."""
        self.encoding = encoding
        """Position encoding negotiated with the client; applies to documents opened later."""
        self._lock = threading.Lock()  # guards _documents, _pending, _scheduled
        self._documents: dict[str, Document] = {}
        # uri -> the newest stale document with a private copy of its tree, awaiting a parse
        self._pending: dict[str, tuple[Document, Tree | None, float]] = {}
        self._scheduled: set[str] = set()  # uris with a background task queued or running
        self._parsers: dict[str, Parser] = {}  # the caller's thread only
        self._worker_parsers: dict[str, Parser] = {}  # the background thread only
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="codesaga-parse")

    def __contains__(self, uri: object) -> bool:
        with self._lock:
            return uri in self._documents

    def __len__(self) -> int:
        with self._lock:
            return len(self._documents)

    def uris(self) -> list[str]:
        """URIs of the open documents."""
        with self._lock:
            return list(self._documents)

    def get(self, uri: str) -> Document:
        """The current snapshot of ``uri``, at once: its tree may be stale (see
        :attr:`Document.tree_stale`). :class:`UnknownDocumentError` if not open."""
        with self._lock:
            document = self._documents.get(uri)
        if document is None:
            raise UnknownDocumentError(f"document not open: {uri}")
        return document

    def parsed(self, uri: str) -> Document:
        """The current snapshot of ``uri`` with a fresh tree (``tree_stale`` False).

        If the background re-parse has not caught up, parses on the calling thread
        (incrementally, from the stale tree) and stores the result. Should tree-sitter fail,
        logs it and returns the document with its stale tree. :class:`UnknownDocumentError`
        if not open.
        """
        document = self.get(uri)
        if not document.tree_stale:
            return document
        old_tree = document.tree.copy() if document.tree is not None else None
        tree = _parse(self._parsers, document, old_tree)
        if tree is None:
            return document
        version = document.version
        fresh = document._derived(version, tree, stale=False)
        with self._lock:
            current = self._documents.get(uri)
            if current is document:
                self._documents[uri] = fresh
                pending = self._pending.get(uri)
                if pending is not None and pending[0] is document:
                    del self._pending[uri]  # the background need not parse it again
            elif current is not None and not current.tree_stale and current.version == version:
                return current  # the background parse landed meanwhile
        return fresh

    def open(self, uri: str, language_id: str, version: int, text: str) -> Document:
        """Open (or re-open, replacing) ``uri`` and parse it on the calling thread; returns
        the new document (with a fresh tree)."""
        document = Document(uri, language_id, version, text, encoding=self.encoding)
        if _parseable(document, self.max_bytes):
            document.tree = _parse(self._parsers, document, None)
        with self._lock:
            self._documents[uri] = document
            self._pending.pop(uri, None)
        return document

    def close(self, uri: str) -> None:
        """Forget ``uri`` and drop its pending re-parse; closing a document that is not open
        does nothing."""
        with self._lock:
            self._documents.pop(uri, None)
            self._pending.pop(uri, None)

    def change(
        self,
        uri: str,
        version: int,
        changes: Sequence[TextDocumentContentChangeEvent],
    ) -> Document:
        """Apply ``didChange`` content changes in order; returns the new document at once,
        without parsing, and queues a background re-parse of it.

        Partial changes (``TextDocumentContentChangePartial``) carry an LSP range (store
        encoding positions, converted with :meth:`Document.offset_at`); each one is also
        applied to a copy of the old tree via ``Tree.edit`` with pre-edit UTF-8 byte offsets
        and points. The returned document holds that edited tree (``tree_stale`` True), and
        the background parse starts from it, so it is incremental. After a whole-document
        change (``TextDocumentContentChangeWholeDocument``) the tree is ``None`` until the
        background's full parse lands. Use :meth:`parsed` for a fresh tree.

        Raises :class:`UnknownDocumentError` if ``uri`` is not open, or
        :class:`PositionError` for a range outside the document; the stored document is
        then left unchanged (and no longer in sync with the client).
        """
        with self._lock:  # held throughout, so a background swap cannot interleave
            current = self._documents.get(uri)
            if current is None:
                raise UnknownDocumentError(f"document not open: {uri}")
            document = _changed(current, version, changes, self.max_bytes)
            self._documents[uri] = document
            if document.tree_stale:
                # the background thread gets its own copy: the edited tree is handed out
                worker_tree = document.tree.copy() if document.tree is not None else None
                self._pending[uri] = (document, worker_tree, time.monotonic())
                if uri not in self._scheduled:
                    self._scheduled.add(uri)
                    self._worker.submit(self._reparse, uri)
            else:
                self._pending.pop(uri, None)
        return document

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the background re-parses queued so far have finished (for tests and
        benchmarks); False if ``timeout`` seconds passed first."""
        try:
            self._worker.submit(lambda: None).result(timeout)
        except TimeoutError:
            return False
        return True

    def _reparse(self, uri: str) -> None:
        """Background thread: parse the newest pending version of ``uri`` until none is
        left; swap each result in if the document is still at that version."""
        while True:
            with self._lock:
                job = self._pending.get(uri)
                if job is None:
                    self._scheduled.discard(uri)
                    return
                wait = job[2] + self.parse_idle_seconds - time.monotonic()
                if wait <= 0:
                    del self._pending[uri]
            if wait > 0:  # still being typed into: parse once the typing stops
                time.sleep(wait)
                continue
            document, old_tree, _ = job
            try:
                tree = _parse(self._worker_parsers, document, old_tree)
                if tree is None:
                    continue  # logged; the document keeps its stale tree
                fresh = document._derived(document.version, tree, stale=False)
            except Exception:  # never lose the thread (or leave uri marked scheduled)
                logger.exception("background parse of %s failed", uri)
                continue
            with self._lock:
                if self._documents.get(uri) is document:  # not changed, re-opened or closed
                    self._documents[uri] = fresh


def _changed(
    current: Document,
    version: int,
    changes: Sequence[TextDocumentContentChangeEvent],
    max_bytes: int,
) -> Document:
    """``current`` with ``changes`` applied, holding the edited tree (not parsed; no tree
    when the result is not :func:`_parseable`)."""
    uri = current.uri
    document = current
    old_tree = current.tree.copy() if current.tree is not None else None
    for change in changes:
        if isinstance(change, TextDocumentContentChangePartial):
            start = document.offset_at(change.range.start)
            end = document.offset_at(change.range.end)
            if end < start:
                start, end = end, start
            new_text = change.text
            if old_tree is not None:
                _edit_tree(old_tree, document, start, end, new_text)
            document = document._replaced(start, end, new_text, version)
        else:
            document = Document(
                uri, current.language_id, version, change.text, encoding=current.encoding
            )
            old_tree = None
    if document is current:  # no changes: just a version bump
        document = current._derived(version, current.tree, stale=current.tree_stale)
    elif _parseable(document, max_bytes):
        document.tree = old_tree
        document.tree_stale = True
    return document


def _parseable(document: Document, max_bytes: int) -> bool:
    """Whether ``document`` has a grammar and is text (no NUL) of at most ``max_bytes``
    UTF-8 bytes."""
    text = document.text
    if document.grammar is None or len(text) > max_bytes or document._nul:
        return False
    # a code point is at most 4 UTF-8 bytes: encode the text (on every keystroke) only
    # when its size in bytes is in doubt
    return len(text) * 4 <= max_bytes or len(document.utf8()) <= max_bytes


def _parse(parsers: dict[str, Parser], document: Document, old_tree: Tree | None) -> Tree | None:
    """Parse ``document`` (which must be parseable) with the parser for its grammar in
    ``parsers``, incrementally from ``old_tree`` (edited to match, and used by no other
    thread) if given; ``None`` (logged) if tree-sitter fails."""
    grammar = document.grammar
    assert grammar is not None
    try:
        parser = parsers.get(grammar)
        if parser is None:
            parser = parsers[grammar] = new_parser(grammar)
        data = document.utf8()
        if old_tree is not None:
            return parser.parse(data, old_tree)
        return parser.parse(data)
    except Exception:  # a failed parse must not take the server down
        logger.exception("tree-sitter failed to parse %s", document.uri)
        return None


def _edit_tree(tree: Tree, document: Document, start: int, end: int, new_text: str) -> None:
    """Tell ``tree`` (parsed from ``document``) that ``text[start:end]`` became ``new_text``.

    Offsets are str offsets into ``document``; tree-sitter gets UTF-8 bytes and points.

    ``Tree.edit`` extends a node over a pure insertion at its very end, but not over text
    inserted after a blank (``return |``), which the edited, not yet re-parsed tree would
    then leave outside the statement and scope it continues. So the spaces and tabs before
    ``start`` on its line are reported as deleted and inserted again with ``new_text``: two
    edits, the second a pure insertion at the end of whatever precedes the blanks. Both
    are exact, so the incremental re-parse is unaffected.
    """
    blank = start
    while blank > 0 and start - blank < _MAX_BLANKS and document.text[blank - 1] in " \t":
        blank -= 1
    start_byte = document.byte_at(start)
    old_end_byte = document.byte_at(end)
    inserted = encode(new_text)
    start_point = document._point(start, start_byte)
    old_end_point = document._point(end, old_end_byte)
    if blank == start:
        _edit(tree, start_byte, old_end_byte, start_point, old_end_point, inserted)
        return
    # blanks are one byte each, on start's row
    blank_byte = start_byte - (start - blank)
    blank_point = Point(start_point.row, start_point.column - (start - blank))
    _edit(tree, blank_byte, old_end_byte, blank_point, old_end_point, b"")
    blanks = encode(document.text[blank:start])
    _edit(tree, blank_byte, blank_byte, blank_point, blank_point, blanks + inserted)


def _edit(
    tree: Tree,
    start_byte: int,
    old_end_byte: int,
    start_point: Point,
    old_end_point: Point,
    inserted: bytes,
) -> None:
    """``Tree.edit``: the bytes ``start_byte..old_end_byte`` became ``inserted``."""
    newlines = inserted.count(b"\n")
    if newlines:
        new_end_point = Point(start_point.row + newlines, len(inserted) - inserted.rfind(b"\n") - 1)
    else:
        new_end_point = Point(start_point.row, start_point.column + len(inserted))
    tree.edit(
        start_byte=start_byte,
        old_end_byte=old_end_byte,
        new_end_byte=start_byte + len(inserted),
        start_point=start_point,
        old_end_point=old_end_point,
        new_end_point=new_end_point,
    )
