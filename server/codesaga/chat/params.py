"""What a chat request carries, validated by pydantic models (the one validation mechanism for
chat input); malformed input raises InvalidParams naming the field.

Shapes (JSON, camelCase as the client sends them):

* a chat turn, :class:`ChatParams`: ``{sessionId?, message, textDocument?: {uri}, range?:
  {start, end}}`` (positions ``{line, character}``: non-negative integers in the document's
  position encoding), plus the optional LSP ``workDoneToken`` / ``partialResultToken``; a bare
  string is the message of a new session;
* a session id, :data:`SessionId`: 32 hex digits as the server issues them, or a hyphenated
  UUID (:func:`codesaga.chat.store.check_session_id`).

The range stays in the client's units here (:class:`RangeParams`); the protocol layer decodes
it into str offsets with the document it belongs to (:func:`codesaga.lsp.chat.chat_turn`) and
hands the service a :class:`ChatArgs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from codesaga.chat.store import check_session_id
from codesaga.documents.span import TextSpan
from codesaga.errors import InvalidParams
from codesaga.validation import describe

T = TypeVar("T")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


SessionId = Annotated[StrictStr, AfterValidator(check_session_id)]
"""A session id (the rule is :func:`codesaga.chat.store.check_session_id`)."""
Message = Annotated[StrictStr, AfterValidator(_not_blank)]
ProgressToken = StrictInt | StrictStr


class _Params(BaseModel):
    """Strict types (no coercion of ``"3"`` to 3); unknown keys are ignored."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class PositionParams(_Params):
    """An LSP position: 0-based ``line`` and ``character`` in the document's position
    encoding (UTF-16 code units by default)."""

    line: StrictInt = Field(ge=0)
    character: StrictInt = Field(ge=0)


class RangeParams(_Params):
    """An LSP range ``{start, end}``."""

    start: PositionParams
    end: PositionParams


class DocumentParams(_Params):
    uri: StrictStr


@dataclass(frozen=True)
class ChatArgs:
    """A validated chat turn; ``selection`` is str offsets (code points) into the open
    document ``uri``'s text (``None``: no range given)."""

    message: str
    session_id: str | None = None
    uri: str | None = None
    selection: TextSpan | None = None


class ChatParams(_Params):
    """``{sessionId?, message, textDocument?, range?, workDoneToken?, partialResultToken?}``;
    ``range`` needs ``textDocument``."""

    session_id: SessionId | None = Field(None, alias="sessionId")
    message: Message
    text_document: DocumentParams | None = Field(None, alias="textDocument")
    range: RangeParams | None = None
    work_done_token: ProgressToken | None = Field(None, alias="workDoneToken")
    partial_result_token: ProgressToken | None = Field(None, alias="partialResultToken")

    @model_validator(mode="before")
    @classmethod
    def _bare_message(cls, value: Any) -> Any:
        return {"message": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _range_needs_document(self) -> ChatParams:
        if self.range is not None and self.text_document is None:
            raise ValueError("range needs a textDocument")
        return self


def validated(adapter: TypeAdapter[T], raw: Any, what: str) -> T:
    """``raw`` (JSON-like data) validated by ``adapter``.

    Raises InvalidParams ``"<what>: <field>: <problem>"`` when it does not match.
    """
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        raise InvalidParams(f"{what}: {describe(exc)}") from None


_CHAT_PARAMS = TypeAdapter(ChatParams)
_SESSION_ID: TypeAdapter[str] = TypeAdapter(SessionId)


def chat_params(raw: Any) -> ChatParams:
    """A chat turn from ``raw`` (an object, or a bare message string); InvalidParams when
    malformed."""
    return validated(_CHAT_PARAMS, raw, "chat params {sessionId?, message, textDocument?, range?}")


def session_id(raw: Any) -> str:
    """A session id from ``raw``; InvalidParams when it is not one."""
    return validated(_SESSION_ID, raw, "sessionId")


def one_argument(args: tuple[Any, ...], what: str) -> Any:
    """The single argument of a command; InvalidParams naming ``what`` otherwise."""
    if len(args) != 1:
        raise InvalidParams(f"expected one argument: {what}")
    return args[0]
