"""The stdio transport: protocol on private file descriptors, nothing else on stdout.

A stray `print`, a logging handler or a child process that writes to fd 1 would corrupt
the LSP stream, so the real stdout is duplicated to a private descriptor for the protocol
and fd 1 is pointed at stderr; fd 0 is swapped for /dev/null so that no child can eat
protocol input. Input is read by a daemon thread (portable, and it cannot keep the
process alive at exit the way a thread-pool reader blocked on stdin would).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from dataclasses import dataclass
from typing import BinaryIO

_CHUNK = 65536


@dataclass
class ProtocolStreams:
    input_fd: int
    output: BinaryIO


def claim_stdio() -> ProtocolStreams:
    """Move the protocol to private descriptors; fd 0 becomes /dev/null, fd 1 stderr."""
    sys.stdout.flush()
    input_fd = os.dup(0)
    output_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return ProtocolStreams(input_fd, os.fdopen(output_fd, "wb", buffering=0))


class ProtocolWriter:
    """pygls' writer interface over the private stdout descriptor."""

    def __init__(self, output: BinaryIO) -> None:
        self._output = output

    def write(self, data: bytes) -> None:
        self._output.write(data)

    def close(self) -> None:
        if not self._output.closed:
            self._output.close()


def start_reader(input_fd: int, loop: asyncio.AbstractEventLoop) -> asyncio.StreamReader:
    """An asyncio StreamReader fed from `input_fd` by a daemon thread; EOF is fed through."""
    reader = asyncio.StreamReader(limit=2**24)

    def pump() -> None:
        while True:
            try:
                chunk = os.read(input_fd, _CHUNK)
            except OSError:
                chunk = b""
            try:
                if not chunk:
                    loop.call_soon_threadsafe(reader.feed_eof)
                    return
                loop.call_soon_threadsafe(reader.feed_data, chunk)
            except RuntimeError:
                return  # the loop is closed: the server is exiting

    threading.Thread(target=pump, name="tether-lsp-stdin", daemon=True).start()
    return reader
