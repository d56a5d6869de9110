"""LSP base-protocol framing that survives bad input: `Content-Length` headers, then bodies.

pygls' own loop trusts every header: one wrong `Content-Length` made it swallow the next
messages as body (alive but deaf), and a header line longer than the stream's 16 MiB
limit ended the process. This framer never waits on a guess it can check:

- A body can never contain a raw `Content-Length: N\\r\\n` (JSON forbids raw line breaks
  inside strings, and the words are no JSON outside one), so one found inside a body
  means the declared length was wrong: the broken message is reported and reading
  resynchronises on that header, whether the length was too long or too short.
- Bytes that are no message are skipped up to the next header; a long run of them, a
  header block over `MAX_HEADER_BYTES` or a body over `MAX_BODY_BYTES` is refused with
  an error, and reading goes on. Memory stays bounded by those limits.

Every search resumes where the previous one stopped, so a hostile stream costs linear time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_HEADER_BYTES = 8 * 1024
"""Longest header block (all header lines) accepted; real clients send under 100 bytes."""
MAX_BODY_BYTES = 32 * 1024 * 1024
"""Largest message body accepted."""
PARSE_ERROR = -32700
INVALID_REQUEST = -32600

_HEADER = re.compile(rb"content-length:[ \t]{0,8}(\d{1,12})[ \t]{0,8}\r\n", re.IGNORECASE)
_HEADER_NAME = b"content-length:"
# What may follow the name in a header cut off by the end of the input so far.
_HEADER_TAIL_PREFIX = re.compile(rb"[ \t]{0,8}(\d{1,12}([ \t]{0,8}\r?)?)?")
_HEADER_LINE_MAX = 15 + 8 + 12 + 8 + 2
_OVERLAP = 64  # more than a header line: a header split across two reads is still found


@dataclass(frozen=True)
class Frame:
    """One message body, as declared by its header."""

    body: bytes


@dataclass(frozen=True)
class FramingError:
    """Input that is no message; answered with an error (id null) and logged."""

    code: int
    message: str


class MessageFramer:
    """Feed it bytes as they arrive; it returns the frames and errors they complete."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._body_length: int | None = None  # None while looking for a header
        self._scanned = 0  # in a body: offset up to which no header was found
        self._skipped = 0  # bytes of the current run of input that is no message
        self._reported = False  # that run has had its error

    def feed(self, data: bytes) -> list[Frame | FramingError]:
        self._buffer += data
        found: list[Frame | FramingError] = []
        while self._read_header(found) if self._body_length is None else self._read_body(found):
            pass
        return found

    def _read_header(self, found: list[Frame | FramingError]) -> bool:
        """Find the next header block; False when more input is needed."""
        match = _HEADER.search(self._buffer)
        if match is None:
            self._skip(max(0, len(self._buffer) - _OVERLAP), found)
            return False
        length = int(match.group(1))
        header_end = match.end() - match.start()
        self._skip(match.start(), found)  # the header now starts the buffer
        end = self._buffer.find(b"\r\n\r\n", header_end - 2)
        if end == -1 and len(self._buffer) <= MAX_HEADER_BYTES:
            return False
        if end == -1 or end + 4 > MAX_HEADER_BYTES:
            self._refuse(found, f"header block over {MAX_HEADER_BYTES} bytes refused")
            del self._buffer[:header_end]  # the rest of the block is skipped as input
            return True
        del self._buffer[: end + 4]
        self._skipped, self._reported = 0, False
        if length > MAX_BODY_BYTES:
            # Its body is then skipped as input that is no message, without a second error.
            self._refuse(found, f"message of {length} bytes refused (limit {MAX_BODY_BYTES})")
            return True
        self._body_length, self._scanned = length, 0
        return True

    def _read_body(self, found: list[Frame | FramingError]) -> bool:
        """Complete the current body; False when more input is needed."""
        assert self._body_length is not None
        length = self._body_length
        buffer = self._buffer
        stop = min(len(buffer), length + _OVERLAP)
        match = _HEADER.search(buffer, max(0, self._scanned - _OVERLAP), stop)
        if match is not None and match.start() < length:
            start = match.start()
            found.append(
                FramingError(
                    PARSE_ERROR,
                    f"Content-Length {length} does not match the message it framed; "
                    "resynchronised on the next header",
                )
            )
            self._body_length = None
            del buffer[:start]
            return True
        self._scanned = len(buffer)
        if len(buffer) < length or (stop < length + _OVERLAP and self._header_begins_inside()):
            return False
        found.append(Frame(bytes(buffer[:length])))
        self._body_length = None
        del buffer[:length]
        return True

    def _header_begins_inside(self) -> bool:
        """Whether the buffer ends in a header cut short that starts inside the body."""
        assert self._body_length is not None
        first = max(0, self._body_length - _HEADER_LINE_MAX)
        return any(
            _is_header_prefix(bytes(self._buffer[start:]))
            for start in range(first, self._body_length)
        )

    def _skip(self, count: int, found: list[Frame | FramingError]) -> None:
        """Drop `count` bytes that belong to no message; a long run is refused once."""
        if count <= 0:
            return
        if bytes(self._buffer[:count]).strip():
            self._skipped += count
        del self._buffer[:count]
        if self._skipped > MAX_HEADER_BYTES:
            self._refuse(found, f"over {MAX_HEADER_BYTES} bytes without a message header refused")

    def _refuse(self, found: list[Frame | FramingError], message: str) -> None:
        if not self._reported:
            found.append(FramingError(INVALID_REQUEST, message))
        self._reported = True


def _is_header_prefix(data: bytes) -> bool:
    """Whether `data` is the start of a Content-Length header line (and nothing else)."""
    lowered = data.lower()
    if len(lowered) <= len(_HEADER_NAME):
        return _HEADER_NAME.startswith(lowered)
    tail = lowered[len(_HEADER_NAME) :]
    return lowered.startswith(_HEADER_NAME) and _HEADER_TAIL_PREFIX.fullmatch(tail) is not None
