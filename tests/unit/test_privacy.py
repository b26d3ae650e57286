"""Issue 17, security and privacy: client-chosen session ids never name files outside the
cache directory, what CodeSaga writes there is private (0700/0600), and the default log
holds no code, prompt or reply."""

from __future__ import annotations

import logging
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsprotocol import types

from codesaga.actions.explain import finish as finish_explain
from codesaga.actions.explain import write_explanation
from codesaga.chat import ChatService, Reply, SessionStore, chat_params, new_session_id
from codesaga.errors import InvalidParams
from codesaga.files import inside, private_dirs, write_private
from codesaga.logs import CONTENT_NOTICE, set_level
from codesaga.lsp.chat import session_arg
from codesaga.lsp.server import CodeSagaServer
from codesaga.settings import Settings

from .test_actions import at, job_for, open_doc

MARKER = "zq_marker_3f9a"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask 022, under which plain ``mkdir``/``open`` give 0755/0644."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def chat_server(cache: Path) -> CodeSagaServer:
    server = CodeSagaServer()
    server.settings = Settings(cache_dir=str(cache))
    return server


# ----- 1. session ids -------------------------------------------------------------------------

TRAVERSALS = ["/tmp/x", "../../../../tmp/x", "..", "a/b", "s", "x" * 32, "", " "]


@pytest.mark.parametrize("bad", TRAVERSALS)
def test_a_session_id_must_be_one_the_server_issues(bad: str) -> None:
    with pytest.raises(InvalidParams, match="sessionId"):
        session_arg((bad,))
    with pytest.raises(InvalidParams, match="sessionId"):
        chat_params({"message": "hi", "sessionId": bad})


def test_issued_and_uuid_session_ids_are_accepted() -> None:
    issued = new_session_id()
    hyphenated = str(uuid.uuid4())
    assert session_arg((issued,)) == issued
    assert session_arg((hyphenated.upper(),)) == hyphenated.upper()
    assert chat_params({"message": "hi", "sessionId": issued}).session_id == issued


@pytest.mark.parametrize("bad", ["../../../../outside/x", "/abs/x"])
def test_a_reply_is_never_written_outside_the_chat_directory(tmp_path: Path, bad: str) -> None:
    cache = tmp_path / "cache"
    outside = tmp_path / "outside"
    outside.mkdir()
    sid = bad.replace("/abs", str(outside)).replace("../../../../outside", "../../" + "outside")
    service = ChatService(chat_server(cache))
    with pytest.raises(InvalidParams):
        service.write_reply(Reply(sid, f"reply {MARKER}"))
    assert list(outside.iterdir()) == []
    assert not any(p.suffix == ".md" for p in tmp_path.rglob("*"))


def test_inside_refuses_names_that_leave_the_directory(tmp_path: Path) -> None:
    assert inside(tmp_path, "a.md") == tmp_path.resolve() / "a.md"
    for bad in ("../a.md", "/tmp/a.md", "sub/a.md", "..", ".", ""):
        with pytest.raises(ValueError):
            inside(tmp_path, bad)


# ----- 3. file modes ----------------------------------------------------------------------------


def test_chat_sessions_and_replies_are_private(tmp_path: Path, open_umask: None) -> None:
    cache = tmp_path / "cache"
    service = ChatService(chat_server(cache))
    store = service.store()
    store.append("a" * 32, [("user", MARKER), ("assistant", "ok")])
    sid = new_session_id()
    path = service.write_reply(Reply(sid, f"reply {MARKER}"))
    assert path == (cache / "chat" / f"{sid}.md").resolve()
    assert mode(cache) == 0o700 and mode(cache / "chat") == 0o700
    files = [p for p in (cache / "chat").iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"sessions.sqlite3", f"{sid}.md"}
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    store.close()


def test_explanations_are_private(tmp_path: Path, open_umask: None) -> None:
    doc = open_doc()
    job = job_for(doc, "explain", at(6, 10))
    path = write_explanation(tmp_path / "cache", doc, job, finish_explain(doc, job, "Collects."))
    assert mode(path.parent) == 0o700 and mode(path) == 0o600
    assert mode(tmp_path / "cache") == 0o700


def test_private_files_keep_their_mode_when_rewritten(tmp_path: Path, open_umask: None) -> None:
    target = tmp_path / "d" / "f.json"
    target.parent.mkdir(mode=0o755)
    target.write_text("old", encoding="utf-8")
    os.chmod(target, 0o644)
    write_private(target, "new")
    assert target.read_text(encoding="utf-8") == "new" and mode(target) == 0o600
    assert mode(private_dirs(target.parent)) == 0o700


def test_a_reopened_store_is_made_private(tmp_path: Path, open_umask: None) -> None:
    directory = tmp_path / "chat"
    directory.mkdir()
    (directory / SessionStore.FILE_NAME).touch()
    os.chmod(directory / SessionStore.FILE_NAME, 0o644)
    SessionStore(directory).close()
    assert mode(directory) == 0o700 and mode(directory / SessionStore.FILE_NAME) == 0o600


# ----- 2. logs ----------------------------------------------------------------------------------


@pytest.fixture
def codesaga_level() -> Iterator[None]:
    logger = logging.getLogger("codesaga")
    old = logger.level
    try:
        yield
    finally:
        logger.setLevel(old)


def test_shown_text_reaches_the_log_only_at_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, codesaga_level: None
) -> None:
    server = chat_server(tmp_path)
    set_level("info")
    with caplog.at_level(logging.INFO, logger="codesaga"):
        server.show(f"a reply quoting {MARKER}")
    assert caplog.records, "show() logs that something was shown"
    assert MARKER not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="codesaga"):
        server.show(f"a reply quoting {MARKER}")
    assert MARKER in caplog.text


async def test_markdown_shown_as_a_message_is_not_logged_at_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, codesaga_level: None
) -> None:
    server = chat_server(tmp_path)
    server.protocol.client_capabilities = types.ClientCapabilities()  # no showDocument
    set_level("info")
    with caplog.at_level(logging.INFO, logger="codesaga"):
        await server.show_markdown(tmp_path / "x.md", f"# `{MARKER}`\n\nExplained.")
    assert MARKER not in caplog.text


def test_enabling_debug_says_the_log_will_hold_code(
    caplog: pytest.LogCaptureFixture, codesaga_level: None
) -> None:
    set_level("info")
    set_level("debug")
    set_level("debug")  # said once, when it turns on
    set_level("info")
    said = [r.getMessage() for r in caplog.records if r.name == "codesaga"]
    assert said == [CONTENT_NOTICE]
