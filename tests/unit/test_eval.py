"""``codesaga eval`` without a model: task generation, workspaces, metrics, report."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from rich.console import Console

from codesaga.bench.live import index_ready
from codesaga.cli import build_parser
from codesaga.evals import EvalOptions, plan_tasks
from codesaga.evals.humaneval import candidate_lines, humaneval_tasks, load_problems, make_task
from codesaga.evals.live import _answer
from codesaga.evals.metrics import edit_similarity, exact_match, identifier_match, score
from codesaga.evals.raw import fit_window, head_within, tail_within
from codesaga.evals.report import Record, render, summarize
from codesaga.evals.repos import (
    RepoIndex,
    RepoSource,
    call_sites,
    fixture_repos,
    holes,
    ordered_sites,
    repo_tasks,
    write_workspace,
)
from codesaga.evals.tasks import Task, first_line


@pytest.fixture(scope="module")
def problems() -> dict[str, dict[str, object]]:
    return load_problems()


def _stripped_lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").split("\n")]


# --- HumanEval -------------------------------------------------------------------------------


def test_humaneval_tasks_are_deterministic_and_seeded(problems: dict) -> None:
    first = humaneval_tasks(problems, seed=0, quick=False, limit=None)
    again = humaneval_tasks(problems, seed=0, quick=False, limit=None)
    other = humaneval_tasks(problems, seed=1, quick=False, limit=None)
    assert len(first) == 164
    assert first == again
    assert [t.id for t in first] != [t.id for t in other]
    # a problem's line does not depend on which other problems are asked for
    quick = humaneval_tasks(problems, seed=0, quick=True, limit=None)
    assert 1 < len(quick) <= 8
    by_id = {t.id: t for t in first}
    assert all(by_id[t.id] == t for t in quick)
    assert len(humaneval_tasks(problems, seed=0, quick=True, limit=3)) == 3


def test_humaneval_hole_is_one_line_at_its_indentation(problems: dict) -> None:
    for task in humaneval_tasks(problems, seed=0, quick=True, limit=None):
        problem = problems[task.id.rsplit(":", 1)[0]]
        original = str(problem["prompt"]) + str(problem["canonical_solution"])
        assert task.expected and task.expected == task.expected.strip()
        assert not task.expected.startswith("#")
        assert task.expected not in task.text.split("\n")[task.prefix.count("\n")]
        line = task.prefix.rsplit("\n", 1)[-1]
        assert line.strip() == ""  # the cursor stands after the indentation only
        assert task.suffix.startswith("\n")
        assert _stripped_lines(task.filled(task.expected)) == _stripped_lines(original)


def test_candidate_lines_skip_blank_and_comment_lines() -> None:
    solution = "    # sort first\n    xs = sorted(xs)\n\n    return xs[0]\n"
    assert candidate_lines(solution) == [1, 3]
    assert (
        make_task(
            {
                "task_id": "X/1",
                "prompt": "",
                "canonical_solution": "\n# c\n",
                "test": "",
                "entry_point": "f",
            },
            0,
        )
        is None
    )


def test_humaneval_scorer_runs_the_tests(problems: dict) -> None:
    tasks = humaneval_tasks(problems, seed=0, quick=True, limit=3)
    for task in tasks:
        assert score(task, task.expected + "\nrest is ignored")["pass"] == 1.0
        assert score(task, "") == {"pass": 0.0, "exact": 0.0, "edit_sim": 0.0}
    # a wrong line fails: a function that returns nothing passes no HumanEval test
    broken = Task(
        id="t",
        suite="humaneval",
        workspace="humaneval",
        path="t.py",
        text="def f(x):\n    \n",
        offset=len("def f(x):\n    "),
        expected="return x + 1",
        test="def check(c):\n    assert c(1) == 2\n\ncheck(f)\n",
    )
    assert score(broken, "return x + 1")["pass"] == 1.0
    assert score(broken, "return x")["pass"] == 0.0


# --- repositories ----------------------------------------------------------------------------

TINY_REPO = RepoSource(
    "tiny",
    {
        "pkg/__init__.py": "from .store import Shelf\n",
        "pkg/store.py": (
            "class Shelf:\n"
            "    def put_jar(self, jar, slot=0):\n"
            "        return slot\n\n"
            "def count_jars(shelf):\n"
            "    return 0\n"
        ),
        "pkg/use.py": (
            "from . import store\n"
            "from pkg import Shelf\n\n"
            "def local_helper():\n"
            "    return 1\n\n"
            "def fill():\n"
            "    shelf = Shelf()\n"
            "    shelf.put_jar('plum', slot=2)\n"
            "    n = store.count_jars(shelf)\n"
            "    return local_helper() + n\n"
        ),
    },
)


def test_call_sites_resolve_through_imports() -> None:
    sites = set(call_sites(RepoIndex(TINY_REPO), "pkg/use.py"))
    found = {(s.line, s.kind, s.expected, s.identifier, s.target) for s in sites}
    assert (7, "name", "Shelf()", "Shelf", "pkg/store.py") in found  # re-exported by __init__
    assert (8, "name", "put_jar('plum', slot=2)", "put_jar", "pkg/store.py") in found
    assert (8, "args", "'plum', slot=2)", "'", "pkg/store.py") in found
    assert (9, "name", "count_jars(shelf)", "count_jars", "pkg/store.py") in found
    assert (9, "args", "shelf)", "shelf", "pkg/store.py") in found
    assert not any(s.identifier == "local_helper" for s in sites)  # same file: no task
    assert not list(call_sites(RepoIndex(TINY_REPO), "pkg/store.py"))


def test_repo_tasks_are_deterministic_and_spread() -> None:
    sources = fixture_repos()
    assert len(sources) >= 2 and all(8 <= len(s.files) <= 15 for s in sources)
    first = repo_tasks(sources, seed=0, quick=False, limit=None)
    assert first == repo_tasks(sources, seed=0, quick=False, limit=None)
    assert first != repo_tasks(sources, seed=7, quick=False, limit=None)
    assert len(first) >= 60
    for source in sources:
        mine = [t for t in first if t.workspace == source.name]
        assert len({t.path for t in mine}) >= 5  # spread over the files
    quick = repo_tasks(sources, seed=0, quick=True, limit=None)
    assert len(quick) == 8 and len({t.workspace for t in quick}) == len(sources)
    assert len(repo_tasks(sources, seed=0, quick=True, limit=3)) == 3
    order = ordered_sites(sources[0], 0)
    assert len({(s.path, s.line) for s in order}) == len(order)  # one task per line


def test_repo_hole_is_gone_from_the_workspace(tmp_path: Path) -> None:
    sources = fixture_repos()
    tasks = repo_tasks(sources, seed=0, quick=False, limit=None)
    for source in sources:
        mine = [t for t in tasks if t.workspace == source.name]
        root = tmp_path / source.name
        write_workspace(root, source, mine)
        assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py")) == sorted(
            source.files
        )
        for task in mine:
            original = source.files[task.path]
            row = task.prefix.count("\n")
            original_line = original.split("\n")[row]
            on_disk = (root / task.path).read_text(encoding="utf-8").split("\n")[row]
            assert original_line.endswith(task.expected)
            assert on_disk == original_line[: len(original_line) - len(task.expected)]
            assert task.expected not in on_disk
            assert task.filled(task.expected) == original  # the document lacks only the answer
            assert task.text.split("\n")[row] == on_disk
    assert holes([tasks[0]]) == {
        tasks[0].path: {
            tasks[0].prefix.count("\n"): len(tasks[0].prefix) - tasks[0].prefix.rfind("\n") - 1
        }
    }


def test_repo_scorer_perfect_and_empty() -> None:
    tasks = repo_tasks(fixture_repos(), seed=0, quick=True, limit=None)
    for task in tasks:
        assert score(task, task.expected + "\nnext line") == {
            "exact": 1.0,
            "edit_sim": 1.0,
            "identifier": 1.0,
        }
        assert score(task, "   ") == {"exact": 0.0, "edit_sim": 0.0, "identifier": 0.0}


def test_plan_tasks_by_suite() -> None:
    tasks, sources = plan_tasks(EvalOptions(suites=("repo",), quick=True, limit=2))
    assert len(tasks) == 2 and {t.suite for t in tasks} == {"repo"} and sources
    tasks, sources = plan_tasks(EvalOptions(suites=("humaneval",), quick=True))
    assert {t.suite for t in tasks} == {"humaneval"} and not sources


# --- metrics ---------------------------------------------------------------------------------


def test_metrics_on_hand_examples() -> None:
    assert first_line("  foo(1)  \nbar") == "  foo(1)"
    assert exact_match("  total = a + b  \nmore", "total = a + b") == 1.0
    assert exact_match("total = a+b", "total = a + b") == 0.0
    assert edit_similarity("abc", "abd") == pytest.approx(2 / 3)
    assert edit_similarity("", "abc") == 0.0
    assert edit_similarity("x = 1\ny", "x = 1") == 1.0
    assert identifier_match("reserve_units(code, 2)", "reserve_units") == 1.0
    assert identifier_match("reserve_units_later(code)", "reserve_units") == 0.0
    assert identifier_match("release_units(code)", "reserve_units") == 0.0
    assert identifier_match('"a", 1)', '"') == 1.0
    assert identifier_match("", "x") == 0.0


# --- raw arm window ----------------------------------------------------------------------------


def _words(text: str) -> int:
    return len(text.split())


def test_fit_window_keeps_prefix_end_and_suffix_start() -> None:
    prefix = "".join(f"p{i} a b\n" for i in range(20)) + "x ="
    suffix = "".join(f"s{i} c d\n" for i in range(20))
    assert fit_window("a b", "c", _words, 10) == ("a b", "c")
    kept_prefix, kept_suffix = fit_window(prefix, suffix, _words, 40)
    assert _words(kept_prefix) + _words(kept_suffix) <= 40
    assert kept_prefix.endswith("p19 a b\nx =") and prefix.endswith(kept_prefix)
    assert kept_suffix.startswith("s0 c d\n") and suffix.startswith(kept_suffix)
    assert _words(kept_suffix) <= 10
    assert head_within("a\nb\n", _words, 1) == "a\n"
    assert tail_within("a\nb c d e", _words, 2) == "d e"  # an overlong last line is cut


# --- server arm ------------------------------------------------------------------------------


def test_index_ready() -> None:
    assert index_ready(None)
    assert index_ready({"counts": {}})
    assert not index_ready({"index": {"state": "indexing", "files": 3}})
    assert not index_ready({"index": {"state": "idle"}})
    assert index_ready({"index": {"state": "ready"}})


def test_answer_is_taken_as_of_the_cursor() -> None:
    text = "x = compute(\n"
    offset = len("x = comp")
    cursor = types.Position(line=0, character=8)

    def items(start: int, insert: str) -> types.InlineCompletionList:
        here = types.Position(line=0, character=start)
        return types.InlineCompletionList(
            items=[types.InlineCompletionItem(insert_text=insert, range=types.Range(here, here))]
        )

    assert _answer(items(8, "ute(a)"), text, offset, cursor) == "ute(a)"
    assert _answer(items(4, "compute(a)"), text, offset, cursor) == "ute(a)"
    assert _answer(types.InlineCompletionList(items=[]), text, offset, cursor) == ""
    assert _answer(None, text, offset, cursor) == ""


# --- report ----------------------------------------------------------------------------------


def _record(arm: str, passed: float, seconds: float) -> Record:
    return Record("t", "humaneval", "line", "m", arm, "x", "y", {"pass": passed}, seconds)


def test_summary_and_table() -> None:
    records = [_record("raw", 1.0, 1.0), _record("raw", 0.0, 3.0), _record("server", 1.0, 2.0)]
    rows = summarize(records)
    raw = next(r for r in rows if r["arm"] == "raw")
    assert raw["n"] == 2 and raw["metrics"]["pass"] == 0.5
    assert raw["latency"]["p50_s"] == 2.0 and raw["latency"]["p95_s"] == pytest.approx(2.9)
    console = Console(width=200, record=True)
    console.print(render({"summary": rows, "setup": {}, "runtime_s": 1.0}))
    out = console.export_text()
    assert "pass@1 0.50" in out and "pass@1 1.00" in out and "server" in out
    assert "−ranking" not in out  # no ablation rows, no ablation columns
    assert records[0].as_json()["metrics"] == {"pass": 1.0}


def test_cli_parses_eval() -> None:
    args = build_parser().parse_args(
        [
            "eval",
            "--model",
            "a",
            "--model",
            "b",
            "--suite",
            "repo",
            "--quick",
            "--limit",
            "3",
            "--ablate",
            "--seed",
            "4",
            "--json",
            "x.json",
        ]
    )
    assert args.model == ["a", "b"] and args.suite == ["repo"] and args.quick and args.ablate
    assert (args.limit, args.seed, args.json) == (3, 4, "x.json")
    assert build_parser().parse_args(["eval"]).suite is None
