; CodeSaga's supplement to tree-sitter-typescript's queries/tags.scm (TypeScript and TSX).

; A class field holding a function (`handle = () => {...}`) is documented like a method.
(public_field_definition
  name: (_) @name
  value: [(arrow_function) (function_expression) (generator_function)]) @definition.function
