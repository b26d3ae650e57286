"""``codesaga demo``: start a real ``codesaga serve`` and use it as an editor would.

Opens each file (``<CURSOR>`` markers removed), asks for an inline completion at each marker,
then types one character at the first marker twice: once the first character of the shown
suggestion (answered by type-through) and once a different character (answered by the model,
reusing its KV cache). Prints each suggestion with its latency as the client saw it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from codesaga import __version__
from codesaga.cli import fail
from codesaga.documents import DocumentStore
from codesaga.syntax.languages import grammar_name

MARKER = "<CURSOR>"
READY_TIMEOUT_SECONDS = 600.0
FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
DEFAULT_FILES = ("inventory.py", "cart.ts")


def strip_markers(text: str, uri: str = "file:///demo") -> tuple[str, list[types.Position]]:
    """Remove every ``<CURSOR>`` from ``text``; return the clean text and the markers' LSP
    positions (UTF-16 code units, as clients send them)."""
    offsets: list[int] = []
    pieces = text.split(MARKER)
    clean = ""
    for piece in pieces[:-1]:
        clean += piece
        offsets.append(len(clean))
    clean += pieces[-1]
    doc = DocumentStore().open(uri, "plaintext", 0, clean)
    return clean, [doc.position_at(o) for o in offsets]


class DemoClient(LanguageClient):
    """A pygls client that answers the server's requests (progress tokens, configuration),
    records its messages and whether the model loaded, and with ``echo`` prints them."""

    def __init__(self, name: str = "codesaga-demo", *, echo: bool = True) -> None:
        super().__init__(name, __version__)
        self.ready = asyncio.Event()
        self.messages: list[str] = []
        self.load_failed: str | None = None
        model_tokens: set[str] = set()  # the model load's progress (not the index's)

        @self.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def _create(params: types.WorkDoneProgressCreateParams) -> None:
            return None

        @self.feature(types.PROGRESS)
        def _progress(params: types.ProgressParams) -> None:
            value: Any = params.value
            kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
            message = str(
                (value.get("message") if isinstance(value, dict) else getattr(value, "message", ""))
                or ""
            )
            if echo:
                print(f"  [progress] {kind}: {message}", flush=True)
            if kind == "begin" and message.startswith("loading model"):
                model_tokens.add(str(params.token))
            if kind == "end" and str(params.token) in model_tokens:
                if "failed" in message:
                    self.load_failed = message
                self.ready.set()

        @self.feature(types.WINDOW_SHOW_MESSAGE)
        def _show(params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)
            if echo:
                print(f"  [server] {params.message}", flush=True)

        @self.feature(types.WINDOW_LOG_MESSAGE)
        def _log(params: types.LogMessageParams) -> None:
            return None

        @self.feature(types.WORKSPACE_CONFIGURATION)
        def _configuration(params: types.ConfigurationParams) -> list[Any]:
            return [{} for _ in params.items]


def client_capabilities() -> types.ClientCapabilities:
    """What the demo announces: progress, configuration, inline completion, code actions
    with resolve and versioned workspace edits."""
    kinds = ["", "quickfix", "refactor", "refactor.rewrite", "source"]
    return types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(
            configuration=True,
            workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True),
        ),
        text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities(),
            code_action=types.CodeActionClientCapabilities(
                code_action_literal_support=types.ClientCodeActionLiteralOptions(
                    code_action_kind=types.ClientCodeActionKindOptions(value_set=kinds)
                ),
                resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]),
                data_support=True,
            ),
        ),
    )


async def inline(client: LanguageClient, uri: str, pos: types.Position) -> tuple[str, float]:
    """One automatic inline-completion request; returns (first item's text, seconds)."""
    started = time.perf_counter()
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=pos,
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )
    seconds = time.perf_counter() - started
    items = result.items if isinstance(result, types.InlineCompletionList) else (result or [])
    text = items[0].insert_text if items else ""
    return (text if isinstance(text, str) else text.value), seconds


def _show(label: str, text: str, seconds: float) -> None:
    shown = text.replace("\n", "⏎") if text else "(no suggestion)"
    shown = shown if len(shown) <= 110 else shown[:109] + "…"
    print(f"  {label:<34} {seconds * 1000:8.1f} ms  │ {shown}", flush=True)


def _type(
    client: LanguageClient,
    uri: str,
    version: int,
    pos: types.Position,
    char: str,
    end: types.Position | None = None,
) -> None:
    """Replace ``pos``..``end`` (default: insert at ``pos``) with ``char``, as a keystroke."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=pos, end=end or pos), text=char
                )
            ],
        )
    )


async def chat(client: LanguageClient, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """One ``codesaga/chat`` request; returns (result, seconds)."""
    started = time.perf_counter()
    result = await client.protocol.send_request_async("codesaga/chat", params)
    reply = (
        result
        if isinstance(result, dict)
        else {
            "sessionId": getattr(result, "sessionId", ""),
            "reply": getattr(result, "reply", ""),
        }
    )
    return reply, time.perf_counter() - started


async def demo_chat(client: LanguageClient, path: Path) -> None:
    """A two-turn chat about the first file; the second turn depends on the first."""
    uri = path.resolve().as_uri()
    cursor = types.Position(line=0, character=0)
    print(f"\nchat about {path.name}", flush=True)
    first, seconds = await chat(
        client,
        {
            "message": "In one sentence: what does this file do?",
            "textDocument": {"uri": uri},
            "range": {"start": cursor, "end": cursor},
        },
    )
    _show("turn 1", first.get("reply", ""), seconds)
    second, seconds = await chat(
        client,
        {"sessionId": first.get("sessionId"), "message": "Say that again in five words."},
    )
    _show("turn 2 (same session)", second.get("reply", ""), seconds)


async def demo_actions(client: DemoClient, path: Path) -> None:
    """List code actions on a function (instant, no model), then resolve a refactor and a fix
    for a diagnostic; print the edit or the server's reason for giving none."""
    if not path.is_file():
        return
    text, positions = strip_markers(path.read_text(encoding="utf-8"))
    uri = path.resolve().as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    print(f"\ncode actions on {path.name}", flush=True)
    undefined = positions[-1]
    problem = types.Diagnostic(
        range=types.Range(
            start=undefined,
            end=types.Position(line=undefined.line, character=undefined.character + 4),
        ),
        message="undefined name 'totl'",
        source="demo",
    )
    for where, diagnostics, wanted in (
        (positions[0], [], "refactor"),
        (undefined, [problem], "quickfix"),
    ):
        started = time.perf_counter()
        listed = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=where, end=where),
                context=types.CodeActionContext(diagnostics=diagnostics),
            )
        )
        actions = [a for a in listed or [] if isinstance(a, types.CodeAction)]
        titles = ", ".join(a.title for a in actions)
        _show("listed (no model)", titles, time.perf_counter() - started)
        chosen = next((a for a in actions if (a.kind or "").startswith(wanted)), None)
        if chosen is None:
            continue
        before = len(client.messages)
        started = time.perf_counter()
        resolved = await client.code_action_resolve_async(chosen)
        seconds = time.perf_counter() - started
        edit = resolved.edit
        changes = edit.document_changes if edit and edit.document_changes else []
        new_texts = [
            e.new_text
            for change in changes
            if isinstance(change, types.TextDocumentEdit)
            for e in change.edits
            if isinstance(e, types.TextEdit)
        ]
        reason = " ".join(client.messages[before:]) or "(no edit)"
        _show(f"resolved {chosen.title[:28]}", " ".join(new_texts) or reason, seconds)


async def run_demo(files: list[Path]) -> int:
    """Drive the server over ``files`` (default: the fixture files). Returns an exit code."""
    paths = files or [FIXTURES / name for name in DEFAULT_FILES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        return fail(f"no such file: {', '.join(missing)}", 2)
    with tempfile.TemporaryDirectory(prefix="codesaga-demo-") as tmp:
        return await _run_demo(paths, _fresh_cache_env(Path(tmp)))


def _fresh_cache_env(cache_dir: Path) -> dict[str, str]:
    """The server's environment: an empty cache directory, so that "cold" and "cache" in the
    demo's output mean what they say on every run, and the model resolved here (from the
    user's cache directory) so that the bundled model is not assembled again."""
    from codesaga.models import ModelError, resolve
    from codesaga.settings import Settings

    env = dict(os.environ, CODESAGA_CACHE_DIR=str(cache_dir))
    settings = Settings()
    with contextlib.suppress(ModelError):  # else the server reports the missing model itself
        env["CODESAGA_MODEL"] = str(resolve(settings.model, settings.resolved_cache_dir()))
    return env


async def _run_demo(paths: list[Path], env: dict[str, str]) -> int:
    client = DemoClient()
    print(f"CodeSaga {__version__} demo: starting `codesaga serve` …", flush=True)
    await client.start_io(sys.executable, "-m", "codesaga", "serve", env=env)
    # the files' folder is the workspace: the server indexes it for repository context
    root = Path(os.path.commonpath([p.resolve().parent for p in paths])) if paths else None
    await client.initialize_async(
        types.InitializeParams(
            capabilities=client_capabilities(),
            initialization_options={},
            locale="en",
            root_uri=root.as_uri() if root is not None else None,
        )
    )
    client.initialized(types.InitializedParams())
    started = time.perf_counter()
    await asyncio.wait_for(client.ready.wait(), READY_TIMEOUT_SECONDS)
    print(f"  model ready after {time.perf_counter() - started:.2f} s", flush=True)
    failures = 0
    for path in paths:
        text, positions = strip_markers(path.read_text(encoding="utf-8"))
        uri = path.resolve().as_uri()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=grammar_name("", uri) or "plaintext", version=1, text=text
                )
            )
        )
        print(
            f"\n{path.name} ({len(text.splitlines())} lines, {len(positions)} markers)", flush=True
        )
        if not positions:
            continue
        pos = positions[0]
        first, seconds = await inline(client, uri, pos)
        _show(f"line {pos.line + 1}:{pos.character + 1} (cold)", first, seconds)
        failures += not first
        typed = first[:1] or " "
        _type(client, uri, 2, pos, typed)
        after = types.Position(
            line=pos.line, character=pos.character + len(typed.encode("utf-16-le")) // 2
        )
        suggestion, seconds = await inline(client, uri, after)
        _show(f"typed {typed!r} (type-through)", suggestion, seconds)
        other = "x" if typed != "x" else "y"
        _type(client, uri, 3, pos, other, end=after)
        after = types.Position(line=pos.line, character=pos.character + 1)
        suggestion, seconds = await inline(client, uri, after)
        _show(f"typed {other!r} instead (warm model)", suggestion, seconds)
        suggestion, seconds = await inline(client, uri, after)
        _show("same request again (cache)", suggestion, seconds)
        _type(client, uri, 4, pos, "", end=after)  # back to the original text
        for pos in positions[1:]:
            suggestion, seconds = await inline(client, uri, pos)
            _show(f"line {pos.line + 1}:{pos.character + 1}", suggestion, seconds)
            failures += not suggestion
    if paths:
        await demo_chat(client, paths[0])
    await demo_actions(client, FIXTURES / "orders.py")
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    print(f"\ndone: {failures} marker(s) without a suggestion", flush=True)
    return 0
