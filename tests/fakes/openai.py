"""A fake OpenAI-compatible chat-completions endpoint on loopback (real HTTP, real SSE).

Tests script replies in order with `stream(...)`, `status(...)` or `raw(...)`; when the
script runs out, `default` answers (if set) or the fake answers 500 "unscripted". Every
request is recorded. Streams are chunked HTTP bodies sent piece by piece, so delays,
stalls and keep-alives reach the client exactly as a real server would send them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import orjson

from tests.fakes.http_server import FakeHTTPServer, Request, Response

Reply = Callable[[Request], Response]

SSE_HEADERS = {"content-type": "text/event-stream", "cache-control": "no-cache"}


def chunk_event(
    content: str | None = None,
    *,
    model: str = "fake-model",
    role: str | None = None,
    finish_reason: str | None = None,
    usage: dict[str, int] | None = None,
) -> bytes:
    """One `data:` event shaped like an OpenAI chat.completion.chunk."""
    delta: dict[str, str] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    chunk: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if usage is not None:
        chunk["usage"] = usage
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


DONE = b"data: [DONE]\n\n"
KEEP_ALIVE = b": keep-alive\n\n"


def error_reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
    """An error response: OpenAI's JSON error shape, or exactly `body` when it is bytes."""
    if body is None:
        body = {"error": {"message": f"scripted {status}", "type": "server_error"}}

    def reply(_request: Request) -> Response:
        if isinstance(body, bytes):
            return Response(status, body, headers or {})
        return Response.json(body, status, headers)

    return reply


class FakeOpenAI:
    """`async with FakeOpenAI() as fake:` then point an LLMConfig at `fake.base_url`."""

    def __init__(self) -> None:
        self.server = FakeHTTPServer(self._handle)
        self.script: deque[Reply] = deque()
        self.default: Reply | None = None
        self._stalled = asyncio.Event()  # never set: a stall lasts until teardown cancels it

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/v1"

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    async def __aenter__(self) -> FakeOpenAI:
        await self.server.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.__aexit__(*exc)

    def stream(
        self,
        pieces: Iterable[str],
        *,
        model: str = "fake-model",
        delay: float = 0.0,
        stall_after: int | None = None,
        keep_alive_before: int = 0,
        finish_reason: str = "stop",
        usage: dict[str, int] | None = None,
    ) -> None:
        """A normal completion streamed as `pieces`; `stall_after=N` goes silent after N."""
        pieces = list(pieces)

        def events() -> list[bytes | None]:  # None marks the stall
            out: list[bytes | None] = [KEEP_ALIVE] * keep_alive_before
            out.append(chunk_event("", role="assistant", model=model))
            for index, piece in enumerate(pieces):
                if stall_after is not None and index == stall_after:
                    out.append(None)
                out.append(chunk_event(piece, model=model))
            if stall_after is not None and stall_after >= len(pieces):
                out.append(None)
            out.append(chunk_event(model=model, finish_reason=finish_reason, usage=usage))
            out.append(DONE)
            return out

        self.script.append(lambda _request: Response(200, self._send(events(), delay), SSE_HEADERS))

    def stall_before_text(self, keep_alives: int = 3, interval: float = 0.05) -> None:
        """Headers and keep-alive comments, then silence: no text ever arrives."""

        async def body() -> AsyncIterator[bytes]:
            yield chunk_event("", role="assistant")
            for _ in range(keep_alives):
                await asyncio.sleep(interval)
                yield KEEP_ALIVE
            await self._stalled.wait()

        self.script.append(lambda _request: Response(200, body(), SSE_HEADERS))

    def trickle(self, piece: str, interval: float) -> None:
        """Text every `interval` seconds, never ending: only a total or caller limit stops it."""

        async def body() -> AsyncIterator[bytes]:
            while True:
                yield chunk_event(piece)
                await asyncio.sleep(interval)

        self.script.append(lambda _request: Response(200, body(), SSE_HEADERS))

    def status(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        """Answer the next request with an error status (see `error_reply`)."""
        self.script.append(error_reply(status, body, headers))

    def raw(self, pieces: Iterable[bytes], *, headers: dict[str, str] | None = None) -> None:
        """Exactly these bytes as the streamed body, one network write each."""
        pieces = list(pieces)
        self.script.append(
            lambda _request: Response(200, self._send(list(pieces), 0.0), headers or SSE_HEADERS)
        )

    def drop_after(self, pieces: Iterable[str]) -> None:
        """Stream `pieces`, then break the connection without ending the body."""
        events: list[bytes] = [chunk_event(piece) for piece in pieces]

        async def body() -> AsyncIterator[bytes]:
            for event in events:
                yield event
            raise ConnectionResetError("scripted drop")

        self.script.append(lambda _request: Response(200, body(), SSE_HEADERS))

    async def _send(self, events: list[bytes | None], delay: float) -> AsyncIterator[bytes]:
        for event in events:
            if event is None:
                await self._stalled.wait()
            if delay:
                await asyncio.sleep(delay)
            assert event is not None
            yield event

    async def _handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return Response.json({"error": {"message": "not found"}}, 404)
        if self.script:
            return self.script.popleft()(request)
        if self.default is not None:
            return self.default(request)
        return Response.json({"error": {"message": "unscripted request"}}, 500)
