"""Definitions and calls from the grammars' own tags.scm (codesaga.syntax.tags), and what
targets and doc comments get from them."""

from __future__ import annotations

import pytest
from lsprotocol.types import Position
from tree_sitter import Tree

from codesaga.actions.explain import _calls as explain_calls
from codesaga.docstrings import doc_target
from codesaga.documents import Document, DocumentStore
from codesaga.documents.span import TextSpan
from codesaga.syntax import GRAMMARS, new_parser
from codesaga.syntax.tags import call_names, definition_of, definitions, references, tags_query
from codesaga.targets import code_target, is_function


def parse(grammar: str, text: str) -> Tree:
    return new_parser(grammar).parse(text.encode("utf-8"))


def open_doc(grammar: str, name: str, text: str) -> Document:
    return DocumentStore().open(f"file:///w/{name}", grammar, 1, text)


def at(doc: Document, line: int, character: int) -> TextSpan:
    """The cursor at an LSP position of ``doc``."""
    return TextSpan.at(doc.offset_at(Position(line=line, character=character)))


def summary(tree: Tree, grammar: str) -> list[tuple[str, str, str]]:
    return [(tag.kind, tag.name, tag.node.type) for tag in definitions(tree, grammar)]


# ----- loading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("grammar", GRAMMARS)
def test_every_grammar_has_a_compiled_tags_query(grammar: str) -> None:
    query = tags_query(grammar)
    assert query is not None and query.pattern_count > 0
    assert tags_query(grammar) is query  # compiled once


def test_typescript_reads_its_own_tags_then_javascripts() -> None:
    text = "interface I {}\nfunction f() {}\nconst g = () => 1;\n"
    for grammar in ("typescript", "tsx"):
        assert summary(parse(grammar, text), grammar) == [
            ("interface", "I", "interface_declaration"),  # TypeScript's tags.scm
            ("function", "f", "function_declaration"),  # JavaScript's
            ("function", "g", "variable_declarator"),
        ]


def test_unknown_grammar_has_no_tags() -> None:
    tree = parse("python", "def f(): pass\n")
    assert tags_query("cobol") is None
    assert definitions(tree, "cobol") == [] and references(tree, "cobol") == []
    assert call_names(tree, "cobol", 0, 10) == []


# ----- definitions -----------------------------------------------------------------------------

DEFINITIONS = [
    (
        "python",
        "X = 1\n\nclass A:\n    def m(self):\n        pass\n\ndef f():\n    pass\n",
        [
            ("constant", "X", "assignment"),
            ("class", "A", "class_definition"),
            ("function", "m", "function_definition"),
            ("function", "f", "function_definition"),
        ],
    ),
    (
        "javascript",
        "class A {\n  constructor() {}\n  #p() {}\n  m() {}\n}\nconst f = () => 1;\n"
        "(function setup() {})();\nconst o = { on() {}, k: function () {} };\n",
        [
            ("class", "A", "class_declaration"),
            ("method", "constructor", "method_definition"),  # our supplement
            ("method", "#p", "method_definition"),  # our supplement
            ("method", "m", "method_definition"),
            ("function", "f", "variable_declarator"),
            ("method", "on", "method_definition"),
            ("function", "k", "pair"),
        ],
    ),
    (
        "rust",
        "struct S;\nimpl S {\n    fn m(&self) {}\n}\nfn f() {}\ntrait T {}\nmod inner {}\n",
        [
            ("class", "S", "struct_item"),
            ("method", "m", "function_item"),  # one tag: the method pattern comes first
            ("function", "f", "function_item"),
            ("interface", "T", "trait_item"),
            ("module", "inner", "mod_item"),
        ],
    ),
    (
        "go",
        "package p\n\ntype S struct{}\n\nfunc F() {}\n\nfunc (s S) M() {}\n",
        [
            ("type", "S", "type_spec"),
            ("function", "F", "function_declaration"),
            ("method", "M", "method_declaration"),
        ],
    ),
    (
        "java",
        "class A {\n  A() {}\n  void m() {}\n  enum E { X }\n  record R(int x) {}\n}\n"
        "interface I {}\n",
        [
            ("class", "A", "class_declaration"),
            ("method", "A", "constructor_declaration"),  # our supplement
            ("method", "m", "method_declaration"),
            ("class", "E", "enum_declaration"),  # our supplement
            ("class", "R", "record_declaration"),  # our supplement
            ("interface", "I", "interface_declaration"),
        ],
    ),
    (
        "c",
        "typedef struct { int x; } P;\nstruct Q { int y; };\nint f(void);\n"
        "int *g(int a) {\n  return 0;\n}\nenum E { X };\n",
        [
            ("type", "P", "type_definition"),
            ("class", "", "struct_specifier"),  # our supplement: no name
            ("class", "Q", "struct_specifier"),
            ("function", "f", "declaration"),  # the declarator, widened
            ("function", "g", "function_definition"),  # through the pointer declarator
            ("type", "E", "enum_specifier"),
        ],
    ),
    (
        "cpp",
        "class C {\n  void g();\n  void h() {}\n};\nvoid C::g() {}\nC::~C() {}\n",
        [
            ("class", "C", "class_specifier"),
            ("function", "g", "field_declaration"),
            ("function", "h", "function_definition"),
            ("method", "g", "function_definition"),
            ("function", "C::~C", "function_definition"),  # our supplement
        ],
    ),
]


@pytest.mark.parametrize(("grammar", "text", "expected"), DEFINITIONS)
def test_definitions_per_grammar(
    grammar: str, text: str, expected: list[tuple[str, str, str]]
) -> None:
    tree = parse(grammar, text)
    assert summary(tree, grammar) == expected
    tags = definitions(tree, grammar)
    assert [t.start_byte for t in tags] == sorted(t.start_byte for t in tags)
    assert all(t.role == "definition" for t in tags)


def test_named_function_expressions_are_not_definitions_unless_bound() -> None:
    text = "(function setup() {})();\nconst f = function g() {};\nitems.map(function each() {});\n"
    assert summary(parse("javascript", text), "javascript") == [
        ("function", "f", "variable_declarator")
    ]


def test_definitions_in_a_byte_range_include_the_enclosing_ones() -> None:
    text = "class A:\n    def m(self):\n        pass\n\n    def n(self):\n        pass\n"
    tree = parse("python", text)
    start = text.index("def n")
    names = [t.name for t in definitions(tree, "python", start, start + 5)]
    assert names == ["A", "n"]
    assert [t.name for t in definitions(tree, "python", 0, 1)] == ["A"]


def test_definition_of_a_node() -> None:
    text = "class A:\n    def m(self):\n        return [x for x in self]\n"
    tree = parse("python", text)
    method = tree.root_node.named_children[0].child_by_field_name("body")
    assert method is not None
    tag = definition_of(tree, "python", method.named_children[0])
    assert tag is not None and (tag.kind, tag.name, tag.end_byte) == (
        "function",
        "m",
        len(text) - 1,
    )
    assert definition_of(tree, "python", method) is None  # the class body is no definition


def test_doc_comments_are_stripped_and_adjacent() -> None:
    text = "// far away\n\n// first\n/** second */\nfunction f() {}\n\nclass K {}\n"
    (f, k) = definitions(parse("javascript", text), "javascript")
    assert f.name == "f" and f.doc == "first\nsecond */"  # tags.scm's own strip pattern
    assert k.doc == ""
    go = "package p\n\n// Sum adds.\n// Twice.\nfunc Sum() {}\n"
    (tag,) = definitions(parse("go", go), "go")
    assert (tag.name, tag.doc) == ("Sum", "Sum adds.\nTwice.")


def test_a_new_expression_is_a_call_and_a_class_reference() -> None:
    tree = parse("javascript", "new Foo(1);\n")
    assert sorted((t.kind, t.name, t.node.type) for t in references(tree, "javascript")) == [
        ("call", "Foo", "new_expression"),
        ("class", "Foo", "new_expression"),
    ]


def test_method_calls_widen_to_the_call() -> None:
    tree = parse("java", "class A { void m() { System.out.println(1); } }")
    (call,) = references(tree, "java")
    assert (call.kind, call.name, call.node.type) == ("call", "println", "method_invocation")


# ----- call_names: what actions' _calls(doc, target) returned ----------------------------------
# Each expected list is what the node-type walk in actions.py (`_calls`) returned for the same
# target; call_names must give the same list.

CALLS = [
    (
        "python",
        "a.py",
        "import json\n\n\nclass Store:\n    @cached(ttl=5)\n    def save(self, path, data):\n"
        "        path.write_text(json.dumps(data, indent=2))\n        handlers[kind](self)\n"
        "        return Result(  ok = True ).value()\n",
        (6, 10),
        ["cached", "path.write_text", "json.dumps", "handlers[kind]", "Result"],
    ),
    (
        "javascript",
        "a.js",
        "const fs = require('fs');\n\nclass Store extends Base {\n  constructor(path) {\n"
        "    super(path);\n    this.#load(fs.readFileSync(path));\n    handlers[0](new Map());\n"
        "    import('./x').then(m => m.go());\n  }\n  #load(data) {}\n}\n",
        (5, 6),
        ["super", "this.#load", "fs.readFileSync", "handlers[0]", "Map", "import", "m.go"],
    ),
    (
        "typescript",
        "a.ts",
        "export function total<T>(items: T[]): number {\n  const seen = new Set<T>();\n"
        "  return items.filter((i) => !seen.has(i)).reduce(add, 0) + count<T>(items)!;\n}\n",
        (1, 4),
        ["Set", "items.filter", "seen.has"],
    ),
    (
        "tsx",
        "a.tsx",
        "export const List = ({ items }: Props) => {\n  const [open, setOpen] = useState(false);\n"
        "  return <ul onClick={() => setOpen(!open)}>{items.map(render)}</ul>;\n};\n",
        (1, 4),
        ["useState", "setOpen", "items.map"],
    ),
    (
        "rust",
        "a.rs",
        "impl Store {\n    fn save(&self) -> io::Result<()> {\n        let v = Vec::new();\n"
        "        let n = self.items.iter().map(|x| x.len()).collect::<Vec<_>>();\n"
        '        println!("{}", fmt(n));\n        std::fs::write(&self.path, v)?;\n'
        "        (self.hook)(1);\n        Ok(())\n    }\n}\n",
        (2, 8),
        ["Vec::new", "self.items.iter", "x.len", "println", "std::fs::write", "Ok"],
    ),
    (
        "go",
        "a.go",
        'package p\n\nimport "fmt"\n\nfunc (s *Store) Save(name string) error {\n'
        "\tdata := make([]byte, 0, len(name))\n\tfmt.Println(strings.ToUpper(name))\n"
        "\ts.hooks[0](data)\n\treturn s.write(data)\n}\n",
        (5, 4),
        ["make", "len", "fmt.Println", "strings.ToUpper", "s.hooks[0]", "s.write"],
    ),
    (
        "java",
        "A.java",
        "class Store {\n  void save(String path) throws IOException {\n"
        "    List<String> lines = new ArrayList<>();\n    System.out.println(path.trim());\n"
        "    Files.write(Paths.get(path), lines);\n    this.flush();\n    helper();\n  }\n}\n",
        (3, 6),
        ["System.out.println", "path.trim", "Files.write", "Paths.get", "this.flush", "helper"],
    ),
    (
        "c",
        "a.c",
        "#include <stdio.h>\n\nstatic int save(struct store *s, const char *path) {\n"
        '  FILE *f = fopen(path, "w");\n  fprintf(f, "%d", count(s));\n  s->hooks[0](s);\n'
        "  s->flush(s);\n  return fclose(f);\n}\n",
        (3, 4),
        ["fopen", "fprintf", "count", "s->hooks[0]", "s->flush", "fclose"],
    ),
    (
        "cpp",
        "a.cpp",
        "namespace io {\nbool Store::save(const std::string &path) {\n"
        "  auto out = std::make_unique<Writer>(path);\n  std::sort(items_.begin(), items_.end());\n"
        "  out->write(format(items_));\n  auto p = new Buffer(4);\n"
        "  return flush<true>(*out);\n}\n}\n",
        (3, 4),
        [
            "std::make_unique<Writer>",
            "std::sort",
            "items_.begin",
            "items_.end",
            "out->write",
            "format",
            "flush<true>",
        ],
    ),
    # the inputs of tests/unit/test_actions.py
    (
        "python",
        "s.py",
        "import json\n\n\ndef save(path, data):\n    path.write_text(json.dumps(data))\n",
        (4, 6),
        ["path.write_text", "json.dumps"],
    ),
    (
        "python",
        "orders.py",
        '"""Orders."""\n\n\nclass Orders:\n    def skus(self, items):\n        result = []\n'
        "        for item in items:\n            result.append(item.sku)\n        return result\n\n"
        "    def total(self, order):\n        total = 0\n        for line in order.lines:\n"
        "            total += line.price\n        return totl\n",
        (6, 10),
        ["result.append"],
    ),
]


def calls_of(doc: Document, cursor: tuple[int, int]) -> list[str]:
    """What the explain action lists as the target's calls (through call_names)."""
    target = code_target(doc, at(doc, *cursor))
    assert target is not None
    return explain_calls(doc, target)


@pytest.mark.parametrize(("grammar", "name", "text", "cursor", "expected"), CALLS)
def test_call_names_are_what_actions_listed(
    grammar: str, name: str, text: str, cursor: tuple[int, int], expected: list[str]
) -> None:
    assert calls_of(open_doc(grammar, name, text), cursor) == expected


def test_call_names_stop_at_the_limit_and_skip_duplicates() -> None:
    body = "".join(f"    f{i}(f{i}())\n" for i in range(20))
    text = f"def g():\n{body}"
    tree = parse("python", text)
    assert call_names(tree, "python", 0, len(text)) == [f"f{i}" for i in range(15)]
    assert call_names(tree, "python", 0, len(text), limit=3) == ["f0", "f1", "f2"]


def test_call_names_of_a_partly_covered_call() -> None:
    text = "x = outer(\n    inner(1),\n)\nlater()\n"
    tree = parse("python", text)
    start = text.index("inner")
    assert call_names(tree, "python", start, start + 5) == ["outer", "inner"]


# ----- what targets and doc comments get from tags.scm -----------------------------------------
# (kind, name, first line) of code_target and doc_target at the cursor: the same as with the
# node-type tables they had before, except that a C enum is now documented (tags.scm calls it
# a definition; Java and Rust enums were documented already).

TARGETS = [
    (
        "javascript",
        "a.js",
        "class A {\n  constructor(xs) {\n    xs.forEach((x) => {\n"
        "      this.add(x);\n    });\n  }\n}\n",
        (3, 6),
        ("method_definition", "constructor", 1),
        ("method_definition", "constructor", 1),
    ),
    (
        "javascript",
        "b.js",
        "class A {\n  #load(xs) {\n    xs.forEach((x) => {\n      this.add(x);\n    });\n  }\n}\n",
        (3, 6),
        ("method_definition", "#load", 1),
        ("method_definition", "#load", 1),
    ),
    (
        "javascript",
        "c.js",
        "(function setup() {\n  items.forEach((x) => {\n    use(x);\n  });\n})();\n",
        (2, 4),
        ("arrow_function", "", 1),
        None,
    ),
    (
        "javascript",
        "d.js",
        "const g = function* () {\n  yield 1;\n};\n",
        (1, 2),
        ("generator_function", "g", 0),
        ("generator_function", "g", 0),
    ),
    (
        "javascript",
        "e.js",
        'const api = {\n  "on": () => {\n    go();\n  },\n};\n',
        (2, 4),
        ("arrow_function", "", 1),
        ("arrow_function", "", 0),
    ),
    (
        "typescript",
        "f.ts",
        "class K {\n  handle = () => {\n    go();\n  };\n}\n",
        (2, 4),
        ("arrow_function", "", 1),
        ("arrow_function", "", 1),
    ),
    (
        "typescript",
        "h.ts",
        "namespace N {\n  export const x = 1;\n}\n",
        (1, 4),
        ("internal_module", "N", 0),
        None,
    ),
    (
        "java",
        "A.java",
        "class A {\n  A(List<String> xs) {\n    xs.forEach(x -> {\n"
        "      add(x);\n    });\n  }\n}\n",
        (3, 6),
        ("constructor_declaration", "A", 1),
        ("constructor_declaration", "A", 1),
    ),
    (
        "java",
        "B.java",
        "enum Color {\n  RED;\n  int code() { return 1; }\n}\n",
        (1, 2),
        ("enum_declaration", "Color", 0),
        ("enum_declaration", "Color", 0),
    ),
    (
        "java",
        "C.java",
        "record Point(int x, int y) {\n  Point {\n    check(x);\n  }\n}\n",
        (2, 4),
        ("compact_constructor_declaration", "Point", 1),
        ("record_declaration", "Point", 0),
    ),
    (
        "c",
        "a.c",
        "typedef struct {\n  int x;\n} P;\n",
        (1, 2),
        ("struct_specifier", "", 0),
        ("struct_specifier", "", 0),
    ),
    (
        "c",
        "b.c",
        "enum E {\n  X,\n  Y\n};\n",
        (1, 2),
        ("enum_specifier", "E", 0),
        ("enum_specifier", "E", 0),  # new: tags.scm's @definition.type
    ),
    (
        "cpp",
        "a.cpp",
        "Foo::~Foo() {\n  auto f = [this]() {\n    close();\n  };\n}\n",
        (2, 4),
        ("function_definition", "Foo::~Foo", 0),
        ("function_definition", "Foo::~Foo", 0),
    ),
    (
        "rust",
        "a.rs",
        "impl S {\n    fn m(&self) {\n        self.xs.iter().for_each(|x| {\n"
        "            go(x);\n        });\n    }\n}\n",
        (3, 12),
        ("function_item", "m", 1),
        ("function_item", "m", 1),
    ),
    (
        "go",
        "a.go",
        "package p\n\nfunc (s *S) M() {\n\tgo func() {\n\t\trun()\n\t}()\n}\n",
        (4, 2),
        ("method_declaration", "M", 2),
        ("method_declaration", "M", 2),
    ),
    (
        "go",
        "b.go",
        "package p\n\ntype S struct {\n\ta int\n}\n",
        (3, 1),
        ("type_spec", "S", 2),
        ("type_spec", "S", 2),
    ),
    (
        "python",
        "a.py",
        "class A:\n    def m(self):\n        def inner():\n"
        "            return 1\n        return inner\n",
        (3, 12),
        ("function_definition", "inner", 2),
        ("function_definition", "inner", 2),
    ),
]


@pytest.mark.parametrize(("grammar", "name", "text", "cursor", "code", "documented"), TARGETS)
def test_targets_and_doc_comments_from_tags(
    grammar: str,
    name: str,
    text: str,
    cursor: tuple[int, int],
    code: tuple[str, str, int],
    documented: tuple[str, str, int] | None,
) -> None:
    doc = open_doc(grammar, name, text)
    target = code_target(doc, at(doc, *cursor))
    assert target is not None and (target.kind, target.name, target.first_line) == code
    found = doc_target(doc, at(doc, *cursor).start)
    got = (found.kind, found.name, found.definition.first_line) if found is not None else None
    assert got == documented


def test_is_function() -> None:
    text = "const f = () => 1;\nfunction g() {}\n"
    tree = parse("javascript", text)
    declaration, function = tree.root_node.named_children
    declarator = declaration.named_children[0]
    arrow = declarator.child_by_field_name("value")
    assert arrow is not None
    assert not is_function(tree, "javascript", arrow)  # tagged through its declarator
    assert is_function(tree, "javascript", function)
