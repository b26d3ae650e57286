"""The one place where a :class:`~codesaga.errors.CodeSagaError` becomes a protocol answer.

Every handler in ``lsp/`` is wrapped by :func:`answers` (requests and commands: the error
becomes the JSON-RPC error of the reply, with the error's code and its message in the user's
language) or :func:`notices` (notifications, which have no reply: the message is shown with
``window/showMessage``, unless it is InvalidParams, the client's mistake, which is only
logged: a ``didChange`` for a document never opened, say). Either way the error is logged
once and the server goes on serving.
Exceptions that are not CodeSagaErrors are bugs; they are left to pygls, which logs them and
answers InternalError.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from pygls.exceptions import JsonRpcException

from codesaga.errors import CodeSagaError, ErrorCode

if TYPE_CHECKING:
    from codesaga.lsp.server import CodeSagaServer

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def rpc_error(ls: CodeSagaServer, exc: CodeSagaError) -> JsonRpcException:
    """``exc`` as the JSON-RPC error a request is answered with: its code, and its message in
    the user's language prefixed with "CodeSaga: "."""
    return JsonRpcException(f"CodeSaga: {exc.text(ls.language)}", code=int(exc.code))


def _logged(exc: CodeSagaError) -> None:
    level = logging.DEBUG if exc.code == ErrorCode.REQUEST_CANCELLED else logging.INFO
    log.log(level, "%s: %s", type(exc).__name__, exc.message)


def _guarded(
    handler: Callable[P, R], on_error: Callable[[Any, CodeSagaError], Any]
) -> Callable[P, R]:
    """``handler`` (sync or async, called as ``(ls, *args)``) with a CodeSagaError it raises
    passed to ``on_error(ls, error)``, whose result (or exception) is the handler's."""
    if inspect.iscoroutinefunction(handler):
        coroutine = cast(Callable[..., Awaitable[Any]], handler)

        @functools.wraps(handler)
        async def wrapped_async(ls: CodeSagaServer, *args: Any) -> Any:
            try:
                return await coroutine(ls, *args)
            except CodeSagaError as exc:
                return on_error(ls, exc)

        return cast(Callable[P, R], wrapped_async)

    @functools.wraps(handler)
    def wrapped(ls: CodeSagaServer, *args: Any) -> Any:
        try:
            return cast(Callable[..., Any], handler)(ls, *args)
        except CodeSagaError as exc:
            return on_error(ls, exc)

    return cast(Callable[P, R], wrapped)


def _reply_error(ls: CodeSagaServer, exc: CodeSagaError) -> None:
    _logged(exc)
    raise rpc_error(ls, exc) from exc


def _show_error(ls: CodeSagaServer, exc: CodeSagaError) -> None:
    if exc.code == ErrorCode.INVALID_PARAMS:  # the client's mistake: nothing for the user to do
        log.warning("%s ignored: %s", type(exc).__name__, exc.message)
        return
    ls.show(f"CodeSaga: {exc.text(ls.language)}", error=True)


def answers(handler: Callable[P, R]) -> Callable[P, R]:
    """Wrap a request or command handler ``(ls, *args)``, sync or async: a CodeSagaError it
    raises becomes the reply's JSON-RPC error (see :func:`rpc_error`)."""
    return _guarded(handler, _reply_error)


def notices(handler: Callable[P, R]) -> Callable[P, R]:
    """Wrap a notification handler ``(ls, params)``, sync or async: a CodeSagaError it raises
    is shown to the user (``window/showMessage``, as an error), or only logged (once, as a
    warning) when it is InvalidParams; the handler returns None."""
    return _guarded(handler, _show_error)


PYGLS_LOGGER = "pygls.protocol.json_rpc"
"""The logger pygls writes a traceback to for every request answered with an error."""


class AnsweredOnPurpose(logging.Filter):
    """Drops pygls's traceback for a request error raised on purpose by :func:`answers` (a
    JsonRpcException caused by a CodeSagaError), which this module has logged once already."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, JsonRpcException) and isinstance(exc.__cause__, CodeSagaError))


def quiet_pygls() -> None:
    """Install :class:`AnsweredOnPurpose` on pygls's protocol logger (once)."""
    logger = logging.getLogger(PYGLS_LOGGER)
    if not any(isinstance(f, AnsweredOnPurpose) for f in logger.filters):
        logger.addFilter(AnsweredOnPurpose())
