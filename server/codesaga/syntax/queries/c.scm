; CodeSaga's supplement to tree-sitter-c's queries/tags.scm (also read for C++).

; tags.scm tags no calls at all.
(call_expression
  function: (_) @name) @reference.call

; A struct with a body is a definition even without a name (`typedef struct { ... } T;`);
; it has no @name, so its name is "".
(struct_specifier
  body: (_)) @definition.class
