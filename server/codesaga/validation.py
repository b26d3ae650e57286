"""One-line, user-facing summaries of pydantic validation errors (settings, chat params,
prompt files)."""

from __future__ import annotations

from pydantic import ValidationError

_OBJECT_TYPES = {"model_type", "model_attributes_type", "dict_type", "dataclass_type"}


def describe(error: ValidationError) -> str:
    """Each problem of ``error`` as ``field.path: what is wrong``, joined by ``"; "``; field
    names as the input spells them (``range.start.line``, ``system.ko``)."""
    parts = []
    for err in error.errors():
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "value_error" and "error" in err.get("ctx", {}):
            what = str(err["ctx"]["error"])
        elif err["type"] in _OBJECT_TYPES:
            what = "must be an object"
        else:
            what = err["msg"]
        parts.append(f"{where}: {what}" if where else what)
    return "; ".join(parts)
