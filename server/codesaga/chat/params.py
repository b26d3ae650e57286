"""What a chat request carries, validated by pydantic models (the one validation mechanism for
chat input); malformed input raises InvalidParams naming the field.

Shapes (JSON, camelCase as the client sends them):

* a chat turn, :class:`ChatParams`: ``{sessionId?, message, textDocument?: {uri}, range?:
  {start, end}}`` (positions ``{line, character}``: non-negative integers in the document's
  position encoding), plus the optional LSP ``workDoneToken`` / ``partialResultToken``; a bare
  string is the message of a new session;
* a session id, :data:`SessionId`: a non-blank string of at most MAX_SESSION_ID characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from lsprotocol import types
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
    line: StrictInt = Field(ge=0)
    character: StrictInt = Field(ge=0)


class RangeParams(_Params):
    start: PositionParams
    end: PositionParams


class DocumentParams(_Params):
    uri: StrictStr


@dataclass(frozen=True)
class ChatArgs:
    """A validated chat turn (``selection`` in the document's position encoding)."""

    message: str
    session_id: str | None = None
    uri: str | None = None
    selection: types.Range | None = None


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

    def args(self) -> ChatArgs:
        """The turn for :class:`codesaga.chat.service.ChatService`."""
        selection = None
        if self.range is not None:
            start, end = self.range.start, self.range.end
            selection = types.Range(
                start=types.Position(line=start.line, character=start.character),
                end=types.Position(line=end.line, character=end.character),
            )
        return ChatArgs(
            message=self.message,
            session_id=self.session_id,
            uri=self.text_document.uri if self.text_document else None,
            selection=selection,
        )


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
