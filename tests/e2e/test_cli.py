"""`codesaga complete --json` on a real model reports the generation's token counts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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
