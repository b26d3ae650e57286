"""Code actions without the protocol: one module per action, behind offer -> plan -> finish.

========== ================================ ==============================================
id         LSP kind                         result
========== ================================ ==============================================
refactor   ``refactor.rewrite``             edit: the selection or enclosing function
fix        ``quickfix``                     edit: smallest statement around a diagnostic
docstring  ``refactor.rewrite``             edit: a doc comment in the language's style
explain    ``source.codesaga.explain``      Markdown file + ``window/showDocument``
review     ``source.codesaga.review``       findings, published as diagnostics
apply      ``quickfix``                     edit: a review finding's one-line fix (no model)
========== ================================ ==============================================

Explain and review change no code, so they are neither ``refactor`` nor ``quickfix``; the
``source.codesaga.*`` kinds keep them out of "fix all" and refactor menus while clients can
still ask for them with ``context.only = ["source"]``.

Modules: :mod:`~codesaga.actions.base` (the interface each action module follows),
:mod:`~codesaga.actions.data` (ids, kinds, the data carried in ``CodeAction.data``),
:mod:`~codesaga.actions.messages` (the user's messages, ``prompts/actions/messages.yaml``),
:mod:`~codesaga.actions.jobs` (prompt messages and token budgets),
:mod:`~codesaga.actions.edits` (edits from a model's code),
:mod:`~codesaga.actions.catalogue` (what a request lists; which module plans each action),
one module per action, and :mod:`~codesaga.actions.run` (version checks, the model call with
progress, the review retry). Prompts are ``prompts/actions/<id>.yaml``.

Listing never touches the model. An answer that yields nothing usable raises
:class:`ActionRefused` with a message for the user; an action whose document version changed
is refused. Offsets are ``str`` indices into the document text; token counts are model tokens.
"""

from __future__ import annotations

from codesaga.actions.data import ActionData, ActionError, ActionRefused, Problem

__all__ = ["ActionData", "ActionError", "ActionRefused", "Problem"]
