"""``codesaga engine``'s command line and printed settings, ``bench --clients`` parsing, and
the shared-engine bench's per-client figures (no engine started here: the e2e tests start a
real one)."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

import pytest

from codesaga.bench.records import Request, ServerRun
from codesaga.bench.shared import client_row
from codesaga.cli import _counts, build_parser
from codesaga.engine.launch import EngineLaunch, check_installed
from codesaga.engine.threads import ThreadCounts
from codesaga.settings import Settings


def test_argv_serves_the_model_under_its_name() -> None:
    threads = ThreadCounts(generation=3, batch=5)
    launch = EngineLaunch(Path("/m/qwen.gguf"), "qwen2.5-coder-0.5b", port=8123, threads=threads)
    argv = launch.argv()
    assert argv[:3] == [sys.executable, "-m", "llama_cpp.server"]
    flags = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert flags["--model"] == "/m/qwen.gguf" and flags["--model_alias"] == "qwen2.5-coder-0.5b"
    assert flags["--port"] == "8123" and flags["--n_threads"] == "3"
    assert flags["--n_threads_batch"] == "5"
    assert flags["--logits_all"] == "False" and flags["--n_batch"] == "128"
    assert "--api_key" not in flags
    keyed = EngineLaunch(Path("/m/q.gguf"), "q", api_key="k", gpu=True).argv()
    assert keyed[keyed.index("--api_key") + 1] == "k" and "512" in keyed


def test_printed_settings_are_valid_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    launch = EngineLaunch(Path("/m/q.gguf"), "qwen2.5-coder-0.5b", host="0.0.0.0", port=9000)
    assert launch.base_url == "http://127.0.0.1:9000/v1"
    text = launch.editor_settings()
    toml_lines = text.split("\n")[1:5]
    config = tmp_path / "config.toml"
    config.write_text("\n".join(line.strip() for line in toml_lines) + "\n", encoding="utf-8")
    assert tomllib.loads(config.read_text())["openai"]["model"] == "qwen2.5-coder-0.5b"
    monkeypatch.setenv("CODESAGA_CONFIG", str(config))
    settings = Settings()
    assert settings.backend == "openai"
    assert settings.openai.base_url == "http://127.0.0.1:9000/v1"
    assert '"codesaga.openai.model": "qwen2.5-coder-0.5b"' in text


def test_the_server_extra_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    check_installed()  # the test environment has it
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "uvicorn" else real(name)
    )
    with pytest.raises(Exception, match=r"missing uvicorn.*codesaga\[engine\]"):
        check_installed()


def test_client_counts() -> None:
    assert _counts("1,2,4") == (1, 2, 4)
    for bad in ("0", "a", "1,,2"):
        with pytest.raises(argparse.ArgumentTypeError):
            _counts(bad)
    args = build_parser().parse_args(["bench", "--clients", "2", "--engine", "http://h/v1"])
    assert args.clients == (2,) and args.engine == "http://h/v1"


def testclient_row() -> None:
    run = ServerRun()
    run.requests = [
        Request("key", 0.0, 0.05, "result", next_key=0.06),
        Request("key", 0.1, 0.3, "result", next_key=0.16),
        Request("pause", 1.0, 1.2, "result", text="x"),
        Request("pause", 2.0, 2.4, "result"),
        Request("pause", 3.0, 3.1, "error"),
    ]
    run.stats = {"tokens": {"completion": 7}}
    row = client_row("shared", 2, 0, run)
    assert (row["pauses"], row["pauses_answered"], row["pauses_with_suggestion"]) == (3, 2, 1)
    assert row["pause_p50_ms"] == pytest.approx(300.0) and row["errors"] == 1
    assert row["keys_answered_before_next"] == 0.5 and row["completion_tokens"] == 7
