"""The `context7` provider: documentation from the Context7 v2 HTTP API.

Two calls: `GET /api/v2/libs/search?libraryName=&query=` to find a library id (skipped
when the package names its own GitHub repository), then
`GET /api/v2/context?libraryId=&query=&type=txt` for the documentation text.

A search hit is accepted only when its name matches the package: taking the first hit
blindly is how the system this replaces cached docs for the wrong library. Every status
the API documents has its own outcome; none of the failures is returned as docs, so none
can be cached as docs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from tether.engine.redaction import Redactor
from tether.engine.redaction import register as register_secret
from tether.engine.retry import RetryPolicy, next_retry_delay
from tether.kb.providers.base import (
    ProviderBadResponse,
    ProviderNotFound,
    ProviderPending,
    ProviderRejected,
    ProviderResult,
    ProviderUnavailable,
)
from tether.project.package_names import canonicalize_name

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://context7.com"
URL_ENV = "CONTEXT7_API_URL"
KEY_ENV = "CONTEXT7_API_KEY"
MAX_BODY_BYTES = 2_000_000
"""Bytes read of any answer; a longer docs answer is cut (it would never fit a token budget
anyway) and a longer JSON answer is refused."""

RESOLVED_IDS_KEPT = 2_000
"""Package name -> library id resolutions remembered per provider instance."""

RepositoryFinder = Callable[[str], Awaitable[str | None]]
"""Given a package name, its own repository URL from installed metadata (or None)."""

_GITHUB_URL = re.compile(
    r"github\.com[/:]+(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)/"
    r"(?P<repo>[A-Za-z0-9._-]+?)(?:\.git)?(?:[/#?].*)?$",
    re.IGNORECASE,
)
_GITHUB_SHORTHAND = re.compile(
    r"^(?:github:)?(?P<owner>[A-Za-z0-9][A-Za-z0-9-]*)/(?P<repo>[A-Za-z0-9._-]+)$"
)
_NOT_OWNERS = {"sponsors", "orgs", "apps", "marketplace", "features", "topics", "settings"}
_LIBRARY_ID = re.compile(r"^/[A-Za-z0-9._~-]+/[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)?$")
_EMPTY_ANSWERS = {"", "no content available", "no context data available"}


class LibraryUnknown(ProviderNotFound):
    """Context7 answered 404/422 for a library id (as opposed to an empty answer)."""


@dataclass(frozen=True, slots=True)
class Context7Settings:
    base_url: str = DEFAULT_BASE_URL
    """Scheme and host of the API, without /api/v2."""
    api_key: str | None = None
    """Sent as `Authorization: Bearer KEY` when set; anonymous access otherwise."""
    retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(attempts=3, initial=0.25, maximum=2.0)
    )
    """Retries for 429, 5xx and network errors; always inside the caller's timeout."""

    @classmethod
    def resolve(
        cls,
        base_url: str | None = None,
        api_key: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Context7Settings:
        """Explicit arguments first, then CONTEXT7_API_URL / CONTEXT7_API_KEY, then defaults."""
        env = os.environ if environ is None else environ
        url = (base_url or env.get(URL_ENV, "") or DEFAULT_BASE_URL).strip().rstrip("/")
        url = url.removesuffix("/api/v2").removesuffix("/api")
        key = (api_key or env.get(KEY_ENV, "") or "").strip() or None
        register_secret(key)
        return cls(base_url=url, api_key=key)


@dataclass(frozen=True, slots=True)
class _Answer:
    """One HTTP answer, its body read up to MAX_BODY_BYTES (a hostile server cannot make
    us hold more)."""

    path: str
    status_code: int
    headers: dict[str, str]
    """Lower-cased names."""
    content: bytes
    truncated: bool


@dataclass(frozen=True, slots=True)
class _Hit:
    library_id: str
    title: str
    versions: tuple[str, ...]


def github_library_id(url: str | None) -> str | None:
    """ "/owner/repo" from a GitHub repository URL in any common spelling, else None."""
    if not url:
        return None
    text = url.strip()[:500]  # real repository URLs are short; bounds the pattern's work
    match = _GITHUB_URL.search(text) or _GITHUB_SHORTHAND.match(text)
    if match is None:
        return None
    owner, repo = match.group("owner"), match.group("repo").removesuffix(".git")
    if owner.lower() in _NOT_OWNERS or not repo or repo in {".", ".."}:
        return None
    return f"/{owner}/{repo}"


def names_match(package: str, candidate: str) -> bool:
    """Whether a search hit's name or title denotes `package` (canonical forms compared).

    "next" matches "Next.js", "@types/node" matches "node" only through its own id, and
    "requests" never matches "requests-oauthlib".
    """
    wanted = _name_forms(package)
    return bool(wanted & _name_forms(candidate))


def _name_forms(name: str) -> set[str]:
    base = name.strip().lower()
    if base.startswith("@") and "/" in base:
        base = base.split("/", 1)[1]
    canonical = canonicalize_name(base)
    forms: set[str] = {canonical}
    for suffix in ("-js", "js"):
        if canonical.endswith(suffix) and len(canonical) > len(suffix):
            forms.add(canonical.removesuffix(suffix).rstrip("-"))
    if canonical.startswith(("python-", "py-")):
        forms.add(canonical.split("-", 1)[1])
    return {form for form in forms if form}


class Context7Provider:
    name = "context7"
    remote = True

    def __init__(
        self,
        settings: Context7Settings | None = None,
        *,
        repository_finder: RepositoryFinder | None = None,
        client: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings or Context7Settings.resolve()
        self.repository_finder = repository_finder
        self._client = client
        self._owns_client = client is None
        self._rng = rng
        # Search results by package name for this provider's lifetime (a language server
        # asks many questions about one library; only the first needs the search call).
        self._resolved: dict[str, tuple[str, tuple[str, ...]]] = {}

    async def installed_version(self, library: str) -> str | None:
        return None

    async def aclose(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    async def fetch(
        self, library: str, version: str | None, query: str, *, timeout: float
    ) -> ProviderResult | None:
        deadline = time.monotonic() + timeout
        question = query.strip() or f"{library} overview and main API"
        own = None
        if self.repository_finder is not None:
            own = github_library_id(await self.repository_finder(library))
        if own is not None:
            try:
                text, final_id = await self._context(own, question, deadline)
                return self._result(library, version, text, final_id, "repository")
            except LibraryUnknown as error:
                # Context7 may index the project under another id (a docs site, a fork):
                # a search is still safe because only a hit named like the package counts.
                logger.info("context7: %s; searching by name instead", error.message)
        known = self._resolved.get(library)
        if known is None:
            known = await self._search_named(library, question, deadline)
            if len(self._resolved) >= RESOLVED_IDS_KEPT:
                self._resolved.clear()
            self._resolved[library] = known
        library_id, versions = known
        tagged_id = _with_version(library_id, version, versions)
        try:
            try:
                text, final_id = await self._context(tagged_id, question, deadline)
            except LibraryUnknown:
                if tagged_id == library_id:
                    raise
                # The version tag is listed but not served: the library's current docs.
                text, final_id = await self._context(library_id, question, deadline)
        except LibraryUnknown:
            self._resolved.pop(library, None)  # gone from Context7: search again next time
            raise
        return self._result(library, version, text, final_id, "search")

    def _result(
        self, library: str, version: str | None, text: str, library_id: str, resolved_by: str
    ) -> ProviderResult:
        return ProviderResult(
            content=text,
            provider=self.name,
            library=canonicalize_name(library),
            version=version,
            meta={"library_id": library_id, "resolved_by": resolved_by},
        )

    async def _search_named(
        self, library: str, question: str, deadline: float
    ) -> tuple[str, tuple[str, ...]]:
        """The id of the search hit named like `library`; never just the first hit."""
        hits = await self._search(library, question, deadline)
        for hit in hits:
            # Title, or the repository part of the id ("/pallets/flask" for "flask").
            if names_match(library, hit.title) or names_match(
                library, hit.library_id.rsplit("/", 1)[-1]
            ):
                return hit.library_id, hit.versions
        if not hits:
            raise ProviderNotFound(self.name, f"no library named {library!r} in Context7")
        shown = ", ".join(f"{hit.library_id} ({hit.title})" for hit in hits[:3])
        raise ProviderNotFound(
            self.name,
            f"search for {library!r} found {len(hits)} libraries but none is named "
            f"{library!r} (top: {shown}); not guessing",
        )

    async def _search(self, library: str, question: str, deadline: float) -> list[_Hit]:
        response = await self._get(
            "/api/v2/libs/search", {"libraryName": library, "query": question}, deadline
        )
        status = response.status_code
        if status != 200:
            self._raise_for_status(response, f"search for {library!r}")
        payload = _json_body(response)
        results: Any = payload.get("results") if isinstance(payload, dict) else payload
        if not isinstance(results, list):
            raise ProviderBadResponse(
                self.name,
                f"search for {library!r} answered 200 without a results list "
                f"({_preview(response.content)})",
            )
        hits: list[_Hit] = []
        for item in results:
            if not isinstance(item, dict):
                continue
            library_id = item.get("id")
            title = item.get("title") or item.get("name") or ""
            if not isinstance(library_id, str) or not _LIBRARY_ID.match(library_id):
                continue
            raw_versions = item.get("versions")
            versions = tuple(v for v in raw_versions or () if isinstance(v, str))
            hits.append(_Hit(library_id, str(title), versions))
        return hits

    async def _context(self, library_id: str, question: str, deadline: float) -> tuple[str, str]:
        current = library_id
        for _hop in range(2):  # the original id, then at most one redirect
            response = await self._get(
                "/api/v2/context",
                {"libraryId": current, "query": question, "type": "txt"},
                deadline,
            )
            status = response.status_code
            if status == 200:
                return self._docs_text(response, current), current
            if status == 301 and _hop == 0:
                current = self._redirect_target(response, current)
                logger.info("context7: %s moved to %s", library_id, current)
                continue
            if status == 301:
                raise ProviderBadResponse(
                    self.name, f"{library_id} redirected more than once; not following"
                )
            self._raise_for_status(response, f"docs for {current}")
        raise AssertionError("unreachable")  # the loop returns or raises

    def _redirect_target(self, response: _Answer, current: str) -> str:
        payload = _json_body(response, allow_garbage=True)
        target = payload.get("redirectUrl") if isinstance(payload, dict) else None
        if not isinstance(target, str) or not _LIBRARY_ID.match(target):
            raise ProviderBadResponse(
                self.name, f"{current} answered 301 without a usable redirectUrl"
            )
        return target

    def _docs_text(self, response: _Answer, library_id: str) -> str:
        content = response.content
        if response.truncated:
            content = content[: content.rfind(b"\n") + 1] or content  # whole lines only
        content_type = response.headers.get("content-type", "").lower()
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise ProviderBadResponse(
                self.name, f"docs for {library_id}: body is not UTF-8 text"
            ) from None
        head = text.lstrip()[:64].lower()
        if "\x00" in text or "html" in content_type or head.startswith(("<!doctype", "<html")):
            raise ProviderBadResponse(
                self.name,
                f"docs for {library_id}: body is not documentation text ({_preview(content)})",
            )
        if text.strip().lower() in _EMPTY_ANSWERS:
            raise ProviderNotFound(
                self.name, f"Context7 has no documentation text for {library_id}"
            )
        return text.strip()

    def _raise_for_status(self, response: _Answer, what: str) -> None:
        status = response.status_code
        detail = _error_detail(response)
        if status == 401:
            hint = "" if self.settings.api_key else " (no key configured: set CONTEXT7_API_KEY)"
            raise ProviderRejected(
                self.name, f"Context7 rejected the API key (401{detail}){hint}", "unauthorized"
            )
        if status in (402, 403):
            raise ProviderRejected(self.name, f"{what}: refused ({status}{detail})", "forbidden")
        if status == 400:
            raise ProviderRejected(self.name, f"{what}: bad request ({status}{detail})", "invalid")
        if status == 202:
            raise ProviderPending(
                self.name, f"{what}: Context7 is still processing this library; try again later"
            )
        if status in (404, 422):
            raise LibraryUnknown(self.name, f"{what}: not found ({status}{detail})")
        raise ProviderBadResponse(self.name, f"{what}: unexpected status {status}{detail}")

    async def _get(self, path: str, params: dict[str, str], deadline: float) -> _Answer:
        """GET with retries on 429, 5xx and network errors, never past `deadline`."""
        import httpx

        client = self._http()
        url = self.settings.base_url + path
        headers = {"Accept": "application/json, text/plain"}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProviderUnavailable(self.name, f"{path}: no time left for attempt {attempt}")
            retry_after: float | None = None
            try:
                response = self._redacted(
                    await self._read(client, path, url, params, headers, remaining)
                )
            except httpx.TimeoutException:
                failure = f"{path}: no answer within {remaining:.1f}s"
            except httpx.HTTPError as error:
                failure = f"{path}: {type(error).__name__}: {error or 'connection failed'}"
            else:
                status = response.status_code
                if status == 429:
                    retry_after = _retry_after(response)
                    failure = f"{path}: rate limited (429)"
                    if retry_after is not None:
                        failure += f", Retry-After {retry_after:g}s"
                elif status >= 500:
                    failure = f"{path}: server error {status}{_error_detail(response)}"
                else:
                    return response
            delay = next_retry_delay(
                self.settings.retry,
                attempt,
                deadline - time.monotonic(),
                retry_after,
                self._rng,
            )
            if delay is None:
                why = (
                    "no retries left"
                    if attempt >= self.settings.retry.attempts
                    else "a retry would pass the deadline"
                )
                raise ProviderUnavailable(self.name, f"{failure}; {why} after {attempt} attempt(s)")
            logger.info("context7: %s; retrying in %.2fs", failure, delay)
            await asyncio.sleep(delay)

    @staticmethod
    async def _read(
        client: httpx.AsyncClient,
        path: str,
        url: str,
        params: dict[str, str],
        headers: dict[str, str],
        timeout: float,
    ) -> _Answer:
        body = bytearray()
        truncated = False
        async with client.stream(
            "GET", url, params=params, headers=headers, timeout=timeout
        ) as response:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    truncated = True
                    break
            return _Answer(
                path=path,
                status_code=response.status_code,
                headers={name.lower(): value for name, value in response.headers.items()},
                content=bytes(body[:MAX_BODY_BYTES]),
                truncated=truncated,
            )

    def _redacted(self, response: _Answer) -> _Answer:
        """The answer with the key masked, before anything reads it: a server that echoes
        the Authorization header must not get the key into docs, errors or the cache."""
        redactor = Redactor([self.settings.api_key])
        content = redactor.data(response.content)
        if response.truncated:  # the read limit may have cut through the key
            content = redactor.edges_of_data(content)
        headers = {name: redactor.text(value) for name, value in response.headers.items()}
        return dataclasses.replace(response, content=content, headers=headers)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            from tether.kb.http import create_async_client

            self._client = create_async_client()
        return self._client


def _with_version(library_id: str, version: str | None, versions: tuple[str, ...]) -> str:
    """ "/owner/repo/vX" when the search listed the installed version as a tag."""
    if not version:
        return library_id
    for tag in versions:
        if tag.lstrip("vV") == version.lstrip("vV"):
            return f"{library_id}/{tag}"
    return library_id


def _json_body(response: _Answer, allow_garbage: bool = False) -> Any:
    if response.truncated and not allow_garbage:
        raise ProviderBadResponse(
            "context7",
            f"{response.path} answered {response.status_code} with more than "
            f"{MAX_BODY_BYTES} bytes of JSON; refused",
        )
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        if allow_garbage:
            return None
        raise ProviderBadResponse(
            "context7",
            f"{response.path} answered {response.status_code} with a body that is "
            f"not JSON ({_preview(response.content)})",
        ) from None


def _error_detail(response: _Answer) -> str:
    """ ": message" from the API's JSON error body, when it has one."""
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return ""
    if isinstance(payload, dict):
        message = payload.get("message") or payload.get("error")
        if isinstance(message, str) and message:
            return f": {Redactor().cut(message, 200, '')}"
    return ""


def _retry_after(response: _Answer) -> float | None:
    """Seconds from a Retry-After header (delta or HTTP date) or `retryAfterSeconds` body."""
    value = response.headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            import email.utils

            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    seconds = payload.get("retryAfterSeconds") if isinstance(payload, dict) else None
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
        return float(seconds)
    return None


def _preview(content: bytes, limit: int = 40) -> str:
    text = Redactor().cut(content.decode("utf-8", errors="replace"), limit, "")
    printable = "".join(ch if ch.isprintable() else "?" for ch in text)
    return f"starts {printable!r}" if content else "empty body"
