"""Golden tests for codesaga.postprocess: each case names the rule it checks."""

from __future__ import annotations

from typing import Any

import pytest

from codesaga.postprocess import (
    END_OF_TEXT_MARKERS,
    SINGLE_LINE_TOKEN_CAP,
    CursorContext,
    Mode,
    balance_brackets,
    decide_mode,
    detect_indent_unit,
    drop_repetition,
    finalize,
    lookahead_stops,
    max_tokens_for,
    postprocess,
    strip_artifacts,
    suggestion_stops,
    trim_following_overlap,
    trim_suffix_overlap,
    truncate_multi_line,
    truncate_single_line,
)

SINGLE = Mode.SINGLE_LINE
MULTI = Mode.MULTI_LINE


def ctx(
    prefix: str = "",
    suffix: str = "",
    following: str = "",
    previous: str = "",
    **kwargs: Any,
) -> CursorContext:
    return CursorContext(
        line_prefix=prefix,
        line_suffix=suffix,
        following=following,
        previous_line=previous,
        **kwargs,
    )


def case(rule: str, name: str, raw: str, context: CursorContext, mode: Mode, expected: str) -> Any:
    return pytest.param(raw, context, mode, expected, id=f"{rule}: {name}")


# --------------------------------------------------------------------------------------------
# postprocess, end to end: (raw, context, mode) -> expected

DEF_F = ctx("def f(x):", following="\n\ndef g():\n    pass\n", previous="import os")
JS_FN = ctx("function add(a, b) {", following="\nfunction sub(a, b) {}\n", indent_unit="  ")

POSTPROCESS_CASES = [
    # 1. model artefacts
    case("artefacts", "endoftext", "foo()<|endoftext|>bar()", ctx("x = "), SINGLE, "foo()"),
    case("artefacts", "gemma end_of_turn", "a + b<end_of_turn>", ctx("return "), SINGLE, "a + b"),
    case(
        "artefacts",
        "file separator in multi-line",
        "\n    return x\n<|file_separator|>\ndef h():",
        DEF_F,
        MULTI,
        "\n    return x",
    ),
    case("artefacts", "only a marker", "<|endoftext|>", ctx("x = "), SINGLE, ""),
    case(
        "artefacts",
        "crlf normalised",
        "\r\n    y = x * 2\r\n    return y\r\n",
        DEF_F,
        MULTI,
        "\n    y = x * 2\n    return y",
    ),
    # 2. single-line cut
    case(
        "single-line",
        "mid-line cut at newline",
        "price * qty\nprint(total)",
        ctx("total = ", " + tax"),
        SINGLE,
        "price * qty",
    ),
    case("single-line", "end of line, cut", "42\ny = 1\n", ctx("x = "), SINGLE, "42"),
    case(
        "single-line",
        "raw starts with newline",
        "\n    return x",
        ctx("x = compute()"),
        SINGLE,
        "",
    ),
    case(
        "single-line",
        "raw starts with newline on blank line",
        "\nreturn x",
        ctx("    ", previous="x = 1"),
        SINGLE,
        "",
    ),
    # 3. multi-line block
    case(
        "multi-line",
        "python body cut at dedent into next def",
        "\n    y = x * 2\n    return y\n\ndef g():\n    pass\n",
        DEF_F,
        MULTI,
        "\n    y = x * 2\n    return y",
    ),
    case(
        "multi-line",
        "python blank line ends the suggestion",
        "\n    y = 1\n\n    return y\n\n\nprint(f(2))",
        DEF_F,
        MULTI,
        "\n    y = 1",
    ),
    case(
        "multi-line",
        "js block keeps its closing brace",
        "\n  return a + b;\n}\n\nfunction mul(a, b) {\n  return a * b;\n}\n",
        JS_FN,
        MULTI,
        "\n  return a + b;\n}",
    ),
    case(
        "multi-line",
        "max_lines",
        "\n    a = 1\n    b = 2\n    c = 3\n    d = 4",
        ctx("def f():", max_lines=3),
        MULTI,
        "\n    a = 1\n    b = 2",
    ),
    case(
        "multi-line",
        "blank line after opener",
        "    for x in xs:\n        total += x\n    return total\nprint(f([1]))",
        ctx("", previous="def f(xs):"),
        MULTI,
        "    for x in xs:\n        total += x\n    return total",
    ),
    case(
        "multi-line",
        "indent unit narrower than detected",
        "\n  a();\n  b();\n}\nc();",
        ctx("if (x) {", indent_unit="    "),
        MULTI,
        "\n  a();\n  b();\n}",
    ),
    case(
        "multi-line",
        "tabs",
        "\n\t\treturn 1\n\treturn 2",
        ctx("\tif x:", previous="def f(x):", indent_unit="\t"),
        MULTI,
        "\n\t\treturn 1",
    ),
    # 4. suffix overlap
    case("suffix-overlap", "duplicate closer", '"hi")', ctx("print(", ")"), SINGLE, '"hi"'),
    case(
        "suffix-overlap",
        "duplicate closer after a call",
        "foo(a, b))",
        ctx("print(", ")"),
        SINGLE,
        "foo(a, b)",
    ),
    case(
        "suffix-overlap",
        "closer of the suggestion's own bracket stays",
        "foo(a, b)",
        ctx("print(", ")"),
        SINGLE,
        "foo(a, b)",
    ),
    case("suffix-overlap", "quote and paren", 'hello")', ctx('print("', '")'), SINGLE, "hello"),
    case("suffix-overlap", "whole suffix with spaces", "x) ", ctx("f(", ")"), SINGLE, "x"),
    case(
        "suffix-overlap",
        "whole mid-line suffix",
        "a, b=2)",
        ctx("f(", ", b=2)"),
        SINGLE,
        "a",
    ),
    case(
        "suffix-overlap",
        "not in the middle of a word",
        "items",
        ctx("total = len(", "s)"),
        SINGLE,
        "items",
    ),
    case(
        "suffix-overlap",
        "multi-line: repeated following line",
        "\n    total += x\n    print(total)\n",
        ctx("for x in xs:", following="print(total)\n"),
        MULTI,
        "\n    total += x",
    ),
    case(
        "suffix-overlap",
        "multi-line: closing brace already below",
        "\n  return 1;\n}\n",
        ctx("function f() {", following="}\n", indent_unit="  "),
        MULTI,
        "\n  return 1;",
    ),
    case(
        "suffix-overlap",
        "multi-line: nested closing brace is not the one below",
        "\n  if (b) {\n    c();\n  }\n}\n",
        ctx("if (a) {", following="}\n", indent_unit="  "),
        MULTI,
        "\n  if (b) {\n    c();\n  }",
    ),
    case(
        "suffix-overlap",
        "multi-line: autoclosed brace goes on its own line",
        "\n  return 1;\n}\n",
        ctx("function f() {", "}", indent_unit="  "),
        MULTI,
        "\n  return 1;\n",
    ),
    case(
        "suffix-overlap",
        "multi-line: autoclosed paren, indented opener",
        "\n        a,\n        b,\n    )\n",
        ctx("    x = foo(", ")"),
        MULTI,
        "\n        a,\n        b,\n    ",
    ),
    # 5. balanced brackets
    case("brackets", "drop closer opened nowhere", "x)]", ctx("f("), SINGLE, "x)"),
    case("brackets", "closer already in suffix", "a) + b", ctx("foo(", ")"), SINGLE, "a"),
    case("brackets", "mismatched closer", "1, 2)", ctx("a = ["), SINGLE, "1, 2"),
    case("brackets", "brackets in strings ignored", '"a)b")', ctx("f("), SINGLE, '"a)b")'),
    case("brackets", "nested, suffix closes outer", "x))", ctx("a(b(", ")"), SINGLE, "x)"),
    case("brackets", "no opener at all", "1)", ctx("x = "), SINGLE, "1"),
    case("brackets", "brace opened on an earlier line", "}", ctx("", previous="  }"), SINGLE, ""),
    case(
        "brackets",
        "multi-line list closed on its own line",
        "    1,\n    2,\n]\nprint(items)",
        ctx("", previous="items = ["),
        MULTI,
        "    1,\n    2,\n]",
    ),
    # 6. repetition of the line above
    case(
        "repetition",
        "whole line repeated",
        "x = compute()",
        ctx("", previous="x = compute()"),
        SINGLE,
        "",
    ),
    case(
        "repetition",
        "line repeated with prefix",
        "compute()",
        ctx("    x = ", previous="    x = compute()"),
        SINGLE,
        "",
    ),
    case("repetition", "block closer exempt", "end", ctx("", previous="  end"), SINGLE, "end"),
    case(
        "repetition",
        "multi-line first line dropped",
        "total = 0\n    for x in xs:\n        total += x",
        ctx("    ", previous="total = 0"),
        MULTI,
        "for x in xs:\n        total += x",
    ),
    # 7. empty / whitespace
    case("empty", "empty raw", "", ctx("x = "), SINGLE, ""),
    case("empty", "whitespace only", "   \t ", ctx("x = "), SINGLE, ""),
    case("empty", "newlines only", "\n\n\n", DEF_F, MULTI, ""),
    case(
        "empty", "trailing whitespace stripped, leading kept", " x  ", ctx("return"), SINGLE, " x"
    ),
]


@pytest.mark.parametrize(("raw", "context", "mode", "expected"), POSTPROCESS_CASES)
def test_postprocess(raw: str, context: CursorContext, mode: Mode, expected: str) -> None:
    assert postprocess(raw, context, mode) == expected


# --------------------------------------------------------------------------------------------
# the rules one by one


@pytest.mark.parametrize("marker", END_OF_TEXT_MARKERS)
def test_strip_artifacts_every_marker(marker: str) -> None:
    assert strip_artifacts(f"a = 1{marker}\nb = 2") == "a = 1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("a\r\nb\r\n", "a\nb\n", id="crlf"),
        pytest.param("a\rb", "a\nb", id="lone cr"),
        pytest.param("a<eos>b<|endoftext|>c", "a", id="earliest marker wins"),
        pytest.param("no markers", "no markers", id="unchanged"),
    ],
)
def test_strip_artifacts(raw: str, expected: str) -> None:
    assert strip_artifacts(raw) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("abc\ndef", "abc", id="cut"),
        pytest.param("\nabc", "", id="leading newline"),
        pytest.param("  abc", "  abc", id="leading space kept"),
    ],
)
def test_truncate_single_line(text: str, expected: str) -> None:
    assert truncate_single_line(text) == expected


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        pytest.param(
            "\n    a\n\n    b\n\n",
            ctx("def f():"),
            "\n    a",
            id="blank line after text ends it",
        ),
        pytest.param(
            "\n\n    a\n    b",
            ctx("def f():"),
            "\n\n    a\n    b",
            id="blank line before any text kept",
        ),
        pytest.param(
            "\n    a\n  b",
            ctx("def f():"),
            "\n    a",
            id="partial dedent ends block",
        ),
        pytest.param(
            "\n    a\n)",
            ctx("x = foo("),
            "\n    a\n)",
            id="closer line at opener indent kept",
        ),
        pytest.param(
            "\n        a\n    }\n}",
            ctx("    if (a) {"),
            "\n        a\n    }",
            id="closer line below opener indent dropped",
        ),
        pytest.param(
            "a = 1\nb = 2\n    c = 3",
            ctx("x = 1; "),
            "a = 1\nb = 2\n    c = 3",
            id="no block: cursor line indentation",
        ),
        pytest.param(
            "1\n2\n3",
            ctx("x = ", max_lines=0),
            "1",
            id="max_lines below 1 keeps one line",
        ),
    ],
)
def test_truncate_multi_line(text: str, context: CursorContext, expected: str) -> None:
    assert truncate_multi_line(text, context) == expected


@pytest.mark.parametrize(
    ("raw", "context", "mode", "expected"),
    [
        pytest.param("w * h", ctx("    return "), SINGLE, False, id="single: line not finished"),
        pytest.param("w * h\n", ctx("    return "), SINGLE, True, id="single: newline"),
        pytest.param("\n    a\n    b", ctx("def f():"), MULTI, False, id="multi: still in block"),
        pytest.param("\n    a\n    b\n", ctx("def f():"), MULTI, False, id="multi: body line"),
        pytest.param("\n    a\nx", ctx("def f():"), MULTI, False, id="multi: dedent unfinished"),
        pytest.param("\n    a\nx = 1\n", ctx("def f():"), MULTI, True, id="multi: dedent ends"),
        pytest.param(
            "\n    a\n    return 1\n",
            ctx("def f():", following="    return 1\n"),
            MULTI,
            True,
            id="multi: repeats the code below",
        ),
        pytest.param("1\n2\n3\n", ctx("x = [", max_lines=2), MULTI, True, id="multi: line limit"),
        pytest.param("a<|endoftext|>", ctx("def f():"), MULTI, True, id="end-of-text marker"),
    ],
)
def test_suggestion_stops(raw: str, context: CursorContext, mode: Mode, expected: bool) -> None:
    assert suggestion_stops(raw, context, mode) is expected
    if expected:  # more text changes nothing once it stops
        assert postprocess(raw + "\n    more\nstuff\n", context, mode) == postprocess(
            raw, context, mode
        )


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        pytest.param(
            "\n    a = 1\n    return a",
            ctx("def f():", following="\n    return a\n"),
            "\n    a = 1",
            id="cut before repeated line",
        ),
        pytest.param(
            "return a\n    b",
            ctx("    ", following="    return a"),
            "",
            id="first line with prefix repeats",
        ),
        pytest.param(
            "\n    a = 1",
            ctx("def f():", following=""),
            "\n    a = 1",
            id="nothing below",
        ),
    ],
)
def test_trim_following_overlap(text: str, context: CursorContext, expected: str) -> None:
    assert trim_following_overlap(text, context) == expected


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        pytest.param('"hi")', ctx("print(", ")"), '"hi"', id="tail equals suffix"),
        pytest.param("x)", ctx("f(", ");"), "x", id="tail equals suffix prefix"),
        pytest.param("foo(bar", ctx("x(", "bar)"), "foo(", id="word at a boundary"),
        pytest.param("items", ctx("len(", "s)"), "items", id="not mid-word"),
        pytest.param("g(x)", ctx("f(", ")"), "g(x)", id="own closer kept"),
        pytest.param("abc", ctx("f(", ""), "abc", id="no suffix"),
    ],
)
def test_trim_suffix_overlap(text: str, context: CursorContext, expected: str) -> None:
    assert trim_suffix_overlap(text, context) == expected


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        pytest.param("x)]", ctx("f("), "x)", id="f( + x)] keeps x)"),
        pytest.param('"hi")', ctx("print(", ")"), '"hi"', id="suffix already closes"),
        pytest.param("a], b)", ctx("f([", ""), "a], b)", id="closes two context openers"),
        pytest.param("a)", ctx("f([", ""), "a", id="mismatched context opener"),
        pytest.param("(a)]", ctx("x = "), "(a)", id="own brackets"),
        pytest.param("')'", ctx("f("), "')'", id="single-quoted string"),
        pytest.param("b)", ctx('f("a(', ""), "b)", id="prefix inside a string"),
        pytest.param('b"))', ctx('f("a(', ""), 'b")', id="string closed, then f("),
        pytest.param(" x)  # see (1))", ctx("f("), " x)  # see (1))", id="comment ignored"),
        pytest.param("x)", ctx("foo(bar(", ")"), "x)", id="one of two left for suffix"),
        pytest.param("x))", ctx("foo(bar(", ")"), "x)", id="second one is the suffix's"),
    ],
)
def test_balance_brackets(text: str, context: CursorContext, expected: str) -> None:
    assert balance_brackets(text, context) == expected


@pytest.mark.parametrize(
    ("text", "context", "mode", "expected"),
    [
        pytest.param("b = 2", ctx("", previous="a = 1"), SINGLE, "b = 2", id="different"),
        pytest.param("a = 1", ctx("", previous="  a = 1  "), SINGLE, "", id="stripped equal"),
        pytest.param("", ctx("a = 1", previous="a = 1"), SINGLE, "", id="empty untouched"),
        pytest.param(
            "\n    y",
            ctx("a = 1", previous="a = 1"),
            MULTI,
            "\n    y",
            id="user's own duplicate line",
        ),
        pytest.param(
            "1\n    y",
            ctx("a = ", previous="a = 1"),
            MULTI,
            "",
            id="multi-line with non-blank prefix",
        ),
        pytest.param("a = 1", ctx("", previous=""), SINGLE, "a = 1", id="no previous line"),
    ],
)
def test_drop_repetition(text: str, context: CursorContext, mode: Mode, expected: str) -> None:
    assert drop_repetition(text, context, mode) == expected


@pytest.mark.parametrize(
    ("text", "context", "mode", "expected"),
    [
        pytest.param("  x  ", ctx("return"), SINGLE, "  x", id="leading kept"),
        pytest.param(" \n ", ctx(""), MULTI, "", id="whitespace"),
        pytest.param("  \n    a  \n", ctx("if x:"), MULTI, "\n    a", id="per-line rstrip"),
        pytest.param("\n  a\n", ctx("  f(", ")"), MULTI, "\n  a\n  ", id="closer reattached"),
        pytest.param(" a ", ctx("f(", ")"), MULTI, " a", id="one line: no reattach"),
    ],
)
def test_finalize(text: str, context: CursorContext, mode: Mode, expected: str) -> None:
    assert finalize(text, context, mode) == expected


# --------------------------------------------------------------------------------------------
# decide_mode


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        pytest.param(ctx("foo(", "a, b)"), SINGLE, id="mid-line"),
        pytest.param(ctx("x = ", "y"), SINGLE, id="mid-line identifier"),
        pytest.param(ctx("def f(x):"), MULTI, id="after colon, nothing below"),
        pytest.param(
            ctx("def f(x):", following="\n\ndef g():\n    pass"),
            MULTI,
            id="after colon, empty body then next def",
        ),
        pytest.param(
            ctx("def f(x):", following="    return x\n"),
            SINGLE,
            id="after colon, existing indented body",
        ),
        pytest.param(
            ctx("    if x:", following="    return 1"),
            MULTI,
            id="after colon, next line at same indent",
        ),
        pytest.param(ctx("    ", previous="def f(x):"), MULTI, id="blank line inside block"),
        pytest.param(
            ctx("", previous="def f(x):", following="\nclass A:\n"),
            MULTI,
            id="blank line, unindented prefix",
        ),
        pytest.param(
            ctx("    ", previous="def f(x):", following="    return x"),
            SINGLE,
            id="blank line above existing body",
        ),
        pytest.param(ctx("    ", previous="x = 1"), SINGLE, id="blank line, no opener above"),
        pytest.param(ctx("x = 1"), SINGLE, id="plain end of line"),
        pytest.param(ctx("foo(a, b", ")"), SINGLE, id="before ) only: end of line, no block"),
        pytest.param(ctx("foo(", ")"), MULTI, id="before ) only: end of line, opener"),
        pytest.param(ctx("foo(", "  );  "), MULTI, id="closers and whitespace"),
        pytest.param(ctx("function f() {", "}"), MULTI, id="js brace autoclosed"),
        pytest.param(ctx("const f = (x) =>"), MULTI, id="arrow"),
        pytest.param(ctx("items.each do |x|"), MULTI, id="ruby do"),
        pytest.param(ctx("if x > 1 then"), MULTI, id="then"),
        pytest.param(ctx("x = [", "]"), MULTI, id="list"),
        pytest.param(ctx("def f(x):", "   "), MULTI, id="trailing whitespace"),
        pytest.param(ctx("# Example:"), SINGLE, id="comment line"),
        pytest.param(ctx("x = 1  # note:"), SINGLE, id="trailing comment"),
        pytest.param(ctx("y = a[1:", "]"), SINGLE, id="slice colon"),
        pytest.param(ctx("f = map(lambda x:", ")"), SINGLE, id="lambda colon in call"),
        pytest.param(ctx('print("a:', '")'), SINGLE, id="colon in string"),
        pytest.param(ctx("std::"), SINGLE, id="double colon"),
        pytest.param(ctx("strengthen"), SINGLE, id="then inside a word"),
    ],
)
def test_decide_mode(context: CursorContext, expected: Mode) -> None:
    assert decide_mode(context) is expected


# --------------------------------------------------------------------------------------------
# max_tokens_for


@pytest.mark.parametrize(
    ("mode", "max_tokens", "expected"),
    [
        pytest.param(SINGLE, 256, SINGLE_LINE_TOKEN_CAP, id="single capped"),
        pytest.param(SINGLE, 16, 16, id="single below cap"),
        pytest.param(MULTI, 256, 256, id="multi unchanged"),
    ],
)
def test_max_tokens_for(mode: Mode, max_tokens: int, expected: int) -> None:
    assert max_tokens_for(mode, max_tokens) == expected


def test_max_tokens_for_rejects_non_positive() -> None:
    with pytest.raises(ValueError):
        max_tokens_for(SINGLE, 0)


def test_mode_is_a_str_enum() -> None:
    assert Mode("single") is SINGLE
    assert MULTI == "multi"


# --------------------------------------------------------------------------------------------
# detect_indent_unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("def f():\n\tif x:\n\t\treturn 1\n\treturn 2\n", "\t", id="tabs"),
        pytest.param("if (a) {\n  if (b) {\n    c();\n  }\n}\n", "  ", id="2 spaces"),
        pytest.param("class A:\n    def f(self):\n        pass\n", "    ", id="4 spaces"),
        pytest.param("a:\n        b\n", " " * 8, id="8 spaces"),
        pytest.param("x = 1\ny = 2\n", "    ", id="no indentation: default"),
        pytest.param("", "    ", id="empty: default"),
        pytest.param(
            "/**\n * doc\n */\nint f() {\n\treturn 1;\n}\nint g() {\n\treturn 2;\n}\n",
            "\t",
            id="tabs with one-space comment lines",
        ),
        pytest.param(
            "def f(\n        a,\n        b,\n):\n    if a:\n        return b\n    return a\n",
            "    ",
            id="4 spaces despite hanging indent",
        ),
        pytest.param(
            "x\n" * 250 + "if a:\n\tb\n",
            "    ",
            id="only the first 200 lines",
        ),
    ],
)
def test_detect_indent_unit(text: str, expected: str) -> None:
    assert detect_indent_unit(text) == expected


@pytest.mark.parametrize(
    ("raw", "context", "expected"),
    [
        pytest.param(" w * h", ctx("    return"), False, id="line not finished"),
        pytest.param(" w * h\n", ctx("    return"), False, id="next line not started"),
        pytest.param(" w\n\n    x = 1", ctx("    return"), False, id="next line not finished"),
        pytest.param(" w\n\n    x = 1\n", ctx("    return"), True, id="next non-blank line"),
        pytest.param("):\n    a = 1\n", ctx("def f(x"), False, id="block opened: body unfinished"),
        pytest.param(
            "):\n    a = 1\n    return a\nx = 2\n",
            ctx("def f(x"),
            True,
            id="block opened: dedent ends it",
        ),
        pytest.param(" w<|endoftext|>", ctx("    return"), True, id="end-of-text marker"),
    ],
)
def test_lookahead_stops(raw: str, context: CursorContext, expected: bool) -> None:
    assert lookahead_stops(raw, context) is expected
