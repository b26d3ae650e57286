; CodeSaga's supplement to tree-sitter-go's queries/tags.scm: a call through an index
; (`handlers[kind](x)`, also generic instantiations `Map[K, V](m)`) is a call too.
(call_expression
  function: (index_expression) @name) @reference.call
