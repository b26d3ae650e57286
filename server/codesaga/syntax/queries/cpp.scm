; CodeSaga's supplement to tree-sitter-cpp's queries/tags.scm.

; Every function declarator: tags.scm only names plain, member and `ns::f` ones, which leaves
; out destructors, operators, `a::B::f` and `C<T>::f`.
(function_declarator
  declarator: (_) @name) @definition.function

; A class with a body is a definition even without a name (tags.scm needs one).
(class_specifier
  body: (_)) @definition.class
