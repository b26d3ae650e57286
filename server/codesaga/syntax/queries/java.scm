; CodeSaga's supplement to tree-sitter-java's queries/tags.scm: constructors, enums and
; records are definitions too (a cursor in a constructor means "this constructor"; enums and
; records get Javadoc like classes).
(constructor_declaration
  name: (identifier) @name) @definition.method

(enum_declaration
  name: (identifier) @name) @definition.class

(record_declaration
  name: (identifier) @name) @definition.class
