"""`codesaga complete --json` on a real model reports the generation's token counts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from codesaga.engine.threads import ThreadFitter

from .conftest import FIXTURES, server_env

pytestmark = pytest.mark.model


def test_complete_json_reports_token_counts() -> None:
    fixture = FIXTURES / "orders.py"
    proc = subprocess.run(
        [sys.executable, "-m", "codesaga", "complete", str(fixture), "--line", "13"]
        + ["--character", "4", "--json", "--no-cache"],
        capture_output=True,
        env=server_env(),
        timeout=120,
        check=True,
    )
    out = json.loads(proc.stdout)
    assert out["source"] == "model" and out["template"] == "none"
    assert out["prompt_tokens"] > 0 and out["completion_tokens"] > 0
    assert 0 <= out["reused_tokens"] <= out["prompt_tokens"]


NATIVE_LOG = ("llama_kv_cache", "llama_context", "llama_model_loader", "load_tensors")
"""Beginnings of llama.cpp's own log lines (the SWA cache warning of Gemma 3 among them)."""


def test_complete_prints_nothing_of_llama_cpp() -> None:
    fixture = FIXTURES / "orders.py"
    proc = subprocess.run(
        [sys.executable, "-m", "codesaga", "complete", str(fixture), "--line", "13"]
        + ["--character", "4", "--no-cache"],
        capture_output=True,
        env=server_env(),
        timeout=120,
        check=True,
        text=True,
    )
    assert proc.stdout.strip()  # the suggestion
    for native in NATIVE_LOG:
        assert native not in proc.stdout and native not in proc.stderr, proc.stderr
    assert proc.stderr == ""


def test_doctor_says_what_it_does_and_nothing_of_llama_cpp() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codesaga", "doctor"],
        capture_output=True,
        env=server_env(),
        timeout=180,
        check=True,
        text=True,
    )
    lines = proc.stdout.splitlines()
    labels = [line.split("  ")[0] for line in lines]
    # the warm-up is announced before it runs, then the timed generation
    assert labels.index("warm-up") < labels.index("timing") < labels.index("generation"), lines
    # the default: counts fitted to the machine, for generation and prompt batches apart
    threads = lines[labels.index("threads")]
    assert ThreadFitter().describe() in threads, lines
    assert "fewer while other processes keep cores busy" in threads
    assert "threads=0, batchThreads=0; 0 = automatic" in threads
    for native in NATIVE_LOG:
        assert native not in proc.stdout and native not in proc.stderr, proc.stderr
    assert proc.stderr == ""
