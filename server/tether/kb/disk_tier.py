"""Tier 2 of the docs cache: a diskcache database shared by every process, bytes in and out.

Contention and corruption never become a wait or an exception here: SQLite's busy timeout
is the longest any call blocks, a failure is a miss or a skipped write, and each kind of
failure is logged as a warning once per store (then at debug level) and counted.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.kb.cache_location import ensure_private_directory

if TYPE_CHECKING:
    from tether.kb.store_stats import TierCounters

logger = logging.getLogger(__name__)

DATABASE_NAME = "cache.db"
"""diskcache's database file name inside the cache directory (diskcache.core.DBNAME)."""

CORRUPT_SUFFIX = ".corrupt-"
"""Infix of a database file moved aside because it could not be opened."""

# Tuned for many short-lived processes sharing one cache; see DiskTier._open_cache.
DISKCACHE_SETTINGS: dict[str, Any] = {
    # The default; named because it matters: least-recently-USED would turn every get
    # into a write transaction, and reads must never queue behind writers.
    "eviction_policy": "least-recently-stored",
    # diskcache's hit/miss statistics are also a write per get; we count in-process instead.
    "statistics": 0,
    # Docs pages are text of a few KB to a few hundred KB; keeping values up to 1 MiB inside
    # SQLite means one read per hit and no orphan files when a process dies mid-write.
    "disk_min_file_size": 2**20,
    # Incremental instead of FULL: FULL moves pages on every commit that frees some, which
    # lengthens each write transaction (and so every other writer's wait) under updates.
    "sqlite_auto_vacuum": 2,
    "size_limit": 2**30,
}


REOPEN_INTERVAL_S = 30.0
"""How long an unavailable disk tier waits before trying to open (or recover) it again."""


class DiskState(StrEnum):
    OPENING = "opening"
    OPEN = "open"
    UNAVAILABLE = "unavailable"


def classify_failure(error: BaseException) -> str:
    """'contention', 'corrupt' or 'io' for an exception raised by diskcache or SQLite."""
    if isinstance(error, sqlite3.OperationalError):
        message = str(error).lower()
        return "contention" if ("locked" in message or "busy" in message) else "io"
    if isinstance(error, sqlite3.DatabaseError):
        return "corrupt"  # "file is not a database", "database disk image is malformed"
    if isinstance(error, OSError):
        return "io"
    if type(error).__name__ == "Timeout":  # diskcache.Timeout: BEGIN IMMEDIATE timed out
        return "contention"
    return "corrupt"  # diskcache choking on rows it did not write (ValueError, TypeError)


class DiskTier:
    """diskcache.Cache behind a never-raise, never-wait interface of str keys and bytes values.

    Opening happens in a background thread: diskcache's own initialisation retries a locked
    database for up to 60 s, and the caller waits at most `open_budget_s` for it. Until it is
    open (or when it cannot be opened) every read is a miss and every write is skipped.
    """

    def __init__(
        self,
        directory: Path,
        *,
        timeout_ms: int,
        counters: TierCounters,
        open_budget_s: float,
        reopen_interval_s: float = REOPEN_INTERVAL_S,
    ) -> None:
        self._directory = directory
        self._reopen_interval_s = reopen_interval_s
        self._counters = counters
        self._timeout_s = timeout_ms / 1000  # diskcache/sqlite3 take seconds as a float
        self._lock = threading.Lock()
        self._cache: Any = None
        self._state = DiskState.OPENING
        self._detail: str | None = None
        self._closed = False
        self._warned: set[str] = set()
        self._failure_types: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)
        self._retry_open_at: float | None = None
        self._opened = self._start_opening()
        if not self._opened.wait(open_budget_s):
            self._warn_once(
                "slow-open",
                "docs cache %s still opening after %.1f s; using memory only until it is ready",
                directory,
                open_budget_s,
            )

    # -- state ----------------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def state(self) -> DiskState:
        return self._state

    @property
    def detail(self) -> str | None:
        return self._detail

    def wait_opened(self, timeout_s: float) -> bool:
        """Wait until the current open attempt has finished (whatever its outcome)."""
        return self._opened.wait(timeout_s)

    def usage(self) -> tuple[int | None, int | None]:
        """(entries, bytes on disk), or (None, None) when the tier cannot say."""
        cache = self._current_cache()
        if cache is None:
            return None, None
        try:
            return len(cache), int(cache.volume())
        except self._failure_types as error:
            self._record_failure("stats", error)
            return None, None

    # -- operations -----------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        cache = self._current_cache()
        if cache is None:
            return None
        try:
            value = cache.get(key, default=None, retry=False)
        except ValueError:
            return b""  # a row BytesOnlyDisk refuses to decode: garbage, the caller deletes it
        except self._failure_types as error:
            self._record_failure("read", error)
            return None
        if value is None:
            return None
        if not isinstance(value, bytes):
            # Not something this store wrote (we write bytes only); callers treat it as garbage.
            return b""
        return value

    def set(self, key: str, value: bytes, expire_s: float | None) -> bool:
        cache = self._current_cache()
        if cache is None:
            return False
        try:
            cache.set(key, value, expire=expire_s, retry=False)
        except self._failure_types as error:
            self._record_failure("write", error)
            return False
        return True

    def delete(self, key: str) -> bool:
        cache = self._current_cache()
        if cache is None:
            return False
        try:
            return bool(cache.delete(key, retry=False))
        except self._failure_types as error:
            self._record_failure("delete", error)
            return False

    def clear(self) -> int:
        """Remove every entry; under contention, as many as could be removed."""
        cache = self._current_cache()
        if cache is None:
            return 0
        try:
            return int(cache.clear(retry=False))
        except self._failure_types as error:
            self._record_failure("clear", error)
            # diskcache.Timeout carries the number removed before it gave up.
            removed = error.args[0] if error.args and isinstance(error.args[0], int) else 0
            return removed

    def close(self) -> None:
        with self._lock:
            self._closed = True
            cache, self._cache = self._cache, None
        if cache is not None:
            try:
                cache.close()
            except self._failure_types as error:
                logger.debug("closing docs cache %s: %s", self._directory, error)

    # -- opening --------------------------------------------------------------------------

    def _start_opening(self) -> threading.Event:
        opened = threading.Event()
        opener = threading.Thread(
            target=self._open, args=(opened,), name="tether-kb-disk-open", daemon=True
        )
        opener.start()
        return opened

    def _current_cache(self) -> Any:
        """The open diskcache.Cache, or None; an unavailable tier retries opening now and then
        in the background (a corrupt file is moved aside then), never on the caller's time."""
        cache = self._cache
        if cache is None and self._retry_open_at is not None:
            with self._lock:
                due = (
                    not self._closed
                    and self._retry_open_at is not None
                    and time.monotonic() >= self._retry_open_at
                )
                if due:
                    self._retry_open_at = None
                    self._state = DiskState.OPENING
            if due:
                self._opened = self._start_opening()
        return cache

    def _open(self, opened: threading.Event) -> None:
        try:
            cache, state, detail = self._open_or_recover()
            with self._lock:
                if self._closed:
                    if cache is not None:
                        cache.close()
                    return
                self._cache, self._state, self._detail = cache, state, detail
                if state is DiskState.UNAVAILABLE:
                    self._retry_open_at = time.monotonic() + self._reopen_interval_s
        finally:
            opened.set()

    def _open_or_recover(self) -> tuple[Any, DiskState, str | None]:
        try:
            ensure_private_directory(self._directory)
        except OSError as error:
            return self._unavailable(f"cannot create {self._directory}: {error}")
        try:
            import diskcache  # lazily, and off the caller's thread: ~35 ms of imports
        except ImportError as error:
            return self._unavailable(f"diskcache is not installed ({error})")
        self._failure_types = (sqlite3.Error, OSError, diskcache.Timeout)
        opening_errors = (*self._failure_types, ValueError, TypeError, KeyError)
        try:
            return self._open_cache(diskcache), DiskState.OPEN, None
        except opening_errors as error:
            if classify_failure(error) != "corrupt":
                return self._unavailable(f"cannot open {self._database_path()}: {error}")
            first_error = error
        moved_to = self._move_corrupt_database_aside()
        try:
            cache = self._open_cache(diskcache)
        except opening_errors as error:
            return self._unavailable(
                f"corrupt database {self._database_path()} ({first_error}); "
                f"reopening after moving it aside failed: {error}"
            )
        detail = f"corrupt database ({first_error}) moved aside to {moved_to}"
        self._warn_once("corrupt", "docs cache: %s", detail)
        return cache, DiskState.OPEN, detail

    def _open_cache(self, diskcache: Any) -> Any:
        return diskcache.Cache(
            str(self._directory),
            timeout=self._timeout_s,
            disk=_bytes_only_disk_type(diskcache),
            **DISKCACHE_SETTINGS,
        )

    def _unavailable(self, detail: str) -> tuple[Any, DiskState, str | None]:
        self._warn_once("unavailable", "docs cache disabled, using memory only: %s", detail)
        return None, DiskState.UNAVAILABLE, detail

    def _database_path(self) -> Path:
        return self._directory / DATABASE_NAME

    def _move_corrupt_database_aside(self) -> Path | None:
        database = self._database_path()
        if _database_is_readable(database):
            return None  # another process replaced it with a good one meanwhile
        stamp = f"{CORRUPT_SUFFIX}{int(time.time())}-{os.getpid()}"
        target = database.with_name(database.name + stamp)
        for suffix in ("", "-wal", "-shm"):
            source = database.with_name(database.name + suffix)
            try:
                source.rename(target.with_name(target.name + suffix))
            except FileNotFoundError:
                continue
            except OSError as error:
                logger.warning("docs cache: cannot move %s aside: %s", source, error)
        return target

    # -- failure accounting ---------------------------------------------------------------

    def _record_failure(self, operation: str, error: BaseException) -> None:
        kind = classify_failure(error)
        self._counters.error()
        if kind == "corrupt":
            # Every further call would fail the same way: stop using the file, and let a
            # background reopen move it aside after the reopen interval.
            with self._lock:
                if self._cache is not None:
                    self._cache = None
                    self._state = DiskState.UNAVAILABLE
                    self._detail = f"database became unreadable during {operation} ({error})"
                    self._retry_open_at = time.monotonic() + self._reopen_interval_s
        self._warn_once(
            kind,
            "docs cache %s: %s failed (%s: %s); treated as a miss or skipped write",
            self._directory,
            operation,
            kind,
            str(error) or type(error).__name__,
        )

    def _warn_once(self, kind: str, message: str, *args: object) -> None:
        with self._lock:
            first = kind not in self._warned
            self._warned.add(kind)
        logger.log(logging.WARNING if first else logging.DEBUG, message, *args)


def _database_is_readable(database: Path) -> bool:
    if not database.exists():
        return True
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.1)
    except sqlite3.Error:
        return False
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.Error:
        return False
    finally:
        connection.close()
    return True


def _bytes_only_disk_type(diskcache: Any) -> type:
    """A diskcache Disk that refuses to pickle: str keys and bytes values only, both ways."""

    class BytesOnlyDisk(diskcache.Disk):  # type: ignore[misc]
        def put(self, key: object) -> Any:
            if type(key) is not str:
                raise TypeError(f"docs cache keys are str, got {type(key).__name__}")
            return super().put(key)

        def get(self, key: object, raw: bool) -> Any:
            if not raw:
                raise ValueError("docs cache row has a pickled key; refusing to unpickle")
            return super().get(key, raw)

        def store(self, value: object, read: bool, key: object = None) -> Any:
            if type(value) is not bytes or read:
                raise TypeError(f"docs cache values are bytes, got {type(value).__name__}")
            return super().store(value, read, key=key)

        def fetch(self, mode: int, filename: str | None, value: object, read: bool) -> Any:
            if mode not in (diskcache.core.MODE_RAW, diskcache.core.MODE_BINARY) or read:
                raise ValueError(f"docs cache row has storage mode {mode}; refusing to decode")
            return super().fetch(mode, filename, value, read)

    return BytesOnlyDisk
