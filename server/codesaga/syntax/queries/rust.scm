; CodeSaga's supplement to tree-sitter-rust's queries/tags.scm: calls through a path or with a
; turbofish (`Vec::new()`, `iter.collect::<Vec<_>>()`) and path macros (`std::println!`).
(call_expression
  function: [(scoped_identifier) (generic_function)] @name) @reference.call

(macro_invocation
  macro: (scoped_identifier) @name) @reference.call

; A call through an index (`handlers[0](x)`).
(call_expression
  function: (index_expression) @name) @reference.call
