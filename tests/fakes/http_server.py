"""A small real HTTP/1.1 server on loopback for tests: handlers script each response.

Fakes of remote services (Context7, OpenAI-compatible endpoints) are built on it, so they
speak the real wire format over a real socket: status line, headers, Content-Length or
chunked bodies that arrive piece by piece (for streaming and stalls).
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import orjson


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Response:
    status: int = 200
    body: bytes | AsyncIterator[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        merged = {"content-type": "application/json", **(headers or {})}
        return cls(status, orjson.dumps(data), merged)

    @classmethod
    def text(cls, text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        merged = {"content-type": "text/plain; charset=utf-8", **(headers or {})}
        return cls(status, text.encode(), merged)


Handler = Callable[[Request], Awaitable[Response]]


class FakeHTTPServer:
    """`async with FakeHTTPServer(handler) as server:` then use `server.url`.

    Every request is recorded in `requests`. Leaving the block closes the listener and
    cancels handlers still running (a stalled stream does not hold up teardown).
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def __aenter__(self) -> FakeHTTPServer:
        self._server = await asyncio.start_server(self._on_connection, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await self._server.wait_closed()

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    break
                self.requests.append(request)
                response = await self.handler(request)
                keep_alive = await self._write_response(writer, response)
                if not keep_alive or request.headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Only __aexit__ cancels these; asyncio 3.11's stream callback would log a
            # cancelled connection task as an error, so it ends quietly instead.
            pass
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> Request | None:
        line = await reader.readline()
        if not line:
            return None
        method, target, _version = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            raw = await reader.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        parsed = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        return Request(method, parsed.path, query, headers, body)

    @staticmethod
    async def _write_response(writer: asyncio.StreamWriter, response: Response) -> bool:
        reason = (
            HTTPStatus(response.status).phrase
            if response.status in HTTPStatus._value2member_map_
            else "Status"
        )
        head = [f"HTTP/1.1 {response.status} {reason}"]
        headers = {k.lower(): v for k, v in response.headers.items()}
        streaming = not isinstance(response.body, bytes)
        if streaming:
            headers.setdefault("transfer-encoding", "chunked")
        else:
            assert isinstance(response.body, bytes)
            headers["content-length"] = str(len(response.body))
        head.extend(f"{name}: {value}" for name, value in headers.items())
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if isinstance(response.body, bytes):
            writer.write(response.body)
            await writer.drain()
            return True
        async for chunk in response.body:
            if chunk:
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True
