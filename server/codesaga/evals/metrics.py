"""Scores of one answer: exact match, edit similarity, identifier accuracy, and HumanEval
pass (the filled program run with its tests in a subprocess).

Every score is a float in [0, 1]; an empty answer (nothing but whitespace on its first line)
scores 0 everywhere: no suggestion is never a right one.
"""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from codesaga.evals.tasks import Task, first_line

EXEC_TIMEOUT_SECONDS = 10.0
"""Wall seconds a HumanEval program may run before it counts as failed."""
_WORD = re.compile(r"\w")


def exact_match(answer: str, expected: str) -> float:
    """1.0 when the first lines, stripped, are equal (and not empty), else 0.0."""
    got = first_line(answer).strip()
    return 1.0 if got and got == expected.strip() else 0.0


def edit_similarity(answer: str, expected: str) -> float:
    """Similarity of the first lines, stripped: ``difflib.SequenceMatcher.ratio`` (2·matches /
    total characters; no Levenshtein library is installed), 0.0 for an empty answer."""
    got = first_line(answer).strip()
    want = expected.strip()
    if not got:
        return 0.0
    return difflib.SequenceMatcher(None, got, want, autojunk=False).ratio()


def identifier_match(answer: str, identifier: str) -> float:
    """1.0 when the stripped answer starts with ``identifier`` as a whole token (a word
    identifier must not run on into more word characters), else 0.0."""
    got = first_line(answer).strip()
    if not identifier or not got.startswith(identifier):
        return 0.0
    rest = got[len(identifier) :]
    if _WORD.match(identifier[-1:]) and rest and _WORD.match(rest[0]):
        return 0.0
    return 1.0


def passes(task: Task, answer: str, timeout: float = EXEC_TIMEOUT_SECONDS) -> float:
    """Run the HumanEval program (the document with the answer's first line at the cursor,
    then the task's tests) with ``sys.executable -I`` in a temporary directory: 1.0 when it
    exits with status 0 within ``timeout`` seconds, else 0.0."""
    line = first_line(answer)
    if not line.strip():
        return 0.0
    program = task.filled(line) + "\n\n" + task.test
    with tempfile.TemporaryDirectory(prefix="codesaga-eval-") as tmp:
        path = Path(tmp) / "program.py"
        path.write_text(program, encoding="utf-8")
        try:
            proc = subprocess.run(
                [sys.executable, "-I", str(path)],
                cwd=tmp,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return 0.0
    return 1.0 if proc.returncode == 0 else 0.0


def score(task: Task, answer: str) -> dict[str, float]:
    """Every metric of ``task``'s suite: ``pass`` (HumanEval only), ``exact``, ``edit_sim``,
    and ``identifier`` (repository tasks only)."""
    scores: dict[str, float] = {}
    if task.suite == "humaneval":
        scores["pass"] = passes(task, answer)
    scores["exact"] = exact_match(answer, task.expected)
    scores["edit_sim"] = round(edit_similarity(answer, task.expected), 4)
    if task.suite == "repo":
        scores["identifier"] = identifier_match(answer, task.identifier)
    return scores
