"""The server's workspace: indexing in a child process, state, and the prompt's repository
context (codesaga.repo.workspace)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from codesaga.documents import DocumentStore
from codesaga.lsp.workspace import workspace_root
from codesaga.repo.context import Snippet
from codesaga.repo.workspace import Workspace, comment_marker, prompt_files

RECONCILE = (
    "def reconcile_quarterly_totals(ledger_rows, fiscal_calendar):\n"
    "    body_marker = 1\n"
    "    return []\n"
)
REPORT = (
    "from ledger.reconcile import reconcile_quarterly_totals\n\nx = reconcile_quarterly_totals("
)


def workspace(tmp_path: Path) -> tuple[Workspace, DocumentStore]:
    root = tmp_path / "ws"
    (root / "ledger").mkdir(parents=True)
    (root / "ledger" / "reconcile.py").write_text(RECONCILE, encoding="utf-8")
    (root / "ledger" / "report.py").write_text(REPORT, encoding="utf-8")
    store = DocumentStore()
    docs = lambda: [store.get(uri) for uri in store.uris()]  # noqa: E731
    return Workspace(root, tmp_path / "cache", docs), store


def test_indexed_in_a_child_process_then_used_in_prompts(tmp_path: Path) -> None:
    ws, store = workspace(tmp_path)
    progress: list[tuple[int, int]] = []
    assert ws.state == "idle" and ws.generation == 0
    asyncio.run(ws.refresh(on_progress=lambda done, total: progress.append((done, total))))
    assert ws.state == "ready" and ws.generation == 1, ws.error
    assert ws.report["files"] == 2 and ws.report["indexed"] == 2
    assert ws.report["peak_rss_bytes"] > 0 and progress[-1] == (2, 2)
    report = ws.root / "ledger" / "report.py"
    doc = store.open(report.as_uri(), "python", 1, REPORT)
    repo = ws.repo_prompt(doc, len(REPORT), 200, lambda text: len(text) // 4)
    assert repo.path == "ledger/report.py" and repo.repo_name == "ws"
    assert [f.path for f in repo.files] == ["ledger/reconcile.py"]
    assert "fiscal_calendar" in repo.files[0].text and "body_marker" not in repo.files[0].text
    status = ws.status()
    assert status["state"] == "ready" and status["files"] == 2
    # nothing changed: a second refresh reads nothing again
    asyncio.run(ws.refresh())
    assert ws.report["indexed"] == 0 and ws.generation == 2
    ws.close()


def test_changed_files_are_read_again(tmp_path: Path) -> None:
    ws, store = workspace(tmp_path)
    asyncio.run(ws.refresh())
    helper = ws.root / "ledger" / "audit.py"
    helper.write_text("def audit_trail(entries, auditor_name):\n    pass\n", encoding="utf-8")
    asyncio.run(ws.refresh([helper]))
    text = "from ledger.audit import audit_trail\n\naudit_trail("
    doc = store.open((ws.root / "main.py").as_uri(), "python", 1, text)
    repo = ws.repo_prompt(doc, len(text), 200, len)
    assert any("auditor_name" in f.text for f in repo.files)
    ws.close()


def test_an_indexer_failure_is_a_state_not_an_exception(tmp_path: Path) -> None:
    cache_file = tmp_path / "cache"
    cache_file.write_text("not a directory", encoding="utf-8")
    ws = Workspace(tmp_path, cache_file, list)
    asyncio.run(ws.refresh())
    assert ws.state == "failed" and ws.error


def test_prompt_files_group_by_path_in_a_stable_order() -> None:
    snippets = [
        Snippet("b.py", "def two(): ...", "definition", 9),
        Snippet("a.py", "def one(): ...", "similar", 3),
        Snippet("b.py", "def first(): ...", "similar", 1),
    ]
    files = prompt_files(snippets)
    assert [(f.path, f.text) for f in files] == [
        ("a.py", "def one(): ..."),
        ("b.py", "def first(): ...\n\ndef two(): ..."),
    ]
    assert prompt_files(list(reversed(snippets))) == files
    assert comment_marker("python") == "#" and comment_marker("rust") == "//"


def test_the_root_comes_from_the_first_local_folder(tmp_path: Path) -> None:
    folder = types.WorkspaceFolder(uri=tmp_path.as_uri(), name="w")
    params = types.InitializeParams(
        capabilities=types.ClientCapabilities(), workspace_folders=[folder], root_uri=None
    )
    assert workspace_root(params) == tmp_path
    remote = types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri="vscode-remote://host/x"
    )
    assert workspace_root(remote) is None
