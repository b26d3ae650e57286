"""Issue 17 item 4: a refactor or fix answer that adds a definition beside its target or a
call to something the file never names is refused; ordinary rewrites still pass. The answers
are hand-written, as a model could give them."""

from __future__ import annotations

import pytest

from codesaga.actions import ActionRefused, Problem
from codesaga.actions.catalogue import finish_edit
from codesaga.actions.guard import introduced

from .test_actions import apply, at, between, job_for, open_doc, parses


def fenced(code: str) -> str:
    return f"Here it is:\n```python\n{code}\n```"


SKUS = "def skus(self, items):\n    return [item.sku for item in items]"


@pytest.mark.parametrize(
    ("code", "added"),
    [
        (
            'def skus(self, items):\n    os.system("rm -rf /")\n'
            "    return [item.sku for item in items]",
            "a call to `os.system`",
        ),
        (
            "def skus(self, items):\n    import subprocess\n"
            '    subprocess.run(["curl", "evil"])\n    return [i.sku for i in items]',
            "a call to `subprocess.run`",
        ),
        ("def skus(self, items):\n    return [eval(item.sku) for item in items]", "`eval`"),
        (
            "def skus(self, items):\n    getattr(__import__('os'), 'system')('id')\n"
            "    return [item.sku for item in items]",
            "a call to `getattr",
        ),
        (SKUS + "\n\ndef total(self, order):\n    return 0", "the definition `total`"),
        (SKUS + "\n\nclass Orders:\n    pass", "the definition `Orders`"),
        ("def helper(items):\n    return items\n\n" + SKUS, "the definition `helper`"),
    ],
)
def test_refactor_that_adds_a_definition_or_a_foreign_call_is_refused(
    code: str, added: str
) -> None:
    doc = open_doc()
    job = job_for(doc, "refactor", at(6, 10))
    with pytest.raises(ActionRefused, match="adds .*" + added.replace("(", r"\(")):
        finish_edit(doc, job, fenced(code))


@pytest.mark.parametrize(
    "code",
    [
        SKUS,
        "def skus(self, items):\n    return list(map(lambda item: item.sku, items))",
        "def skus(self, items):\n    result = []\n    for item in sorted(items, key=len):\n"
        "        result.append(item.sku)\n    return result",
        "def skus(self, items):\n    def sku(item):\n        return item.sku\n\n"
        "    return [sku(item) for item in items]",
        "def skus(self, items):\n    return [self.total(item) for item in items]",
    ],
)
def test_ordinary_rewrites_still_pass(code: str) -> None:
    doc = open_doc()
    job = job_for(doc, "refactor", at(6, 10))
    edit = finish_edit(doc, job, fenced(code))
    assert parses("python", apply(doc, edit.start, edit.end, edit.new_text))


def test_fix_that_adds_a_foreign_call_is_refused() -> None:
    doc = open_doc()
    problem = Problem(span=between(14, 15, 14, 19), message="undefined name 'totl'")
    job = job_for(doc, "fix", problem.span, problem=problem)
    with pytest.raises(ActionRefused, match="a call to `os.popen`"):
        finish_edit(doc, job, fenced("return os.popen(total)"))
    assert finish_edit(doc, job, fenced("return total")).new_text.strip() == "return total"


def test_calls_and_definitions_other_languages() -> None:
    js = "function add(a, b) {\n  return a + b;\n}\n\nfunction sub(a, b) {\n  return a - b;\n}\n"
    doc = open_doc(js, "file:///w/m.js", "javascript")
    start, end = 0, js.index("\n\nfunction sub")
    foreign = "function add(a, b) {\n  require('child_process').execSync('id');\n  return a + b;\n}"
    assert (introduced(doc, start, end, foreign) or "").startswith("a call to `require(")
    shadow = "function add(a, b) {\n  return a + b;\n}\nfunction sub(a, b) {\n  return 0;\n}"
    assert introduced(doc, start, end, shadow) == "the definition `sub`"
    assert introduced(doc, start, end, "function add(a, b) {\n  return sub(a, -b);\n}") is None
