"""What a docs provider is, what it returns, and how it says no.

A provider answers one question: "documentation for this library, at this version, about
this query". It returns a `ProviderResult`, returns None when it simply does not have the
library, or raises one of the `ProviderError` subclasses below so that the lookup service
can tell a rejected key from an outage from a library that is still being processed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ProviderResult:
    """Documentation as one markdown document, ready to cache and to rank."""

    content: str
    """Markdown. Local docs are query-independent; remote docs answer the query."""
    provider: str
    """Name of the provider that produced it."""
    library: str
    """The library as the provider identified it (canonical name, or a remote id)."""
    version: str | None = None
    """The version documented, when known."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Provenance: source paths, remote library id, and the like."""


@runtime_checkable
class DocsProvider(Protocol):
    """A source of documentation. Implementations must never block the event loop."""

    name: str
    """Short stable name: used in cache keys, errors and configuration ("local", "context7")."""
    remote: bool
    """True when fetching touches the network. Remote answers are specific to the query
    and cached with a TTL; they are skipped in offline mode. Local answers are the whole
    document for the installed version, cached per version and ranked per query on read."""

    async def installed_version(self, library: str) -> str | None:
        """The version installed in the project, or None (remote providers return None)."""
        ...

    async def fetch(
        self, library: str, version: str | None, query: str, *, timeout: float
    ) -> ProviderResult | None:
        """Documentation for `library`, or None when this provider does not have it.

        `timeout` is the time left for this call, retries included. Errors are raised as
        `ProviderError` subclasses.
        """
        ...

    async def aclose(self) -> None:
        """Release connections and other resources."""
        ...


@runtime_checkable
class AnsweringProvider(Protocol):
    """A provider with its own per-version index (the local one): it answers a query
    itself, ranked and cut to the budget, and needs no cache in front of it."""

    async def answer(
        self, library: str, version: str | None, query: str, max_tokens: int
    ) -> ProviderResult | None: ...


class ProviderError(Exception):
    """A provider could not answer. The message is one line naming the provider."""

    counts_as_outage = True
    """Whether this failure counts towards opening the provider's circuit breaker."""

    def __init__(self, provider: str, message: str) -> None:
        self.provider = provider
        self.message = message
        super().__init__(f"{provider}: {message}")


class ProviderUnavailable(ProviderError):
    """The service could not be reached or kept failing (network, 5xx, rate limit, timeout)."""


class ProviderBadResponse(ProviderError):
    """The service answered with something that is not what the API promises."""


class ProviderRejected(ProviderError):
    """The service refused us (bad API key, no access, spending limit); retrying won't help."""

    counts_as_outage = False

    def __init__(self, provider: str, message: str, reason: str = "") -> None:
        self.reason = reason
        super().__init__(provider, message)


class ProviderPending(ProviderError):
    """The service knows the library but its docs are not ready yet: try again later."""

    counts_as_outage = False


class ProviderNotFound(ProviderError):
    """The service answered, and it has no documentation for this library or query."""

    counts_as_outage = False


class ProviderBlocked(ProviderError):
    """Refused without a call because the provider's circuit breaker is open."""

    counts_as_outage = False


class InvalidLibraryName(ValueError):
    """A library name that is not a plausible PyPI or npm package name."""


MAX_LIBRARY_NAME = 214
"""npm's limit; longer than any PyPI name in practice."""

_PYPI_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_NPM_SCOPED = re.compile(r"^@[a-z0-9][a-z0-9._~-]*/[a-z0-9][a-z0-9._~-]*$", re.IGNORECASE)


def check_library_name(name: str) -> str:
    """Return `name` stripped if it is a plausible PyPI or npm name; raise InvalidLibraryName.

    Names become cache keys and paths (`node_modules/<name>`), so anything that could
    escape a directory is refused: no path separators except one npm scope slash, no
    "..", no control characters, bounded length.
    """
    candidate = name.strip()
    if not candidate:
        raise InvalidLibraryName("library name is empty")
    if len(candidate) > MAX_LIBRARY_NAME:
        raise InvalidLibraryName(
            f"library name is {len(candidate)} characters long (at most {MAX_LIBRARY_NAME})"
        )
    if ".." in candidate:
        raise InvalidLibraryName(f"library name {candidate!r} contains '..'")
    if "\\" in candidate or (candidate.count("/") > (1 if candidate.startswith("@") else 0)):
        raise InvalidLibraryName(f"library name {candidate!r} contains a path separator")
    pattern = _NPM_SCOPED if candidate.startswith("@") else _PYPI_NAME
    if not pattern.match(candidate):
        raise InvalidLibraryName(
            f"library name {candidate!r} is not a valid PyPI or npm package name"
        )
    return candidate
