"""Parsing model answers: code fences, prose, echoes, parroted examples, review findings."""

from __future__ import annotations

import pytest

from codesaga.answers import (
    Finding,
    code_candidates,
    doc_text,
    fenced_blocks,
    findings_done,
    has_closed_fence,
    looks_like_none,
    markdown_text,
    parse_findings,
    repetitive,
    useless_findings,
)

CODE = "def f(x):\n    return x + 1"


# ----- code ------------------------------------------------------------------------------------


def test_fenced_block_with_prose_around() -> None:
    answer = f"Sure! Here is the refactored code:\n\n```python\n{CODE}\n```\n\nIt is simpler."
    assert code_candidates(answer, "python") == [CODE]


def test_fence_without_language_tag_and_tilde_fence() -> None:
    assert code_candidates(f"```\n{CODE}\n```", "python") == [CODE]
    assert code_candidates(f"~~~py\n{CODE}\n~~~", "python") == [CODE]


def test_multiple_fences_prefer_own_language_then_largest() -> None:
    small = "x = 1"
    answer = (
        f"Before:\n```js\nconst y = 2;\nconst z = 3;\nconst w = 4;\n```\n"
        f"```python\n{small}\n```\nAfter:\n```python\n{CODE}\n```"
    )
    assert code_candidates(answer, "python") == [
        CODE,
        small,
        "const y = 2;\nconst z = 3;\nconst w = 4;",
    ]


def test_same_size_fences_keep_answer_order() -> None:
    answer = "```python\na = 1\n```\n```python\nb = 2\n```"
    assert code_candidates(answer, "python") == ["a = 1", "b = 2"]


def test_unclosed_fence_comes_after_closed_ones() -> None:
    answer = f"```python\n{CODE}\n```\n```python\ndef g(): return [1, 2, 3, 4, 5, 6, 7]"
    blocks = fenced_blocks(answer)
    assert [closed for _info, _body, closed in blocks] == [True, False]
    assert code_candidates(answer, "python")[0] == CODE


def test_no_fence_strips_leading_and_trailing_prose() -> None:
    answer = f"Here is the simpler version of it:\n{CODE}\nThis keeps the behaviour the same."
    assert code_candidates(answer, "python") == [CODE]


def test_no_fence_keeps_comments_and_code() -> None:
    answer = "# add one\n" + CODE
    assert code_candidates(answer, "python") == [answer]


@pytest.mark.parametrize(
    "answer", ["", "   \n\n", "```python\n```", "I cannot help with that request."]
)
def test_empty_or_prose_only_answers_have_no_code(answer: str) -> None:
    assert code_candidates(answer, "python") == []


def test_chat_markers_end_the_answer() -> None:
    answer = f"```python\n{CODE}\n```\n### User:\nnow do another\n```python\nzzz = 0\n```"
    assert code_candidates(answer, "python") == [CODE]


def test_has_closed_fence_for_early_stop() -> None:
    assert not has_closed_fence("```python\ndef f():")
    assert not has_closed_fence("```python\n```")
    assert has_closed_fence(f"```python\n{CODE}\n```")


# ----- documentation text ----------------------------------------------------------------------


def test_doc_text_plain_sentence() -> None:
    assert doc_text("\nReturn the total price of the given items.\n") == (
        "Return the total price of the given items."
    )


@pytest.mark.parametrize(
    "answer",
    [
        '"""Return the total price."""',
        '```python\ndef total(items):\n    """Return the total price."""\n```',
        "/**\n * Return the total price.\n */",
        "/// Return the total price.",
        "Docstring: Return the total price.",
        "`Return the total price.`",
    ],
)
def test_doc_text_strips_markup(answer: str) -> None:
    assert doc_text(answer) == "Return the total price."


def test_doc_text_drops_echoes_and_parroted_examples() -> None:
    code = "def total(items):\n    return sum(i.price for i in items)"
    answer = "def total(items):\nReturn the names of the given users, in order.\nSums prices."
    examples = ["Return the names of the given users, in order."]
    assert doc_text(answer, code, examples=examples) == "Sums prices."
    assert doc_text("Return the names of the given users, in order.", examples=examples) == ""


def test_doc_text_limits_lines_and_blank_runs() -> None:
    answer = "Line one.\n\n\n\nLine two.\n" + "\n".join(f"more {n}" for n in range(30))
    text = doc_text(answer, max_lines=5)
    assert text.split("\n") == ["Line one.", "", "Line two.", "more 0", "more 1"]


def test_markdown_text_drops_echoed_question_and_examples() -> None:
    question = "Explain this Python code (`load`).\n```python\n...\n```"
    answer = "Explain this Python code (`load`).\nLoads the file.\n- `json.loads` parses it."
    assert markdown_text(answer, question) == "Loads the file.\n- `json.loads` parses it."
    example = "- `json.loads` parses it."
    assert markdown_text(answer, question, [example]) == "Loads the file."


# ----- review findings -------------------------------------------------------------------------

SOURCE = {1: "def f(a,b):", 2: "    x = a+b", 3: "    return x"}


def test_findings_in_several_forms() -> None:
    answer = "\n".join(
        [
            "Here are my findings:",
            "- line 1: missing spaces after commas => def f(a, b):",
            "2: spaces around `+` fix: x = a + b",
            "**Line 3** (hint): `x` could be returned directly",
            '{"line": 2, "message": "name says nothing", "fix": "total = a + b"}',
            "3번째 줄: 변수 이름이 모호합니다",
        ]
    )
    assert parse_findings(answer, 1, 3, SOURCE) == [
        Finding(1, "missing spaces after commas", "def f(a, b):"),
        Finding(2, "spaces around `+`", "x = a + b"),
        Finding(3, "`x` could be returned directly", None, "hint"),
        Finding(2, "name says nothing", "total = a + b"),
        Finding(3, "변수 이름이 모호합니다"),
    ]


def test_findings_outside_range_numbered_lists_echoes_and_duplicates_are_dropped() -> None:
    answer = "\n".join(
        [
            "1. Consider adding type hints",  # a numbered list, not line 1
            "- line 9: past the end",
            "2: x = a+b",  # the code of a line, echoed
            "1 | def f(a,b):",  # the numbered code, echoed
            "- line 1: spaces => def f(a,b):",  # fix equal to the line: no fix
            "- line 1: spaces => def f(a,b):",
        ]
    )
    assert parse_findings(answer, 1, 3, SOURCE) == [Finding(1, "spaces", None)]


def test_parroted_example_findings_are_dropped() -> None:
    example = "- line 1: missing spaces after commas => def f(a, b):"
    answer = "- line 2: missing spaces after commas => def f(a, b):\n- line 3: returns early"
    assert parse_findings(answer, 1, 3, SOURCE, examples=[example]) == [Finding(3, "returns early")]
    # a new message with a parroted fix keeps the message only
    answer = "- line 2: odd spacing => def f(a, b):"
    assert parse_findings(answer, 1, 3, SOURCE, examples=[example]) == [Finding(2, "odd spacing")]


def test_none_answers() -> None:
    assert looks_like_none("\n- none\n")
    assert looks_like_none("없음")
    assert not looks_like_none("- line 1: bad")
    assert not looks_like_none("")


def test_findings_done_stops_after_the_list() -> None:
    assert not findings_done("- line 1: a\n- line 2: b\n", 3)
    assert not findings_done("Sure, here:\n", 3)
    assert findings_done("- line 1: a\n- line 7: b\n", 3)
    assert findings_done("- line 1: a\nThat is all.\n", 3)
    assert not findings_done("- line 1: a\nThat is all", 3)  # the line is not complete yet


def test_looping_answers_are_detected_and_trimmed() -> None:
    loop = "".join(f"- `skus.append(item.sku{'_id' * n})` adds it\n" for n in range(6))
    assert repetitive(loop)
    assert repetitive("a line\nb line\na line\nc\na line\n")
    assert not repetitive(
        "- `json.loads` parses\n- `json.dumps` writes\n- `path.read_text` reads\n"
    )
    assert markdown_text("Summary.\n" + loop).split("\n") == ["Summary.", *loop.split("\n")[:2]]
    assert markdown_text("A.\nB.\nA.\n") == "A.\nB."


def test_review_loops_are_cut() -> None:
    source = {n: f"line_{n} = {n}" for n in range(1, 30)}
    answer = "".join(f"- line {n}: `import json`\n" for n in range(1, 8))  # code, quoted
    answer += "".join(f"- line {n}: magic number\n" for n in range(1, 8))
    assert parse_findings(answer, 1, 29, {**source, 3: "import json"}) == [
        Finding(n, "magic number") for n in (1, 2, 3)
    ]
    many = "".join(f"- line {n}: issue {n}\n" for n in range(1, 20))
    assert findings_done(many, 29)


def test_a_review_of_parroted_findings_stops_early() -> None:
    example = "- line 1: missing spaces after commas => def f(a, b):"
    parrot = "- line 1: missing spaces after commas => def f(a, b):\n"
    assert not useless_findings(parrot, 1, 3, SOURCE, examples=[example])
    assert useless_findings(parrot * 2, 1, 3, SOURCE, examples=[example])
    assert not useless_findings(parrot + "- line 2: odd\n", 1, 3, SOURCE, examples=[example])
