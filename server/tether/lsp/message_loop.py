"""The read loop of the language server: frames in, messages to pygls, an answer for every id.

Replaces pygls' `run_async`, which dropped a request silently when its params did not fit
the method's type (`workspace/executeCommand` with `arguments: 5` or `params: null`) and
trusted every header (see `framing`). Here every request with an id is answered: params
that cannot be structured get InvalidParams, a message that is no JSON-RPC request gets
InvalidRequest, and input that is no message at all gets an error with a null id; each is
also logged with the reason. Everything after a bad message is read as usual.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from pygls.exceptions import JsonRpcException

from tether.lsp.framing import INVALID_REQUEST, PARSE_ERROR, Frame, FramingError, MessageFramer

if TYPE_CHECKING:
    from pygls.protocol import JsonRPCProtocol

logger = logging.getLogger(__name__)

INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
_READ_SIZE = 65536


async def read_messages(
    stop: threading.Event, reader: asyncio.StreamReader, protocol: JsonRPCProtocol
) -> None:
    """Read until EOF (or `stop`), handing each well-formed message to `protocol`."""
    framer = MessageFramer()
    while not stop.is_set():
        data = await reader.read(_READ_SIZE)
        if not data:
            return
        for item in framer.feed(data):
            if isinstance(item, FramingError):
                logger.warning("refused input: %s", item.message)
                send_error(protocol, None, item.code, item.message)
            else:
                dispatch(protocol, item)


def dispatch(protocol: JsonRPCProtocol, frame: Frame) -> None:
    """Structure one body and hand it to pygls; answer what pygls would leave unanswered."""
    try:
        raw = json.loads(frame.body)
    except ValueError as error:  # also UnicodeDecodeError
        _refuse(protocol, None, PARSE_ERROR, f"message body is not JSON ({error})")
        return
    if not isinstance(raw, dict) or raw.get("jsonrpc") != "2.0":
        request_id = _request_id(raw) if isinstance(raw, dict) else None
        _refuse(protocol, request_id, INVALID_REQUEST, "not a JSON-RPC 2.0 message")
        return
    request_id = _request_id(raw)
    method = raw.get("method")
    if "method" in raw and not isinstance(method, str):
        _refuse(protocol, request_id, INVALID_REQUEST, "method must be a string")
        return
    if "id" in raw and "method" in raw and request_id is None:
        _refuse(protocol, None, INVALID_REQUEST, f"{method}: id must be a number or a string")
        return
    try:
        message = protocol.structure_message(raw)
    except JsonRpcException as error:  # InvalidParams, or InternalError for odd shapes
        if request_id is not None and method is not None:
            detail = f"{method}: params do not fit the method ({_cause(error)})"
            _refuse(protocol, request_id, INVALID_PARAMS, detail)
        else:
            logger.warning("dropped an unreadable %s: %s", method or "message", _cause(error))
        return
    if request_id is not None and method is not None and _shutting_down(protocol, method):
        _refuse(protocol, request_id, INVALID_REQUEST, f"{method}: the server is shutting down")
        return
    try:
        protocol.handle_message(message)
    except Exception as error:  # a handler bug must not end the loop nor go unanswered
        logger.exception("handling %s failed", method or "a message")
        if request_id is not None and method is not None:
            send_error(protocol, request_id, INTERNAL_ERROR, f"{method}: {_cause(error)}")


RequestId = int | str | None


def send_error(protocol: JsonRPCProtocol, request_id: RequestId, code: int, text: str) -> None:
    """Answer with a JSON-RPC error (id null when the request could not be identified)."""
    response = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": text}}
    protocol._send_data(response)  # pygls' one writer: framing and the output lock


def _refuse(protocol: JsonRPCProtocol, request_id: RequestId, code: int, text: str) -> None:
    subject = "input" if request_id is None else f"request {request_id!r}"
    logger.warning("refused %s: %s", subject, text)
    send_error(protocol, request_id, code, text)


def _request_id(raw: dict[str, Any]) -> RequestId:
    value = raw.get("id")
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return value


def _shutting_down(protocol: JsonRPCProtocol, method: str) -> bool:
    """pygls ignores requests after `shutdown` without a word; they get an error instead."""
    return bool(getattr(protocol, "_shutdown", False)) and method != "exit"


def _cause(error: BaseException) -> str:
    """The innermost cause, on one line (cattrs wraps the real reason in groups)."""
    while error.__cause__ is not None:
        error = error.__cause__
    exceptions = getattr(error, "exceptions", None)
    while exceptions:
        error = exceptions[0]
        exceptions = getattr(error, "exceptions", None)
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:200]
