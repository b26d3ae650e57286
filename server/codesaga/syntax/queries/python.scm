; CodeSaga's supplement to tree-sitter-python's queries/tags.scm: a call through a subscript
; (`handlers[kind](event)`) is a call too (the explain prompt lists every callee).
(call
  function: (subscript) @name) @reference.call
