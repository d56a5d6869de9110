"""An incremental Server-Sent Events decoder (the WHATWG event-stream format).

Parsed here rather than with httpx-sse because the llm client bounds every single network
read by its own deadline (first token, idle gap, total) and needs the bytes-to-events step
to be a pure, synchronous function it can call between reads; this is sixty lines, needs no
extra dependency, and caps memory when a hostile server never ends a line.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_LINE_END = re.compile(r"\r\n|\r|\n")
MAX_EVENT_CHARS = 1 << 20
"""A line or an event's data longer than this is refused instead of buffered without end."""


class SSEError(ValueError):
    """The byte stream is not a usable event stream (an oversized line or event)."""


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    """The `data:` lines of one event, joined by newlines."""
    event: str = "message"
    """The `event:` field, "message" when absent."""
    id: str | None = None
    """The `id:` field, if the event had one."""


class SSEDecoder:
    """Feed raw bytes as they arrive; get back the events they complete.

    Comments (lines starting with ":", used as keep-alives) and `retry:` are ignored. At the
    end of the stream `finish()` returns an event left without its closing blank line: the
    standard drops it, but some OpenAI-compatible proxies end on "data: [DONE]" alone.
    """

    def __init__(self, max_chars: int = MAX_EVENT_CHARS) -> None:
        self._max_chars = max_chars
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._after_cr = False
        self._started = False
        self._data: list[str] = []
        self._data_chars = 0
        self._event = ""
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        text = self._decoder.decode(chunk)
        if not text:
            return []
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._after_cr and text.startswith("\n"):
            text = text[1:]  # the "\n" of a "\r\n" split across two reads
        self._after_cr = False
        self._buffer += text
        events: list[SSEEvent] = []
        position = 0
        for match in _LINE_END.finditer(self._buffer):
            line = self._buffer[position : match.start()]
            position = match.end()
            if match.group() == "\r" and position == len(self._buffer):
                self._after_cr = True
            event = self._take_line(line)
            if event is not None:
                events.append(event)
        self._buffer = self._buffer[position:]
        if len(self._buffer) > self._max_chars:
            raise SSEError(f"a line longer than {self._max_chars} characters without an end")
        return events

    def finish(self) -> SSEEvent | None:
        """The last event when the stream ended without a blank line after it."""
        tail = self._buffer + self._decoder.decode(b"", final=True)
        self._buffer = ""
        if tail:
            self._take_line(tail)
        return self._take_line("")

    def _take_line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon:
            value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
            self._data_chars += len(value) + 1
            if self._data_chars > self._max_chars:
                raise SSEError(f"an event larger than {self._max_chars} characters")
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = SSEEvent("\n".join(self._data), self._event or "message", self._id)
        self._data = []
        self._data_chars = 0
        self._event = ""
        return event
