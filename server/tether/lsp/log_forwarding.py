"""tether's log records as `window/logMessage`; pygls' own chatter stays on stderr.

Debug records go out as MessageType.Log (the proposed Debug type is not widely supported).
A reentrancy guard keeps a record logged while sending a message from looping back.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

LEVELS = {
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}


class LogMessageHandler(logging.Handler):
    def __init__(self, server: LanguageServer) -> None:
        super().__init__()
        self._server = server
        self._local = threading.local()
        self._loop_thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        from lsprotocol import types

        if getattr(self._local, "busy", False):
            return
        if record.levelno >= logging.ERROR:
            kind = types.MessageType.Error
        elif record.levelno >= logging.WARNING:
            kind = types.MessageType.Warning
        elif record.levelno >= logging.INFO:
            kind = types.MessageType.Info
        else:
            kind = types.MessageType.Log
        params = types.LogMessageParams(type=kind, message=self.format(record))
        self._local.busy = True
        try:
            if threading.get_ident() == self._loop_thread:
                self._server.window_log_message(params)
            else:
                # Records from worker threads are sent from the event loop's thread.
                loop = getattr(self._server, "loop", None)
                if loop is not None and not loop.is_closed():
                    loop.call_soon_threadsafe(self._server.window_log_message, params)
        except (OSError, RuntimeError, ValueError):
            pass  # the client is gone; nothing left to tell it
        finally:
            self._local.busy = False


def install_logging(server: LanguageServer, level: str) -> LogMessageHandler:
    """Route the `tether` logger to the client at `level`; pygls logs warnings to stderr."""
    handler = LogMessageHandler(server)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    tether_logger = logging.getLogger("tether")
    tether_logger.addHandler(handler)
    tether_logger.propagate = False
    set_log_level(level)
    stderr = logging.StreamHandler()
    stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    stderr.addFilter(drop_answered_request_errors)
    pygls_logger = logging.getLogger("pygls")
    pygls_logger.addHandler(stderr)
    pygls_logger.setLevel(logging.WARNING)
    pygls_logger.propagate = False
    return handler


def set_log_level(level: str) -> None:
    logging.getLogger("tether").setLevel(LEVELS.get(level, logging.INFO))


def drop_answered_request_errors(record: logging.LogRecord) -> bool:
    """pygls logs a traceback for every request answered with an error; invalid params and
    cancelled requests are answers, not faults (the client has the one-line message)."""
    from lsprotocol.types import ErrorCodes, LSPErrorCodes
    from pygls.exceptions import JsonRpcException

    error = record.exc_info[1] if record.exc_info else None
    expected = (ErrorCodes.InvalidParams, LSPErrorCodes.RequestCancelled)
    return not (isinstance(error, JsonRpcException) and error.code in expected)
