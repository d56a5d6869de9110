"""A fake Context7 v2 API on loopback, speaking the real wire format over real HTTP.

Endpoints and shapes follow Context7's published OpenAPI document:
`GET /api/v2/libs/search?libraryName=&query=` answers `{"results": [{"id": "/owner/repo",
"title", "description", "branch", "lastUpdateDate", "state", "totalTokens",
"totalSnippets", "stars", "trustScore", "benchmarkScore", "versions"}],
"searchFilterApplied": false}`; `GET /api/v2/context?libraryId=&query=&type=txt` answers
text/plain snippets. Errors are JSON `{"error": code, "message": text}`; a 301 adds
`redirectUrl`; a 429 carries `Retry-After`.

Modes: normal, slow, stall, rate_limited (429 + Retry-After for the first `burst`
requests), server_error (500 for the first `burst` requests), accepted (202), redirect
(301 for ids in `redirects`, once), unauthorized (401), garbage (200 with binary junk),
empty (200 with an empty body), huge (3 MB answers, streamed).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http_server import FakeHTTPServer, Request, Response

MODES = (
    "normal",
    "slow",
    "stall",
    "rate_limited",
    "server_error",
    "accepted",
    "redirect",
    "unauthorized",
    "garbage",
    "empty",
    "huge",
)

GARBAGE = bytes(range(256)) * 4


@dataclass
class FakeLibrary:
    id: str
    title: str
    docs: str
    description: str = ""
    versions: list[str] = field(default_factory=list)

    def search_result(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description or f"{self.title} documentation",
            "branch": "main",
            "lastUpdateDate": "2026-01-15T10:30:00.000Z",
            "state": "finalized",
            "totalTokens": len(self.docs) // 4,
            "totalSnippets": self.docs.count("### "),
            "stars": 1000,
            "trustScore": 9,
            "benchmarkScore": 90.0,
            "versions": list(self.versions),
        }


def snippet_docs(title: str, *topics: str) -> str:
    """Context7's txt shape: snippets with a title, a source line and a code block."""
    parts = []
    for topic in topics or ("Quick start",):
        parts.append(
            f"### {title}: {topic}\n\nSource: https://github.com/example/{title.lower()}\n\n"
            f"How to use {topic.lower()} with {title}.\n\n```python\nimport {title.lower()}\n```"
        )
    return "\n\n--------------------------------\n\n".join(parts)


DEFAULT_LIBRARIES = (
    # A decoy ranked first: a search for "requests" must not take it.
    FakeLibrary("/requests/toolbelt", "requests-toolbelt", snippet_docs("Toolbelt")),
    FakeLibrary("/psf/requests", "Requests", snippet_docs("Requests", "Sessions", "Timeouts")),
    FakeLibrary("/vercel/next.js", "Next.js", snippet_docs("Next", "Routing", "Middleware")),
    FakeLibrary("/facebook/react", "React", snippet_docs("React", "Hooks"), versions=["v18.2.0"]),
    FakeLibrary("/facebook/react/v18.2.0", "React 18.2.0", snippet_docs("React", "Hooks 18")),
    FakeLibrary("/new-owner/moved", "moved", snippet_docs("Moved", "After the move")),
    FakeLibrary("/fake/widget", "widget", snippet_docs("Widget", "Widgets", "Timeouts")),
)


class FakeContext7:
    """`async with FakeContext7(mode) as fake:` then point the provider at `fake.url`."""

    def __init__(
        self,
        mode: str = "normal",
        *,
        libraries: Iterable[FakeLibrary] = DEFAULT_LIBRARIES,
        delay: float = 0.2,
        retry_after: str = "1",
        burst: int = 1,
        redirects: dict[str, str] | None = None,
        api_key: str | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
        self.mode = mode
        self.libraries = {library.id: library for library in libraries}
        self.delay = delay
        self.retry_after = retry_after
        self.burst = burst
        self.redirects = (
            redirects if redirects is not None else {"/old-owner/moved": "/new-owner/moved"}
        )
        self.api_key = api_key
        self.server = FakeHTTPServer(self._handle)
        self._stall = asyncio.Event()  # never set: stalled handlers wait until teardown
        self._failures_sent = 0

    async def __aenter__(self) -> FakeContext7:
        await self.server.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.__aexit__(*exc)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def count(self, endpoint: str | None = None) -> int:
        """Requests received, all or for "search" / "context"."""
        paths = {"search": "/api/v2/libs/search", "context": "/api/v2/context"}
        if endpoint is None:
            return len(self.requests)
        return sum(1 for request in self.requests if request.path == paths[endpoint])

    async def _handle(self, request: Request) -> Response:
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        if self.mode == "stall":
            await self._stall.wait()
        if self.api_key is not None and request.headers.get("authorization") != (
            f"Bearer {self.api_key}"
        ):
            return _error(401, "invalid_api_key", "Invalid API key.")
        if self.mode == "unauthorized":
            return _error(401, "invalid_api_key", "Invalid API key. Keys start with 'ctx7sk'.")
        if self.mode in ("rate_limited", "server_error") and self._failures_sent < self.burst:
            self._failures_sent += 1
            if self.mode == "rate_limited":
                return _error(
                    429,
                    "rate_limit_exceeded",
                    "Rate limit exceeded. Please try again later.",
                    headers={"Retry-After": self.retry_after},
                )
            return _error(500, "internal_error", "An error occurred while processing your request")
        if self.mode == "garbage":
            return Response(200, GARBAGE, {"content-type": "application/json"})
        if self.mode == "huge":
            return Response(200, _huge_body(request.path), {"content-type": "text/plain"})
        if self.mode == "empty":
            return Response(200, b"", {"content-type": "text/plain; charset=utf-8"})
        if request.path == "/api/v2/libs/search":
            return self._search(request)
        if request.path == "/api/v2/context":
            return self._context(request)
        return _error(404, "not_found", f"no route {request.path}")

    def _search(self, request: Request) -> Response:
        name = request.query.get("libraryName", "").strip().lower()
        if not name or "query" not in request.query:
            return _error(400, "validation_error", "libraryName and query are required")
        hits = [
            library.search_result()
            for library in self.libraries.values()
            if library.id.count("/") == 2
            and (name in library.title.lower() or name in library.id.lower())
        ]
        if not hits:
            return _error(
                404, "no_libraries_found", f'No libraries found for "{name}". Try another term.'
            )
        return Response.json({"results": hits, "searchFilterApplied": False})

    def _context(self, request: Request) -> Response:
        library_id = request.query.get("libraryId", "")
        if not library_id or "query" not in request.query:
            return _error(400, "validation_error", "libraryId and query are required")
        if self.mode == "accepted":
            return _error(202, "library_not_finalized", f"Library {library_id} not finalized yet.")
        if library_id in self.redirects and self.mode in ("redirect", "normal", "slow"):
            target = self.redirects[library_id]
            return Response.json(
                {
                    "error": "library_redirected",
                    "message": f"Library {library_id} has been redirected to: {target}.",
                    "redirectUrl": target,
                },
                status=301,
            )
        library = self.libraries.get(library_id)
        if library is None:
            return _error(
                404,
                "library_not_found",
                f'Library "{library_id}" not found. Please check the library ID.',
            )
        return Response.text(library.docs)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response.json({"error": code, "message": message}, status=status, headers=headers)


async def _huge_body(path: str) -> AsyncIterator[bytes]:
    """3 MB in chunks: a JSON array that never ends, or lines of docs text."""
    if "search" in path:
        yield b'{"results": ['
        chunk = b'{"id": "/x/y", "title": "y"},' * 2000
    else:
        chunk = b"doc line\n" * 7000
    for _ in range(3_000_000 // len(chunk) + 1):
        yield chunk
