"""The docs lookup service: cache first, providers in order, never longer than the deadline.

One `lookup` answers "docs for LIBRARY about QUERY": it resolves the installed version,
then for each configured provider serves a fresh cache entry, or a stale one at once while
a background task refreshes it, or fetches (one shared fetch per key however many callers
ask) under the provider's circuit breaker and what is left of the deadline. A provider
that fails hands over to the next one, and finally to any stale entry. Every provider's
reason for not answering is kept in `DocsResult.errors`.

Front ends (CLI, language server, the `docs` step kind, prewarm) build one with
`build_docs_service` and call `lookup`; a prewarm is many lookups under a semaphore.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.engine.breaker import CircuitBreaker
from tether.engine.durations import format_duration
from tether.kb.providers.base import (
    AnsweringProvider,
    DocsProvider,
    ProviderError,
    ProviderResult,
    ProviderUnavailable,
    check_library_name,
)
from tether.kb.providers.guarded import guarded_fetch
from tether.kb.store import CacheEntry, CacheKey, DocsStore, canonical_package_name

if TYPE_CHECKING:
    from tether.config import TetherConfig

logger = logging.getLogger(__name__)

DAY = 86_400.0
KNOWN_PROVIDERS = ("local", "context7")
RANKED_ANSWERS_KEPT = 64
"""Recent ranked answers kept per service; each pins its document, so keep this small."""


@dataclass
class DocsResult:
    library: str
    """Canonical name that was looked up."""
    version: str | None
    """Version the docs describe (installed version for local docs), when known."""
    provider: str | None
    """Provider whose docs these are; None when no provider had any."""
    content: str
    """Markdown, ranked for the query and cut to the token budget."""
    fetched_at: float | None = None
    """Epoch seconds when the provider produced the docs."""
    age_seconds: float | None = None
    from_cache: str | None = None
    """Cache tier that served it ("memory" or "disk"), None when fetched now."""
    stale: bool = False
    """Served past its freshness TTL (a background refresh was started, unless offline)."""
    errors: list[str] = field(default_factory=list)
    """One line per provider that did not answer, saying why."""
    query: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return self.provider is not None

    def render_markdown(self) -> str:
        if not self.found:
            lines = [f"No documentation found for {self.library}."]
            lines += [f"- {error}" for error in self.errors]
            return "\n".join(lines) + "\n"
        facts = [f"provider: {self.provider}"]
        if self.age_seconds is not None:
            facts.append(f"age: {_age(self.age_seconds)}")
        if self.from_cache:
            facts.append(f"cache: {self.from_cache}")
        if self.stale:
            facts.append("stale")
        title = f"{self.library} {self.version}" if self.version else self.library
        header = f"> tether docs: **{title}** · {' · '.join(facts)}"
        return f"{header}\n\n{self.content.rstrip()}\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "library": self.library,
            "version": self.version,
            "provider": self.provider,
            "found": self.found,
            "query": self.query,
            "content": self.content,
            "fetched_at": self.fetched_at,
            "age_seconds": self.age_seconds,
            "from_cache": self.from_cache,
            "stale": self.stale,
            "errors": list(self.errors),
            "meta": dict(self.meta),
        }


def _age(seconds: float) -> str:
    if seconds >= 2 * DAY:
        return f"{seconds / DAY:.0f}d"
    return format_duration(max(0.0, seconds))


@dataclass(frozen=True, slots=True)
class _Request:
    library: str
    version: str | None
    query: str
    max_tokens: int


class DocsService:
    """Looks up docs through a DocsStore and providers in order. Owns both: `aclose` closes them."""

    def __init__(
        self,
        store: DocsStore | Callable[[], DocsStore],
        providers: Sequence[DocsProvider],
        *,
        lookup_timeout: float = 5.0,
        remote_ttl: float = 7 * DAY,
        remote_hard_expiry: float = 30 * DAY,
        local_expiry: float = 30 * DAY,
        breaker_clock: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lookup_timeout <= 0:
            raise ValueError(f"lookup_timeout must be > 0, got {lookup_timeout}")
        if remote_hard_expiry < remote_ttl:
            raise ValueError("remote_hard_expiry must be >= remote_ttl")
        # A factory is called on first use: answers from installed packages' own indexes
        # never touch the shared cache, so a CLI call answered locally never opens it.
        self._store: DocsStore | None = store if isinstance(store, DocsStore) else None
        self._store_factory = None if isinstance(store, DocsStore) else store
        self._store_lock = threading.Lock()
        self.providers = list(providers)
        self.lookup_timeout = lookup_timeout
        self.remote_ttl = remote_ttl
        self.remote_hard_expiry = remote_hard_expiry
        self.local_expiry = local_expiry
        self.clock = clock
        self.breakers = {
            provider.name: CircuitBreaker(provider.name, clock=breaker_clock)
            for provider in self.providers
        }
        self._inflight: dict[str, asyncio.Task[ProviderResult | None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._resident: set[str] = set()  # keys this process has put in or read from tier 1
        # Ranked answers for recent (content, query, budget): a warm hit skips re-ranking.
        # Keyed by the content string itself, whose hash Python caches on the object.
        self._ranked: OrderedDict[tuple[str, str, int], str] = OrderedDict()

    @property
    def store(self) -> DocsStore:
        """The shared cache, opened now if it was not yet (blocking: call it from a worker
        thread, as `asyncio.to_thread(lambda: service.store.stats())`)."""
        with self._store_lock:
            if self._store is None:
                assert self._store_factory is not None
                self._store = self._store_factory()
            return self._store

    async def _open_store(self) -> DocsStore:
        if self._store is not None:
            return self._store
        # Opening waits (bounded) for the database: never on the event loop.
        return await asyncio.to_thread(lambda: self.store)

    async def lookup(
        self,
        library: str,
        query: str = "",
        *,
        version: str | None = None,
        max_tokens: int = 4000,
        refresh: bool = False,
        offline: bool = False,
        timeout: float | None = None,
    ) -> DocsResult:
        """Docs for `library`; raises InvalidLibraryName for a name that is not a package name.

        `timeout` is what the caller has left; the lookup takes at most the smaller of it and
        `lookup_timeout`. `refresh` skips cached answers (a failed refresh still falls back
        to them); `offline` never touches the network.
        """
        name = check_library_name(library)
        budget = (
            self.lookup_timeout if timeout is None else max(0.0, min(timeout, self.lookup_timeout))
        )
        deadline = asyncio.get_running_loop().time() + budget
        errors: list[str] = []
        resolved = version or await self._installed_version(name, deadline, errors)
        request = _Request(name, resolved, query, max_tokens)
        fallback: tuple[CacheEntry, str] | None = None
        for provider in self.providers:
            if not provider.remote and version is None and resolved is None:
                if not any(error.startswith(f"{provider.name}: ") for error in errors):
                    errors.append(f"{provider.name}: {name} is not installed in this project")
                continue
            if isinstance(provider, AnsweringProvider):
                answered = await self._answer(provider, request, errors)
                if answered is not None:
                    return answered
                continue
            key = self._key(provider, request)
            if not refresh or offline:
                cached = await self._cached(key)
                if cached is not None:
                    entry, tier = cached
                    if entry.is_fresh(self.clock()):
                        return self._from_entry(request, entry, tier, stale=False, errors=errors)
                    if not offline:
                        self._refresh_in_background(provider, key, request)
                    return self._from_entry(request, entry, tier, stale=True, errors=errors)
            if offline and provider.remote:
                errors.append(f"{provider.name}: skipped (offline)")
                continue
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                errors.append(
                    f"{provider.name}: not tried, the {budget:.1f}s lookup budget is spent"
                )
                continue
            try:
                result = await self._fetch_shared(provider, key, request, remaining)
            except ProviderError as error:
                errors.append(str(error))
            else:
                if result is not None:
                    return self._from_result(request, result, errors)
                errors.append(f"{provider.name}: no documentation for {name}")
            if refresh and fallback is None:
                cached = await self._cached(key)
                if cached is not None:
                    fallback = cached
        if fallback is not None:
            entry, tier = fallback
            return self._from_entry(request, entry, tier, stale=True, errors=errors)
        return DocsResult(
            canonical_package_name(name), resolved, None, "", errors=errors, query=query
        )

    async def _answer(
        self, provider: AnsweringProvider, request: _Request, errors: list[str]
    ) -> DocsResult | None:
        name = getattr(provider, "name", "local")
        try:
            result = await provider.answer(
                request.library, request.version, request.query, request.max_tokens
            )
        except ProviderError as error:
            errors.append(str(error))
            return None
        except Exception as error:  # an unreadable package must not sink the lookup
            logger.exception("%s: answering for %s failed", name, request.library)
            errors.append(
                f"{name}: cannot index {request.library}: {type(error).__name__}: {error}"
            )
            return None
        if result is None:
            errors.append(f"{name}: no documentation for {request.library}")
            return None
        built_now = bool(result.meta.get("index_built_now"))
        return DocsResult(
            library=canonical_package_name(request.library),
            version=result.version or request.version,
            provider=result.provider,
            content=result.content,
            fetched_at=None,
            age_seconds=None,
            from_cache=None if built_now else "index",
            stale=False,
            errors=errors,
            query=request.query,
            meta=dict(result.meta),
        )

    async def needs_refresh(
        self, library: str, query: str = "", *, version: str | None = None, offline: bool = False
    ) -> bool:
        """True when no provider has a fresh cached answer: what a prewarm should fetch
        (with `lookup(..., refresh=True)`, so that it waits for the new answer)."""
        name = check_library_name(library)
        deadline = asyncio.get_running_loop().time() + self.lookup_timeout
        resolved = version or await self._installed_version(name, deadline, [])
        request = _Request(name, resolved, query, 0)
        for provider in self.providers:
            if offline and provider.remote:
                continue
            if not provider.remote and version is None and resolved is None:
                continue
            if isinstance(provider, AnsweringProvider):
                return True  # its index is built on first answer; a prewarm asks once
            cached = await self._cached(self._key(provider, request))
            if cached is not None and cached[0].is_fresh(self.clock()):
                return False
        return True

    async def settle(self) -> None:
        """Wait for background refreshes and in-flight fetches (each bounded by its own
        timeout), e.g. before a short-lived process exits."""
        while self._background or self._inflight:
            pending = [*self._background, *self._inflight.values()]
            await asyncio.gather(*pending, return_exceptions=True)

    async def aclose(self) -> None:
        tasks = list(self._background) + list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for provider in self.providers:
            await provider.aclose()
        if self._store is not None:
            await asyncio.to_thread(self._store.close)

    # -- version, cache and fetch ---------------------------------------------------------

    async def _installed_version(self, name: str, deadline: float, errors: list[str]) -> str | None:
        for provider in self.providers:
            if provider.remote:
                continue
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                async with asyncio.timeout(max(0.0, remaining)):
                    installed = await provider.installed_version(name)
            except TimeoutError:
                errors.append(f"{provider.name}: finding the installed version timed out")
                return None
            except Exception as error:  # unreadable environment: report it, keep looking up
                logger.exception("%s: cannot tell which %s is installed", provider.name, name)
                errors.append(
                    f"{provider.name}: cannot read the installed packages: "
                    f"{type(error).__name__}: {error}"
                )
                continue
            if installed:
                return installed
        return None

    def _key(self, provider: DocsProvider, request: _Request) -> CacheKey:
        # Local docs are the whole document for a version, ranked per query on read.
        query = request.query if provider.remote else ""
        return CacheKey.of(provider.name, request.library, request.version, query)

    async def _cached(self, key: CacheKey) -> tuple[CacheEntry, str] | None:
        string_key = key.as_string()
        resident = string_key in self._resident
        entry = await (await self._open_store()).aget(key)
        if entry is None:
            self._resident.discard(string_key)
            return None
        self._remember(string_key)
        return entry, "memory" if resident else "disk"

    def _remember(self, string_key: str) -> None:
        if len(self._resident) > 50_000:
            self._resident.clear()  # only a label hint; bounded rather than exact
        self._resident.add(string_key)

    async def _fetch_shared(
        self, provider: DocsProvider, key: CacheKey, request: _Request, timeout: float
    ) -> ProviderResult | None:
        """One fetch per key at a time: later callers wait for the first caller's fetch."""
        string_key = key.as_string()
        task = self._inflight.get(string_key)
        if task is None:
            task = asyncio.create_task(self._fetch_and_store(provider, key, request, timeout))
            self._inflight[string_key] = task
            task.add_done_callback(lambda done: self._forget_flight(string_key, done))
        try:
            async with asyncio.timeout(timeout):
                # Shielded: one caller giving up must not cancel the fetch others wait for.
                return await asyncio.shield(task)
        except TimeoutError:
            raise ProviderUnavailable(
                provider.name, f"no answer for {request.library!r} within {timeout:.1f}s"
            ) from None

    def _forget_flight(self, string_key: str, done: asyncio.Task[ProviderResult | None]) -> None:
        if self._inflight.get(string_key) is done:
            del self._inflight[string_key]
        if not done.cancelled():
            done.exception()  # retrieved here so an unawaited failure is not logged as lost

    async def _fetch_and_store(
        self, provider: DocsProvider, key: CacheKey, request: _Request, timeout: float
    ) -> ProviderResult | None:
        result = await guarded_fetch(
            provider,
            self.breakers[provider.name],
            request.library,
            request.version,
            request.query,
            timeout=timeout,
        )
        if result is None or not result.content.strip():
            return None
        entry = self._entry_for(provider, result)
        written = await (await self._open_store()).aset(key, entry)
        self._remember(key.as_string())
        if not written:
            logger.info("docs cache: write of %s skipped (store busy or unavailable)", key)
        return result

    def _entry_for(self, provider: DocsProvider, result: ProviderResult) -> CacheEntry:
        now = self.clock()
        if provider.remote:
            fresh_until: float | None = now + self.remote_ttl
            expires_at: float | None = now + self.remote_hard_expiry
        else:
            # Keyed by installed version: fresh until the version changes; the expiry only
            # keeps versions no longer installed from accumulating.
            fresh_until, expires_at = None, now + self.local_expiry
        return CacheEntry(
            content=result.content,
            provider=result.provider,
            library=result.library,
            version=result.version or "",
            fetched_at=now,
            fresh_until=fresh_until,
            expires_at=expires_at,
            meta=dict(result.meta),
        )

    def _refresh_in_background(
        self, provider: DocsProvider, key: CacheKey, request: _Request
    ) -> None:
        task = asyncio.create_task(self._background_refresh(provider, key, request))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _background_refresh(
        self, provider: DocsProvider, key: CacheKey, request: _Request
    ) -> None:
        try:
            result = await self._fetch_shared(provider, key, request, self.lookup_timeout)
        except ProviderError as error:
            # The stale entry keeps being served; the next lookup tries again.
            logger.info("docs: background refresh of %s failed: %s", key.name, error)
            return
        if result is None:
            logger.info("docs: background refresh of %s: provider has no docs now", key.name)

    # -- results --------------------------------------------------------------------------

    def _rank(self, content: str, request: _Request) -> str:
        key = (content, request.query, request.max_tokens)
        ranked = self._ranked.get(key)
        if ranked is not None:
            self._ranked.move_to_end(key)
            return ranked
        from tether.kb.docindex.remote import rank_document

        ranked = rank_document(content, request.query, request.max_tokens)
        self._ranked[key] = ranked
        if len(self._ranked) > RANKED_ANSWERS_KEPT:
            self._ranked.popitem(last=False)
        return ranked

    def _from_entry(
        self,
        request: _Request,
        entry: CacheEntry,
        tier: str,
        *,
        stale: bool,
        errors: list[str],
    ) -> DocsResult:
        return DocsResult(
            library=canonical_package_name(request.library),
            version=entry.version or request.version,
            provider=entry.provider,
            content=self._rank(entry.content, request),
            fetched_at=entry.fetched_at,
            age_seconds=max(0.0, self.clock() - entry.fetched_at),
            from_cache=tier,
            stale=stale,
            errors=errors,
            query=request.query,
            meta=dict(entry.meta),
        )

    def _from_result(
        self, request: _Request, result: ProviderResult, errors: list[str]
    ) -> DocsResult:
        return DocsResult(
            library=canonical_package_name(request.library),
            version=result.version or request.version,
            provider=result.provider,
            content=self._rank(result.content, request),
            fetched_at=self.clock(),
            age_seconds=0.0,
            from_cache=None,
            stale=False,
            errors=errors,
            query=request.query,
            meta=dict(result.meta),
        )


def build_docs_service(
    workspace: Path,
    *,
    cache_dir: Path | None = None,
    providers: Sequence[str] = KNOWN_PROVIDERS,
    context7_url: str | None = None,
    context7_key: str | None = None,
    interpreter: str | None = None,
    lookup_timeout: float = 5.0,
) -> DocsService:
    """The service front ends use: a DocsStore in `cache_dir` (default: TETHER_CACHE_DIR or
    the user cache dir) and the named providers in order. Raises ValueError for an unknown
    provider name. Context7's URL and key fall back to CONTEXT7_API_URL / CONTEXT7_API_KEY.
    """
    from tether.kb.providers.deferred import DeferredProvider
    from tether.kb.providers.local import LocalProvider

    unknown = [name for name in providers if name not in KNOWN_PROVIDERS]
    if unknown:
        raise ValueError(
            f"unknown docs provider {unknown[0]!r} (known: {', '.join(KNOWN_PROVIDERS)})"
        )
    root = workspace.resolve()
    from tether.kb.cache_location import default_cache_directory

    directory = default_cache_directory() if cache_dir is None else cache_dir
    local = LocalProvider(root, interpreter=interpreter, index_dir=directory / "index")

    def context7() -> DocsProvider:
        from tether.kb.providers.context7 import Context7Provider, Context7Settings

        settings = Context7Settings.resolve(context7_url, context7_key)
        return Context7Provider(settings, repository_finder=local.repository_url)

    built: list[DocsProvider] = []
    for name in providers:
        if name == "local":
            built.append(local)
        else:
            built.append(DeferredProvider("context7", True, context7))
    return DocsService(lambda: DocsStore(directory), built, lookup_timeout=lookup_timeout)


def docs_service_for(workspace: Path, config: TetherConfig) -> DocsService:
    """build_docs_service with everything taken from tether's settings: the one place
    front ends (CLI, language server, the docs step) turn settings into a service.
    Raises ValueError for an unknown provider name."""
    import os

    return build_docs_service(
        workspace,
        cache_dir=Path(config.docs.cache_dir).expanduser() if config.docs.cache_dir else None,
        providers=config.docs.providers,
        context7_url=config.context7.url,
        context7_key=os.environ.get(config.context7.api_key_env) or None,
        interpreter=config.interpreter,
        lookup_timeout=config.docs.lookup_timeout,
    )
