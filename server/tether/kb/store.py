"""The docs knowledge base's two-tier cache: keys, entries, and the DocsStore facade.

Tier 1 is a per-process LRU bounded in bytes (memory_tier); tier 2 is a diskcache database
shared by every process (disk_tier). Values cross tier 2 as orjson bytes, never pickle.
Lookups never raise and never wait longer than the SQLite busy timeout.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import orjson

from tether.kb.cache_location import default_cache_directory
from tether.kb.disk_tier import DiskTier
from tether.kb.memory_tier import MemoryTier
from tether.kb.store_stats import StoreStats, TierCounters

logger = logging.getLogger(__name__)

ENTRY_FORMAT_VERSION = 1
"""Bumped when CacheEntry's serialised shape changes; other versions read as misses."""

ENTRY_OVERHEAD_BYTES = 256
"""Estimated per-entry memory beyond the content itself (object headers, key, metadata)."""

KEY_FORMAT_PREFIX = "kb1"
"""Prefix of CacheKey.as_string, so that a future key format cannot collide with this one."""


def canonical_package_name(name: str, ecosystem: str | None = None) -> str:
    """PyPI names per PEP 503 (packaging's canonicalize_name); npm names lowercased, '.'/'_' kept.

    Without an explicit ecosystem, a scoped name (`@scope/pkg`) or one with a '/' is npm.
    """
    stripped = name.strip()
    if not stripped:
        raise ValueError("package name is empty")
    if ecosystem == "npm" or (ecosystem is None and (stripped.startswith("@") or "/" in stripped)):
        return stripped.lower()
    if ecosystem not in (None, "pypi"):
        raise ValueError(f"unknown ecosystem {ecosystem!r} for package {name!r}")
    from tether.project.package_names import canonicalize_name

    return canonicalize_name(stripped)


def normalise_query(query: str) -> str:
    """Casefolded, whitespace collapsed to single spaces, stripped."""
    return " ".join(query.casefold().split())


@dataclass(frozen=True, slots=True)
class CacheKey:
    """Identifies one cached docs answer. Build with CacheKey.of to get canonical parts."""

    provider: str
    """Provider that produced the docs, e.g. 'local' or 'context7' (lowercase)."""
    name: str
    """Canonical package name (see canonical_package_name)."""
    version: str
    """Package version the docs are for; '' when unknown."""
    query: str
    """Normalised query (see normalise_query); '' for the library's general docs."""

    @classmethod
    def of(
        cls,
        provider: str,
        name: str,
        version: str | None,
        query: str,
        *,
        ecosystem: str | None = None,
    ) -> CacheKey:
        """Canonicalise every part; raises ValueError for an empty provider or name."""
        canonical_provider = provider.strip().lower()
        if not canonical_provider:
            raise ValueError(f"cache key for {name!r} has an empty provider")
        return cls(
            provider=canonical_provider,
            name=canonical_package_name(name, ecosystem),
            version=(version or "").strip(),
            query=normalise_query(query),
        )

    def as_string(self) -> str:
        """Stable and unambiguous: each part percent-encoded (so '|' and '%' cannot collide)."""
        parts = (self.provider, self.name, self.version, self.query)
        return "|".join((KEY_FORMAT_PREFIX, *(quote(part, safe="") for part in parts)))


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cached docs answer with its freshness rules."""

    content: str
    """The documentation text (markdown) served to the agent."""
    provider: str
    """Provider that produced it."""
    library: str
    """Library name as the provider reported it (for headers; the key holds the canonical name)."""
    version: str
    """Version the docs describe; '' when unknown."""
    fetched_at: float
    """Wall-clock epoch seconds when the provider answered."""
    fresh_until: float | None
    """Epoch seconds after which the entry is stale (serve it, refresh in the background);
    None = fresh until the key changes (local entries keyed by installed version)."""
    expires_at: float | None
    """Hard expiry in epoch seconds: never served after it; None = never expires."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Provider-specific extras (library id, source URL, token estimate); JSON-serialisable."""

    def to_bytes(self) -> bytes:
        """orjson bytes; raises TypeError when `meta` holds something orjson cannot encode."""
        return orjson.dumps(
            {
                "v": ENTRY_FORMAT_VERSION,
                "content": self.content,
                "provider": self.provider,
                "library": self.library,
                "version": self.version,
                "fetched_at": self.fetched_at,
                "fresh_until": self.fresh_until,
                "expires_at": self.expires_at,
                "meta": self.meta,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> CacheEntry:
        """Decode what to_bytes wrote; raises ValueError naming the problem on anything else."""
        try:
            decoded = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise ValueError(f"cache entry is not JSON: {error}") from None
        if not isinstance(decoded, dict):
            raise ValueError(f"cache entry is a JSON {type(decoded).__name__}, not an object")
        if decoded.get("v") != ENTRY_FORMAT_VERSION:
            raise ValueError(f"cache entry format {decoded.get('v')!r} is not supported")
        meta = decoded.get("meta")
        if not isinstance(meta, dict):
            raise ValueError("cache entry field 'meta' is not an object")
        return cls(
            content=_text_field(decoded, "content"),
            provider=_text_field(decoded, "provider"),
            library=_text_field(decoded, "library"),
            version=_text_field(decoded, "version"),
            fetched_at=_time_field(decoded, "fetched_at", optional=False) or 0.0,
            fresh_until=_time_field(decoded, "fresh_until", optional=True),
            expires_at=_time_field(decoded, "expires_at", optional=True),
            meta=meta,
        )

    def is_fresh(self, now: float) -> bool:
        if self.is_expired(now):
            return False
        return self.fresh_until is None or now < self.fresh_until

    def is_expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def memory_size(self, key: str) -> int:
        """Bytes this entry is charged in tier 1."""
        return len(self.content) + len(key) + ENTRY_OVERHEAD_BYTES


def _text_field(decoded: dict[str, Any], name: str) -> str:
    value = decoded.get(name)
    if not isinstance(value, str):
        raise ValueError(f"cache entry field {name!r} is not a string")
    return value


def _time_field(decoded: dict[str, Any], name: str, *, optional: bool) -> float | None:
    value = decoded.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"cache entry field {name!r} is not a number")
    return float(value)


class DocsStore:
    """Two-tier docs cache: tier 1 in this process, tier 2 on disk shared by all processes.

    get/aget never raise; a contended or corrupt tier 2 is a miss (or, for writes, a queued or
    skipped write) plus one logged warning per kind of failure. Use it as a context manager
    or call close(), so that writes queued behind other processes' locks are flushed.
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        memory_limit_bytes: int = 32 * 2**20,
        disk_timeout_ms: int = 25,
        open_timeout_ms: int = 500,
    ) -> None:
        """`directory` None: $TETHER_CACHE_DIR, else the user cache dir + /docs (made 0700).
        `disk_timeout_ms` bounds a tier-2 read's wait for a busy database (a write that
        finds it busy is queued instead). `open_timeout_ms` bounds how long the constructor
        waits for tier 2 to open (diskcache's schema writes queue behind other processes'
        writes); past it tier 2 finishes opening in the background: reads miss and writes
        queue until then."""
        if disk_timeout_ms <= 0:
            raise ValueError(f"disk_timeout_ms must be > 0, got {disk_timeout_ms}")
        self._directory = default_cache_directory() if directory is None else Path(directory)
        self._memory: MemoryTier[CacheEntry] = MemoryTier(memory_limit_bytes)
        self._memory_counters = TierCounters()
        self._disk_counters = TierCounters()
        self._closed = False
        self._disk = DiskTier(
            self._directory,
            timeout_ms=disk_timeout_ms,
            counters=self._disk_counters,
            open_budget_s=open_timeout_ms / 1000,
        )

    @property
    def directory(self) -> Path:
        return self._directory

    def wait_disk_opened(self, timeout_s: float) -> bool:
        """Wait for tier 2's current open attempt to finish; True if it has (either way)."""
        return self._disk.wait_opened(timeout_s)

    # -- reads ----------------------------------------------------------------------------

    def get(self, key: CacheKey) -> CacheEntry | None:
        """Tier 1, then tier 2 (promoting a hit into tier 1). Expired entries are misses."""
        string_key = key.as_string()
        entry = self._get_from_memory(string_key)
        if entry is not None:
            return entry
        return self._get_from_disk(string_key)

    async def aget(self, key: CacheKey) -> CacheEntry | None:
        """Like get; tier 2 runs in a worker thread so the event loop never waits on SQLite."""
        import asyncio  # lazily: ~35 ms that a synchronous CLI lookup does not need

        string_key = key.as_string()
        entry = self._get_from_memory(string_key)
        if entry is not None:
            return entry
        return await asyncio.to_thread(self._get_from_disk, string_key)

    def _get_from_memory(self, string_key: str) -> CacheEntry | None:
        started = time.perf_counter_ns()
        entry = self._memory.get(string_key)
        if entry is not None and entry.is_expired(time.time()):
            self._memory.delete(string_key)
            entry = None
        elapsed = time.perf_counter_ns() - started
        if entry is None:
            self._memory_counters.miss(elapsed)
        else:
            self._memory_counters.hit(elapsed)
        return entry

    def _get_from_disk(self, string_key: str) -> CacheEntry | None:
        started = time.perf_counter_ns()
        entry = self._decode_disk_value(string_key, self._disk.get(string_key))
        if entry is not None:
            self._memory.set(string_key, entry, entry.memory_size(string_key))
        elapsed = time.perf_counter_ns() - started
        if entry is None:
            self._disk_counters.miss(elapsed)
        else:
            self._disk_counters.hit(elapsed)
        return entry

    def _decode_disk_value(self, string_key: str, data: bytes | None) -> CacheEntry | None:
        if data is None:
            return None
        try:
            entry = CacheEntry.from_bytes(data)
        except ValueError as error:
            logger.warning(
                "docs cache %s: entry %s is unreadable (%s); deleted, treated as a miss",
                self._directory,
                string_key,
                error,
            )
            self._disk.delete(string_key)
            return None
        if entry.is_expired(time.time()):
            return None
        return entry

    # -- writes ---------------------------------------------------------------------------

    def set(self, key: CacheKey, entry: CacheEntry) -> bool:
        """Store in both tiers. False when the disk write was skipped (tier 1 is still set).

        The caller waits for tier 2's lock at most a few milliseconds (disk_tier's
        CALLER_BUSY_TIMEOUT_MS): when another process holds it longer, the value is queued for
        this store's background writer and appended to this process's spill log, and True is
        returned; reads in every process see it at once either way (close() or flush() waits
        for it to land in the database; what cannot land by then is left in the log for the
        next process to land). False means the tier is unavailable or failing, or the queue
        is full.
        Raises TypeError only for a caller bug: `entry.meta` that orjson cannot encode.
        """
        data, string_key, expire_s = self._prepare_write(key, entry)
        if expire_s is not None and expire_s <= 0:
            self.delete(key)  # already past its hard expiry: storing it would serve nothing
            return True
        written = self._disk.set(string_key, data, expire_s)
        if not written:
            self._disk_counters.skipped_write()
        return written

    async def aset(self, key: CacheKey, entry: CacheEntry) -> bool:
        """Like set; the disk write runs in a worker thread."""
        import asyncio

        data, string_key, expire_s = self._prepare_write(key, entry)
        if expire_s is not None and expire_s <= 0:
            self._memory.delete(string_key)
            await asyncio.to_thread(self._disk.delete, string_key)
            return True
        written = await asyncio.to_thread(self._disk.set, string_key, data, expire_s)
        if not written:
            self._disk_counters.skipped_write()
        return written

    def _prepare_write(self, key: CacheKey, entry: CacheEntry) -> tuple[bytes, str, float | None]:
        """Serialise, set tier 1, and work out tier 2's expiry in seconds from now."""
        data = entry.to_bytes()  # first: an unencodable entry must not reach either tier
        string_key = key.as_string()
        expire_s = None if entry.expires_at is None else entry.expires_at - time.time()
        storable = expire_s is None or expire_s > 0
        if storable and not self._memory.set(string_key, entry, entry.memory_size(string_key)):
            self._memory_counters.skipped_write()
        return data, string_key, expire_s

    def delete(self, key: CacheKey) -> None:
        string_key = key.as_string()
        self._memory.delete(string_key)
        self._disk.delete(string_key)

    # -- maintenance ----------------------------------------------------------------------

    def stats(self) -> StoreStats:
        memory_entries, memory_bytes = self._memory.usage()
        disk_entries, disk_bytes = self._disk.usage()
        return StoreStats(
            memory=self._memory_counters.snapshot(memory_entries, memory_bytes),
            disk=self._disk_counters.snapshot(disk_entries, disk_bytes),
            directory=str(self._directory),
            disk_state=str(self._disk.state),
            disk_detail=self._disk.detail,
        )

    def flush(self, timeout_s: float = 2.0) -> bool:
        """Wait (bounded) until queued tier-2 writes have landed; False on timeout."""
        return self._disk.flush(timeout_s)

    def clear(self) -> int:
        """Empty both tiers and the counters summed over processes. Returns entries removed
        from tier 2 (the persistent cache), or from tier 1 when tier 2 removed none
        (unavailable, or holding nothing)."""
        from tether.kb import shared_stats

        memory_removed = self._memory.clear()
        disk_removed = self._disk.clear()
        shared_stats.reset(self._directory)
        return disk_removed or memory_removed

    def close(self) -> None:
        """Flush queued tier-2 writes (at most ~2 s), add this process's counters to the
        directory's totals (see shared_stats), then release the database."""
        self._disk.close()
        self._memory.clear()
        if self._closed:
            return
        self._closed = True
        from tether.kb import shared_stats

        figures: dict[str, int] = {}
        for tier, counters in (("memory", self._memory_counters), ("disk", self._disk_counters)):
            snapshot = counters.snapshot(None, None)
            for name in ("hits", "misses", "errors", "busy", "deferred_writes", "skipped_writes"):
                figures[f"{tier}.{name}"] = int(getattr(snapshot, name))
        shared_stats.add(self._directory, figures)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
