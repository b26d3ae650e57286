; CodeSaga's supplement to tree-sitter-javascript's queries/tags.scm (also read for TypeScript
; and TSX). Each pattern keeps something CodeSaga relied on before it read tags.scm.

; Every method, whatever its name: tags.scm leaves out `constructor`, `#private` and computed
; names, but a cursor in a constructor still means "this method".
(method_definition
  name: (_) @name) @definition.method

; Functions bound to a name: tags.scm has arrow functions and function expressions bound in
; declarations, to identifiers/properties and to plain object keys; generator functions,
; string keys and subscript targets count too.
(variable_declarator
  name: (_) @name
  value: [(arrow_function) (function_expression) (generator_function)]) @definition.function

(pair
  key: (_) @name
  value: [(arrow_function) (function_expression) (generator_function)]) @definition.function

(assignment_expression
  left: (_) @name
  right: [(arrow_function) (function_expression) (generator_function)]) @definition.function

; Calls tags.scm leaves out (the explain prompt lists every callee): `super(...)`, dynamic
; `import(...)`, `require(...)` (tags.scm drops it on purpose), calls through a subscript,
; `#private` methods, and `new C(...)` (tagged @reference.class there).
(call_expression
  function: [(super) (import) (subscript_expression)] @name) @reference.call

((call_expression
  function: (identifier) @name) @reference.call
  (#eq? @name "require"))

(call_expression
  function: (member_expression
    property: (private_property_identifier) @name)) @reference.call

(new_expression
  constructor: (_) @name) @reference.call
