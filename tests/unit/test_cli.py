"""The command line's own behaviour, without a model: one form of error line, the position
of ``complete`` checked before the model loads, and what reaches stderr."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from codesaga import cli, loader

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user config file and an empty cache dir."""
    monkeypatch.setenv("CODESAGA_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CODESAGA_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.delenv("CODESAGA_DEBUG", raising=False)
    return tmp_path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """Exit status and stderr lines of ``codesaga argv``, usage lines left out."""
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    err = capsys.readouterr().err.splitlines()
    return code, [line for line in err if line.strip() and not line.startswith(("usage:", " "))]


@pytest.mark.parametrize(
    "argv",
    [
        ["models", "pull"],
        ["stats", "--since", "forever"],
        ["eval", "--limit", "0"],
        ["bench", "no/such/file.py"],
        ["bench", "--clients", "0"],
        ["complete", "no/such/file.py", "--line", "0", "--character", "0"],
        ["doctor", "--model", "no/such/model.gguf"],
        ["nonsense"],
    ],
)
def test_every_error_line_has_the_one_prefix(
    argv: list[str], isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(argv, capsys)
    assert code != 0
    assert lines, "no error line"
    assert all(line.startswith("codesaga: error: ") for line in lines), lines


def test_a_missing_gguf_path_is_no_such_file(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(["doctor", "--model", "no/such/model.gguf"], capsys)
    assert code == 1 and lines == ["codesaga: error: no such file: no/such/model.gguf"]


def test_complete_checks_the_position_before_loading_the_model(
    isolated: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[object] = []

    def load_engine(settings: object) -> None:
        loads.append(settings)
        raise RuntimeError("the model was loaded")

    monkeypatch.setattr(loader, "load_engine", load_engine)
    fixture = FIXTURES / "orders.py"
    code, lines = run(["complete", str(fixture), "--line", "99", "--character", "0"], capsys)
    assert loads == []
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"codesaga: error: --line 99 --character 0 is outside {fixture}")
    # a position inside the file goes on to the model
    code, lines = run(["complete", str(fixture), "--line", "1", "--character", "0"], capsys)
    assert len(loads) == 1 and lines == ["codesaga: error: the model was loaded"]


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root, ours = logging.getLogger(), logging.getLogger("codesaga")
    handlers, level, our_level = root.handlers[:], root.level, ours.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    ours.setLevel(our_level)


def test_stderr_carries_warnings_and_errors_only(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.setup_logging("info", None)
    log = logging.getLogger("codesaga.test")
    log.info("model loaded in 1.00 s")
    log.warning("slow answer")
    log.error("engine failed")
    err = capsys.readouterr().err
    assert "model loaded" not in err  # an editor would tag it [ERROR]
    assert "WARNING codesaga.test: slow answer" in err
    assert "ERROR codesaga.test: engine failed" in err


def test_the_log_file_gets_info_too(
    restored_logging: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "server.log"
    cli.setup_logging("info", str(path))
    logging.getLogger("codesaga.test").info("model loaded in 1.00 s")
    logging.getLogger("codesaga.test").debug("code: x = 1")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "INFO codesaga.test: model loaded in 1.00 s" in text and "code:" not in text
    assert capsys.readouterr().err == ""
