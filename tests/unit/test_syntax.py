"""syntax.languages and syntax.scopes against the real tree-sitter grammars."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tree_sitter import Language, Parser, Point, Tree

import codesaga
from codesaga.syntax import (
    GRAMMARS,
    Span,
    enclosing_scopes,
    get_language,
    grammar_name,
    has_errors,
    import_spans,
    new_parser,
)

CURSOR = "<|>"


def parse(grammar: str, text: str) -> Tree:
    return new_parser(grammar).parse(text.encode())


def scopes_at(grammar: str, marked: str) -> list[tuple[str, str]]:
    """(kind, header) of the scopes around the ``<|>`` marker, innermost first."""
    index = marked.index(CURSOR)
    text = marked.replace(CURSOR, "", 1)
    tree = parse(grammar, text)
    return [(s.kind, s.header) for s in enclosing_scopes(tree, grammar, len(text[:index].encode()))]


def import_headers(grammar: str, text: str) -> list[tuple[str, str]]:
    return [(s.kind, s.header) for s in import_spans(parse(grammar, text), grammar)]


# ---------------------------------------------------------------------------- languages


@pytest.mark.parametrize(
    ("language_id", "uri", "expected"),
    [
        ("python", None, "python"),
        ("py", None, "python"),
        ("javascript", None, "javascript"),
        ("javascriptreact", None, "javascript"),
        ("jsx", None, "javascript"),
        ("typescript", None, "typescript"),
        ("ts", None, "typescript"),
        ("typescriptreact", None, "tsx"),
        ("tsx", None, "tsx"),
        ("rust", None, "rust"),
        ("go", None, "go"),
        ("java", None, "java"),
        ("c", None, "c"),
        ("cpp", None, "cpp"),
        ("c++", None, "cpp"),
        ("Python", None, "python"),
        ("python", "file:///x/y.rs", "python"),  # a known language id wins
        ("", "file:///x/y.pyi", "python"),
        ("plaintext", "file:///x/mod.mjs", "javascript"),
        ("unknown", "file:///x/a.d.ts", "typescript"),
        ("", "file:///x/App.TSX", "tsx"),
        ("", "file:///x/lib.rs", "rust"),
        ("", "file:///x/main.go", "go"),
        ("", "file:///x/Main.java", "java"),
        ("", "file:///x/a.h", "c"),
        ("", "file:///x/a.hpp", "cpp"),
        ("", "file:///x/a.cc?query=1#frag", "cpp"),
        ("", "file:///c%3A/dir/a.cxx", "cpp"),
        ("markdown", "file:///x/README.md", None),
        ("", "file:///x/Makefile", None),
        ("", "untitled:Untitled-1", None),
        ("", None, None),
    ],
)
def test_grammar_name(language_id: str, uri: str | None, expected: str | None) -> None:
    assert grammar_name(language_id, uri) == expected


def test_get_language_and_new_parser() -> None:
    assert set(GRAMMARS) == {
        "python",
        "javascript",
        "typescript",
        "tsx",
        "rust",
        "go",
        "java",
        "c",
        "cpp",
    }
    for name in GRAMMARS:
        language = get_language(name)
        assert isinstance(language, Language)
        assert get_language(name) is language  # cached
        assert isinstance(new_parser(name), Parser)
    assert new_parser("python") is not new_parser("python")
    with pytest.raises(KeyError):
        get_language("cobol")
    with pytest.raises(KeyError):
        new_parser("cobol")


def test_grammar_modules_are_imported_lazily() -> None:
    server_dir = Path(codesaga.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(server_dir)}
    code = (
        "import sys, codesaga.syntax as s, codesaga.documents\n"
        "assert not [m for m in sys.modules if m.startswith('tree_sitter_')], sys.modules\n"
        "s.get_language('go')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('tree_sitter_')}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "['tree_sitter_go']"


def test_has_errors() -> None:
    assert not has_errors(parse("python", "def f():\n    return 1\n"))
    assert has_errors(parse("python", "def f(:\n"))


# ------------------------------------------------------------------------------- scopes


PYTHON = """\
import os

class Greeter(Base):
    \"\"\"Says hello.\"\"\"

    @staticmethod
    @cache
    def greet(
        name: str,
    ) -> str:
        message = "안녕 " + name<|>
        return message

async def main() -> None:
    pass
"""


def test_python_scopes() -> None:
    assert scopes_at("python", PYTHON) == [
        ("function_definition", "@staticmethod\n@cache\ndef greet(\n    name: str,\n) -> str:"),
        ("class_definition", "class Greeter(Base):"),
    ]
    # the span of a decorated function starts at its first decorator
    text = PYTHON.replace(CURSOR, "")
    offset = text.index("message =")
    spans = enclosing_scopes(parse("python", text), "python", offset)
    assert [(s.start_line, s.end_line) for s in spans] == [(5, 11), (2, 11)]
    assert spans[0].start_byte == text.index("@staticmethod")
    assert spans[1] == Span(
        kind="class_definition",
        start_byte=text.index("class"),
        end_byte=len(text[: text.index("\n\nasync")].encode()),
        start_line=2,
        end_line=11,
        header="class Greeter(Base):",
    )
    assert scopes_at("python", PYTHON.replace("<|>", "").replace("pass", "pa<|>ss")) == [
        ("function_definition", "async def main() -> None:"),
    ]
    assert scopes_at("python", PYTHON.replace("<|>", "").replace("import os", "import<|> os")) == []


@pytest.mark.parametrize(
    ("marked", "expected"),
    [
        # typing at the end of the last body line
        ("def f():\n    x = 1<|>\n", ["def f():"]),
        # an indented new line after the body is still inside ...
        ("def f():\n    x = 1\n    <|>\n", ["def f():"]),
        ("def f():\n    x = 1\n\n    <|>", ["def f():"]),
        # ... but not at column 0
        ("def f():\n    x = 1\n<|>", []),
        # a body that is not written yet
        ("def f():\n    <|>", ["def f():"]),
        # back in the class after a method
        (
            "class A:\n    def m(self):\n        pass\n\n    <|>",
            ["class A:"],
        ),
        ("class A:\n    def m(self):\n        pass\n        <|>", ["def m(self):", "class A:"]),
        # right before `def`: not inside it yet
        ("class A:\n    <|>def m(self):\n        pass\n", ["class A:"]),
    ],
)
def test_python_scopes_while_typing(marked: str, expected: list[str]) -> None:
    assert [header for _, header in scopes_at("python", marked)] == expected


JAVASCRIPT = """\
import x from "y";
export class A extends B {
  m(a) {
    items.forEach((item) => {
      use(item<|>);
    });
  }
}
"""


def test_javascript_scopes() -> None:
    assert scopes_at("javascript", JAVASCRIPT) == [
        ("arrow_function", "(item) => {"),
        ("method_definition", "m(a) {"),
        ("class_declaration", "export class A extends B {"),
    ]
    assert scopes_at("javascript", "const f = function (y) {\n  return <|>y;\n};\n") == [
        ("function_expression", "function (y) {"),
    ]
    assert scopes_at("javascript", "function outer() {\n  const g = (x) => x + 1<|>;\n}\n") == [
        ("arrow_function", "(x) =>"),
        ("function_declaration", "function outer() {"),
    ]
    # outside, right after the closing brace
    assert scopes_at("javascript", "function f() {}<|>\n") == []


def test_brace_scope_with_missing_closing_brace() -> None:
    # while typing, the `}` is often not there yet (error recovery turns the declaration
    # into an expression ending in a MISSING "}")
    assert scopes_at("javascript", "function f() {\n  x = 1;\n  <|>") == [
        ("function_expression", "function f() {"),
    ]
    assert scopes_at("java", "class A {\n  void f() {\n    int x = 1;\n    <|>\n}\n") == [
        ("method_declaration", "void f() {"),
        ("class_declaration", "class A {"),
    ]


TYPESCRIPT = """\
import type { T } from "t";
interface Shape {
  area(): number;<|>
}
export abstract class Base<T> implements Shape {
  abstract area(): number;
  describe(): string {
    return `area ${this.area()}`;
  }
}
namespace Geometry {
  export function unit(): number {
    return 1;
  }
}
"""


def test_typescript_scopes() -> None:
    text = TYPESCRIPT.replace(CURSOR, "")
    assert scopes_at("typescript", TYPESCRIPT) == [("interface_declaration", "interface Shape {")]
    assert scopes_at("typescript", text.replace("return `", "return <|>`")) == [
        ("method_definition", "describe(): string {"),
        ("abstract_class_declaration", "export abstract class Base<T> implements Shape {"),
    ]
    assert scopes_at("typescript", text.replace("return 1", "return <|>1")) == [
        ("function_declaration", "export function unit(): number {"),
        ("internal_module", "namespace Geometry {"),
    ]


def test_tsx_scopes() -> None:
    marked = (
        'import React from "react";\n'
        "export function App(props: { n: number }) {\n"
        "  return <button onClick={() => { setCount(<|>1); }}>{props.n}</button>;\n"
        "}\n"
    )
    assert scopes_at("tsx", marked) == [
        ("arrow_function", "() => {"),
        ("function_declaration", "export function App(props: { n: number }) {"),
    ]


RUST = """\
use std::fmt;
mod shapes {
    pub struct Circle { r: f64 }
    impl fmt::Display for Circle {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{}", self.r<|>)
        }
    }
}
"""


def test_rust_scopes() -> None:
    assert scopes_at("rust", RUST) == [
        ("function_item", "fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {"),
        ("impl_item", "impl fmt::Display for Circle {"),
        ("mod_item", "mod shapes {"),
    ]
    text = RUST.replace(CURSOR, "")
    assert scopes_at("rust", text.replace("r: f64", "r: <|>f64")) == [
        ("struct_item", "pub struct Circle {"),
        ("mod_item", "mod shapes {"),
    ]
    assert scopes_at("rust", "trait T {\n    fn t(&self) -> i32 { <|>1 }\n}\n") == [
        ("function_item", "fn t(&self) -> i32 {"),
        ("trait_item", "trait T {"),
    ]


GO = """\
package main

import "fmt"

type Server struct {
\taddr string<|>
}

func (s *Server) Run() error {
\thandler := func(n int) {
\t\tfmt.Println(n)
\t}
\thandler(1)
\treturn nil
}
"""


def test_go_scopes() -> None:
    text = GO.replace(CURSOR, "")
    assert scopes_at("go", GO) == [("type_spec", "type Server struct {")]
    assert scopes_at("go", text.replace("Println(n)", "Println(<|>n)")) == [
        ("func_literal", "func(n int) {"),
        ("method_declaration", "func (s *Server) Run() error {"),
    ]
    assert scopes_at("go", text.replace("handler(1)", "handler(<|>1)")) == [
        ("method_declaration", "func (s *Server) Run() error {"),
    ]
    grouped = "package p\ntype (\n\tA struct {\n\t\tx int<|>\n\t}\n\tB int\n)\n"
    assert scopes_at("go", grouped) == [("type_spec", "A struct {")]
    assert scopes_at("go", "package p\nfunc main() {\n\t<|>\n}\n") == [
        ("function_declaration", "func main() {"),
    ]


JAVA = """\
package com.example;

import java.util.List;

public class Service {
    public Service() {
        init();
    }

    @Override
    public String toString() {
        return "svc"<|>;
    }

    enum Mode { ON, OFF }
}
"""


def test_java_scopes() -> None:
    text = JAVA.replace(CURSOR, "")
    assert scopes_at("java", JAVA) == [
        ("method_declaration", "@Override\npublic String toString() {"),
        ("class_declaration", "public class Service {"),
    ]
    assert scopes_at("java", text.replace("init();", "init(<|>);")) == [
        ("constructor_declaration", "public Service() {"),
        ("class_declaration", "public class Service {"),
    ]
    assert scopes_at("java", text.replace("ON, OFF", "ON, <|>OFF")) == [
        ("enum_declaration", "enum Mode {"),
        ("class_declaration", "public class Service {"),
    ]
    # a method without a body is still a scope while the cursor is inside it
    assert scopes_at("java", "interface I {\n    void f(<|>);\n}\n") == [
        ("method_declaration", "void f();"),
        ("interface_declaration", "interface I {"),
    ]
    assert scopes_at("java", "interface I {\n    void f();<|>\n}\n") == [
        ("interface_declaration", "interface I {"),
    ]


def test_c_scopes() -> None:
    marked = (
        "#include <stdio.h>\n"
        "struct point { int x; int y; };\n"
        "static int add(int a,\n"
        "               int b)\n"
        "{\n"
        "    return a + <|>b;\n"
        "}\n"
    )
    assert scopes_at("c", marked) == [
        ("function_definition", "static int add(int a,\n               int b)\n{"),
    ]
    text = marked.replace(CURSOR, "")
    assert scopes_at("c", text.replace("int y;", "int <|>y;")) == [
        ("struct_specifier", "struct point {"),
    ]
    # a struct *use* without a body is not a scope
    assert scopes_at("c", "struct point p = {<|>0};\n") == []


def test_cpp_scopes() -> None:
    marked = (
        "#include <vector>\n"
        "namespace geo {\n"
        "class Shape {\n"
        " public:\n"
        "  virtual double area() const { return <|>0; }\n"
        "};\n"
        "template <typename T>\n"
        "T twice(T t) {\n"
        "  auto f = [](T v) { return v + v; };\n"
        "  return f(t);\n"
        "}\n"
        "}  // namespace geo\n"
    )
    assert scopes_at("cpp", marked) == [
        ("function_definition", "virtual double area() const {"),
        ("class_specifier", "class Shape {"),
        ("namespace_definition", "namespace geo {"),
    ]
    text = marked.replace(CURSOR, "")
    assert scopes_at("cpp", text.replace("return v + v", "return <|>v + v")) == [
        ("lambda_expression", "[](T v) {"),
        ("function_definition", "template <typename T>\nT twice(T t) {"),
        ("namespace_definition", "namespace geo {"),
    ]
    assert scopes_at("cpp", text.replace(" public:", " pub<|>lic:")) == [
        ("class_specifier", "class Shape {"),
        ("namespace_definition", "namespace geo {"),
    ]


def test_enclosing_scopes_edge_offsets() -> None:
    tree = parse("python", "def f():\n    pass\n")
    assert enclosing_scopes(tree, "python", 0) == []
    assert enclosing_scopes(tree, "python", -5) == []
    assert [s.header for s in enclosing_scopes(tree, "python", 10_000)] == []
    assert enclosing_scopes(tree, "cobol", 5) == []


def test_scope_offsets_are_utf8_bytes() -> None:
    text = "# 한국어\ndef f():\n    return '안녕'\n"
    tree = parse("python", text)
    offset = len(text[: text.index("'안") + 2].encode())
    [span] = enclosing_scopes(tree, "python", offset)
    assert span.start_byte == len("# 한국어\n".encode()) == 12
    assert span.end_byte == len(text.encode()) - 1
    assert (span.start_line, span.end_line) == (1, 2)


# ------------------------------------------------------------------------------ imports


def test_python_imports() -> None:
    text = (
        "from __future__ import annotations\n"
        "import os, sys\n"
        "from typing import (\n"
        "    TYPE_CHECKING,\n"
        "    Any,\n"
        ")\n"
        "if TYPE_CHECKING:\n"
        "    from pathlib import Path\n"
        "try:\n"
        "    import ujson as json\n"
        "except ImportError:\n"
        "    import json\n"
        "def f():\n"
        "    import re\n"
    )
    assert import_headers("python", text) == [
        ("future_import_statement", "from __future__ import annotations"),
        ("import_statement", "import os, sys"),
        ("import_from_statement", "from typing import (\n    TYPE_CHECKING,\n    Any,\n)"),
        ("import_from_statement", "from pathlib import Path"),
        ("import_statement", "import ujson as json"),
        ("import_statement", "import json"),
    ]
    spans = import_spans(parse("python", text), "python")
    assert (spans[2].start_line, spans[2].end_line) == (2, 5)


def test_javascript_imports() -> None:
    text = (
        'import React, { useState } from "react";\n'
        "import './styles.css';\n"
        'const fs = require("fs");\n'
        'const { join } = require("path");\n'
        "const x = compute();\n"
        "function f() { const os = require('os'); }\n"
    )
    assert import_headers("javascript", text) == [
        ("import_statement", 'import React, { useState } from "react";'),
        ("import_statement", "import './styles.css';"),
        ("lexical_declaration", 'const fs = require("fs");'),
        ("lexical_declaration", 'const { join } = require("path");'),
    ]


def test_edited_tree_reads_the_source_it_is_given() -> None:
    """A tree edited with Tree.edit but not re-parsed has no text of its own: imports and
    scopes then come from ``source``, by the edited byte ranges."""
    old = 'const fs = require("fs");\nfunction f() {\n  return 1;\n}\n'
    tree = parse("javascript", old)
    tree.edit(
        start_byte=0,
        old_end_byte=0,
        new_end_byte=5,
        start_point=Point(0, 0),
        old_end_point=Point(0, 0),
        new_end_point=Point(1, 0),
    )
    new = ("// a\n" + old).encode()
    assert import_spans(tree, "javascript") == []  # tree.root_node.text is None
    assert [s.header for s in import_spans(tree, "javascript", new)] == [
        'const fs = require("fs");'
    ]
    cursor = new.index(b"return") + 6
    assert [s.header for s in enclosing_scopes(tree, "javascript", cursor, new)] == [
        "function f() {"
    ]


def test_typescript_and_tsx_imports() -> None:
    text = (
        'import type { Foo } from "./foo";\n'
        'import * as path from "path";\n'
        'import fs = require("fs");\n'
        "export const x = 1;\n"
    )
    expected = [
        ("import_statement", 'import type { Foo } from "./foo";'),
        ("import_statement", 'import * as path from "path";'),
        ("import_statement", 'import fs = require("fs");'),
    ]
    assert import_headers("typescript", text) == expected
    assert import_headers("tsx", text + "const el = <div />;\n") == expected


def test_rust_imports() -> None:
    text = "extern crate serde;\nuse std::io::{self, Read};\nfn main() { use std::fmt; }\n"
    assert import_headers("rust", text) == [
        ("extern_crate_declaration", "extern crate serde;"),
        ("use_declaration", "use std::io::{self, Read};"),
    ]


def test_go_imports() -> None:
    text = 'package main\n\nimport "fmt"\nimport (\n\t"os"\n\tf "fmt"\n)\n\nfunc main() {}\n'
    assert import_headers("go", text) == [
        ("package_clause", "package main"),
        ("import_declaration", 'import "fmt"'),
        ("import_declaration", 'import (\n\t"os"\n\tf "fmt"\n)'),
    ]


def test_java_imports() -> None:
    text = "package a.b;\nimport java.util.List;\nimport static java.lang.Math.*;\nclass A {}\n"
    assert import_headers("java", text) == [
        ("package_declaration", "package a.b;"),
        ("import_declaration", "import java.util.List;"),
        ("import_declaration", "import static java.lang.Math.*;"),
    ]


def test_c_imports() -> None:
    text = (
        "#ifndef UTIL_H\n"
        "#define UTIL_H\n"
        "#include <stdio.h>\n"
        '#include "util.h"\n'
        "#ifdef _WIN32\n"
        "#include <windows.h>\n"
        "#else\n"
        "#include <unistd.h>\n"
        "#endif\n"
        "int f(void);\n"
        "#endif\n"
    )
    assert import_headers("c", text) == [
        ("preproc_include", "#include <stdio.h>"),
        ("preproc_include", '#include "util.h"'),
        ("preproc_include", "#include <windows.h>"),
        ("preproc_include", "#include <unistd.h>"),
    ]
    [first, *_] = import_spans(parse("c", text), "c")
    # the node includes the line break; the span does not
    assert (first.start_line, first.end_line) == (2, 2)
    assert first.end_byte - first.start_byte == len("#include <stdio.h>")


def test_cpp_imports() -> None:
    text = (
        "#include <vector>\n"
        "using namespace std;\n"
        "using std::string;\n"
        "namespace fs = std::filesystem;\n"
        "namespace n { using std::map; }\n"
    )
    assert import_headers("cpp", text) == [
        ("preproc_include", "#include <vector>"),
        ("using_declaration", "using namespace std;"),
        ("using_declaration", "using std::string;"),
        ("namespace_alias_definition", "namespace fs = std::filesystem;"),
    ]


def test_imports_of_unknown_grammar() -> None:
    assert import_spans(parse("python", "import os\n"), "cobol") == []
