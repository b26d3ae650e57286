"""One evaluation task: a document with a hole, the cursor in it, and what was removed.

Pure data: :mod:`codesaga.evals.humaneval` and :mod:`codesaga.evals.repos` make tasks, the
arms (:mod:`codesaga.evals.raw`, :mod:`codesaga.evals.live`) answer them and
:mod:`codesaga.evals.metrics` scores the answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Suite = Literal["humaneval", "repo"]
SUITES: tuple[Suite, ...] = ("humaneval", "repo")


@dataclass(frozen=True)
class Task:
    """A hole to fill. ``text[:offset]`` is before the cursor, ``text[offset:]`` after it
    (``offset`` is a str index, not bytes or UTF-16 units); the removed text was
    ``expected`` (the rest of the line, without its line end)."""

    id: str
    suite: Suite
    workspace: str
    """Name of the scratch workspace the task lives in (one per repository; one for all of
    HumanEval)."""
    path: str
    """The document's path inside its workspace (POSIX, relative)."""
    text: str
    offset: int
    expected: str
    kind: str = "line"
    """``line`` (HumanEval: a whole line after its indentation), ``name`` (the cursor just
    before a name defined in another file) or ``args`` (the cursor inside its call's
    parentheses)."""
    identifier: str = ""
    """Repository tasks: what the answer must start with for identifier accuracy."""
    test: str = ""
    """HumanEval tasks: the test code and ``check(<entry point>)``, run after the filled
    document."""

    @property
    def prefix(self) -> str:
        """The document before the cursor."""
        return self.text[: self.offset]

    @property
    def suffix(self) -> str:
        """The document after the cursor."""
        return self.text[self.offset :]

    def filled(self, answer_line: str) -> str:
        """The document with ``answer_line`` inserted at the cursor."""
        return self.prefix + answer_line + self.suffix


def first_line(answer: str) -> str:
    """The first line of ``answer`` without its line end and trailing whitespace."""
    return answer.split("\n", 1)[0].rstrip()
