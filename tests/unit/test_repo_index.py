"""The workspace index (codesaga.repo.index): refresh by content hash, updates, search,
definitions, recovery from a corrupt database."""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codesaga.repo.index import RepoIndex, db_path, match_expression


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    write(root, "shop/cart.py", "class Cart:\n    def add_item(self, item):\n        pass\n")
    write(
        root,
        "shop/pricing.py",
        "def compute_discount(price, rate):\n    return price * rate\n",
    )
    write(root, "web/client.ts", "export function fetchOrders(userId: string) {\n  return 1;\n}\n")
    return root


@pytest.fixture
def index(workspace: Path, tmp_path: Path) -> Iterator[RepoIndex]:
    opened = RepoIndex.open(workspace, tmp_path / "cache")
    yield opened
    opened.close()


def test_refresh_indexes_then_reindexes_nothing(index: RepoIndex) -> None:
    progress: list[tuple[int, int]] = []
    first = index.refresh(on_progress=lambda done, total: progress.append((done, total)))
    assert (first.files, first.indexed, first.removed) == (3, 3, 0)
    assert first.chunks >= 4 and first.db_bytes > 0 and progress[-1] == (3, 3)
    second = index.refresh()
    assert (second.files, second.indexed, second.removed) == (3, 0, 0)
    assert second.chunks == first.chunks


def test_a_changed_file_alone_is_reindexed_and_a_deleted_one_dropped(
    index: RepoIndex, workspace: Path
) -> None:
    index.refresh()
    write(workspace, "shop/pricing.py", "def compute_tax(price):\n    return price\n")
    (workspace / "web" / "client.ts").unlink()
    report = index.refresh()
    assert (report.indexed, report.removed) == (1, 1)
    assert index.definitions("compute_discount") == []
    assert [c.path for c in index.definitions("compute_tax")] == ["shop/pricing.py"]
    assert index.definitions("fetchOrders") == [] and not index.has_path("web/client.ts")


def test_update_one_file(index: RepoIndex, workspace: Path) -> None:
    index.refresh()
    index.update(workspace / "shop/new.py", "def brand_new():\n    return 1\n")
    assert [c.name for c in index.definitions("brand_new")] == ["brand_new"]
    index.update(Path("shop/new.py"), None)
    assert index.definitions("brand_new") == []
    index.update(Path("/elsewhere/x.py"), "def outside():\n    pass\n")  # outside: ignored
    assert index.definitions("outside") == []


def test_search_finds_the_chunk_using_the_same_identifiers(index: RepoIndex) -> None:
    index.refresh()
    hits = index.search("total = compute_discount(item.price, discount_rate)")
    assert hits and hits[0].name == "compute_discount"
    assert index.search("fetch the orders of userId")[0].name == "fetchOrders"  # camelCase split
    assert index.search("compute_discount", exclude_path="shop/pricing.py") == []


@pytest.mark.parametrize("query", ['"', "*", "a AND", 'NEAR("x" "y")', "", "   ", "self return"])
def test_search_never_raises(index: RepoIndex, query: str) -> None:
    index.refresh()
    assert isinstance(index.search(query), list)


def test_match_expression_drops_stop_words_and_splits() -> None:
    assert match_expression('self.getUser("x*")') == '"getuser" OR "user"'
    assert match_expression("return def import") == ""


def test_definitions_prefer_classes(index: RepoIndex, workspace: Path) -> None:
    write(workspace, "a.py", "def Cart():\n    pass\n")
    index.refresh()
    assert [c.kind for c in index.definitions("Cart")] == ["class", "function"]
    assert len(index.definitions("Cart", limit=1)) == 1


def test_files_and_directories_are_private(
    index: RepoIndex, workspace: Path, tmp_path: Path
) -> None:
    path = db_path(workspace, tmp_path / "cache")
    assert index.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700


def test_corrupt_database_moved_aside(workspace: Path, tmp_path: Path) -> None:
    path = db_path(workspace, tmp_path / "cache")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    index = RepoIndex.open(workspace, tmp_path / "cache")
    try:
        assert index.refresh().indexed == 3
        aside = list(path.parent.glob(path.name + ".corrupt-*"))
        assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")
    finally:
        index.close()


def test_reopen_keeps_the_index(workspace: Path, tmp_path: Path) -> None:
    first = RepoIndex.open(workspace, tmp_path / "cache")
    first.refresh()
    first.close()
    second = RepoIndex.open(workspace, tmp_path / "cache")
    try:
        assert second.refresh().indexed == 0
    finally:
        second.close()


def test_search_while_a_refresh_writes(index: RepoIndex, workspace: Path) -> None:
    for i in range(120):
        write(workspace, f"gen/m{i}.py", f"def handler_{i}(request):\n    return request.id\n")
    index.refresh()
    for i in range(120):  # every file changes: the next refresh rewrites them all
        write(workspace, f"gen/m{i}.py", f"def handler_{i}(request):\n    return {i}\n")
    errors: list[BaseException] = []
    cancel = threading.Event()

    def refresh() -> None:
        try:
            index.refresh(cancel=cancel)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    thread = threading.Thread(target=refresh)
    thread.start()
    searches = 0
    while thread.is_alive() and searches < 200:
        assert index.search("compute_discount price rate")[0].name == "compute_discount"
        searches += 1
        time.sleep(0.001)
    thread.join()
    assert errors == [] and searches > 0


def test_cancel_keeps_what_was_done(index: RepoIndex, workspace: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    report = index.refresh(cancel=cancel)
    assert report.cancelled and report.indexed == 0 and report.removed == 0


def test_update_drops_an_ignored_file(index: RepoIndex, workspace: Path) -> None:
    write(workspace, ".gitignore", "scratch/\n")
    path = write(workspace, "scratch/tmp.py", "def scratch_only():\n    pass\n")
    index.update(path, path.read_text(encoding="utf-8"))
    assert index.definitions("scratch_only") == []
