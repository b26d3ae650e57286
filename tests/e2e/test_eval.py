"""``codesaga eval`` end to end on a tiny run: both arms through a real server and the real
Gemma 3 270M model, on both suites. A smoke test of the harness: the JSON is well formed and
has a figure per arm; no quality threshold (a 270M model's scores say little at n=3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import bundled_model, server_env

pytestmark = pytest.mark.model

LIMIT = 3


def test_eval_quick_both_suites(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    model = bundled_model()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "codesaga",
            "eval",
            "--quick",
            "--model",
            str(model),
            "--suite",
            "humaneval",
            "--suite",
            "repo",
            "--limit",
            str(LIMIT),
            "--json",
            str(out),
        ],
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "codesaga eval" in proc.stdout and "pass@1" in proc.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    label = model.stem
    assert report["setup"]["arms"] == ["raw", "server"]

    tasks = report["tasks"]
    for suite, metrics in (
        ("humaneval", {"pass", "exact", "edit_sim"}),
        ("repo", {"exact", "edit_sim", "identifier"}),
    ):
        for arm in ("raw", "server"):
            mine = [t for t in tasks if t["suite"] == suite and t["arm"] == arm]
            assert len(mine) == LIMIT, (suite, arm)
            for task in mine:
                assert task["model"] == label and task["expected"]
                assert isinstance(task["answer"], str) and "\n" not in task["answer"]
                assert set(task["metrics"]) == metrics
                assert all(0.0 <= v <= 1.0 for v in task["metrics"].values())
                assert task["seconds"] > 0
        ids = {
            arm: [t["id"] for t in tasks if t["suite"] == suite and t["arm"] == arm]
            for arm in ("raw", "server")
        }
        assert ids["raw"] == ids["server"]  # the same tasks in both arms

    rows = {(r["suite"], r["arm"]): r for r in report["summary"]}
    assert set(rows) == {(s, a) for s in ("humaneval", "repo") for a in ("raw", "server")}
    for row in rows.values():
        assert row["n"] == LIMIT and row["model"] == label
        assert row["latency"]["p50_s"] > 0 and row["latency"]["p95_s"] >= row["latency"]["p50_s"]
    assert 0.0 <= rows[("humaneval", "server")]["metrics"]["pass"] <= 1.0
    assert 0.0 <= rows[("repo", "server")]["metrics"]["identifier"] <= 1.0
