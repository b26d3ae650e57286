"""FIM templates: rendering and family detection from a model's vocabulary and metadata."""

from __future__ import annotations

import pytest

from codesaga.prompts import (
    PREFIX_ONLY,
    PromptError,
    RepoFile,
    RepoPrompt,
    detect_family,
    fim_templates,
)


def vocab(*tokens: str):  # noqa: ANN201 - a tiny fake of the model's tokenizer
    known = set(tokens)
    return lambda text: text in known


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("qwen", "<|fim_prefix|>CTXpre<|fim_suffix|>suf<|fim_middle|>"),
        ("codellama", "<PRE> CTXpre <SUF>suf <MID>"),
        ("starcoder", "<fim_prefix>CTXpre<fim_suffix>suf<fim_middle>"),
        ("deepseek", "<｜fim▁begin｜>CTXpre<｜fim▁hole｜>suf<｜fim▁end｜>"),
        ("codegemma", "<|fim_prefix|>CTXpre<|fim_suffix|>suf<|fim_middle|>"),
        ("none", "CTXpre"),
    ],
)
def test_render(name: str, expected: str) -> None:
    assert fim_templates()[name].render(prefix="pre", suffix="suf", context="CTX") == expected


def test_stable_part_first_in_prefix_only_prompts() -> None:
    # KV-cache reuse: the context must precede the prefix that changes at every keystroke
    rendered = fim_templates()[PREFIX_ONLY].render(prefix="P", suffix="S", context="C")
    assert rendered == "CP" and "S" not in rendered


QWEN = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>")
GEMMA_FIM = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")


@pytest.mark.parametrize(
    ("tokens", "arch", "expected"),
    [
        (QWEN, "qwen2", "qwen"),
        (GEMMA_FIM, "gemma", "codegemma"),
        (GEMMA_FIM, "gemma3", "none"),  # Gemma 3 is not trained on FIM
        (("<PRE>", "<SUF>", "<MID>"), "llama", "codellama"),
        (("<fim_prefix>", "<fim_suffix>", "<fim_middle>"), "starcoder2", "starcoder"),
        (("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"), "llama", "deepseek"),
        ((), "llama", "none"),  # Llama 3 Bllossom
    ],
)
def test_detect_family(tokens: tuple[str, ...], arch: str, expected: str) -> None:
    assert detect_family(vocab(*tokens), arch).name == expected


def test_override_wins_and_unknown_override_fails() -> None:
    assert detect_family(vocab(*QWEN), "qwen2", "none").name == "none"
    with pytest.raises(PromptError):
        detect_family(vocab(), "llama", "gpt")


REPO = RepoPrompt(
    files=(RepoFile("pkg/b.py", "class Foo:\n    def __init__(self, n: int): ..."),),
    path="pkg/a.py",
    repo_name="shop",
)


def test_qwen_uses_its_repository_format() -> None:
    rendered = fim_templates()["qwen"].render(prefix="pre", suffix="suf", context="C", repo=REPO)
    assert rendered == (
        "<|repo_name|>shop\n"
        "<|file_sep|>pkg/b.py\nclass Foo:\n    def __init__(self, n: int): ...\n"
        "<|file_sep|>pkg/a.py\n"
        "<|fim_prefix|>Cpre<|fim_suffix|>suf<|fim_middle|>"
    )


@pytest.mark.parametrize("name", ["none", "codellama", "starcoder", "deepseek", "codegemma"])
def test_other_families_get_the_repository_as_comments_first(name: str) -> None:
    rendered = fim_templates()[name].render(prefix="pre", suffix="suf", context="C", repo=REPO)
    comments = "# Path: pkg/b.py\n# class Foo:\n#     def __init__(self, n: int): ...\n#\n"
    assert comments + "# Path: pkg/a.py\nCpre" in rendered
    # the repository context comes before everything that changes while typing
    assert rendered.index("# Path") < rendered.index("Cpre")


def test_no_repository_context_renders_as_before() -> None:
    for template in fim_templates().values():
        empty = template.render(prefix="p", suffix="s", context="c", repo=RepoPrompt(path="x"))
        assert empty == template.render(prefix="p", suffix="s", context="c")


def test_comment_marker_follows_the_language() -> None:
    slashes = RepoPrompt(files=(RepoFile("a.ts", "f(x)"),), path="b.ts", comment="//")
    assert slashes.as_comments() == "// Path: a.ts\n// f(x)\n//\n// Path: b.ts\n"
