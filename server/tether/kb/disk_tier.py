"""Tier 2 of the docs cache: a diskcache database shared by every process, bytes in and out.

Contention and corruption never become a long wait or an exception here. A read waits for
a busy database at most `timeout_ms`; a write waits for the lock at most
CALLER_BUSY_TIMEOUT_MS, then its value is spilled where every process reads it (spill_log)
and queued for a background writer that lands it (deferred_writes); a failure is a miss or
a skipped write; each kind of failure is logged as a warning once per store (then at debug
level) and counted.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sqlite3
import threading
import time
from enum import Enum, StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from tether.kb.cache_location import ensure_private_directory
from tether.kb.deferred_writes import DeferredWrites
from tether.kb.row_writer import Row, RowWriter
from tether.kb.spill_log import SpilledValue, SpillLog

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from tether.kb.store_stats import TierCounters

_T = TypeVar("_T")

logger = logging.getLogger(__name__)

DATABASE_NAME = "cache.db"
"""diskcache's database file name inside the cache directory (diskcache.core.DBNAME)."""

CORRUPT_SUFFIX = ".corrupt-"
"""Infix of a database file moved aside because it could not be opened (removed by clear)."""

# Tuned for many processes writing to one cache at once; see DiskTier._call for busy waits.
DISKCACHE_SETTINGS: Mapping[str, Any] = MappingProxyType(
    {
        # The default; named because it matters: least-recently-USED would turn every get
        # into a write transaction, and reads must never queue behind writers.
        "eviction_policy": "least-recently-stored",
        # diskcache's hit/miss statistics are also a write per get; we count in-process instead.
        "statistics": 0,
        # No cull inside set(): by default every set also looks for expired rows and checks the
        # database volume inside its write transaction, which lengthens the time each writer
        # holds the lock (~40 -> ~30 us per set measured) that every other process queues on.
        # Culling runs off the hot path instead (after opening, then every CULL_EVERY_WRITES).
        "cull_limit": 0,
        # Docs pages are text of a few KB to a few hundred KB; keeping values up to 1 MiB inside
        # SQLite means one read per hit and no orphan files when a process dies mid-write.
        "disk_min_file_size": 2**20,
        "size_limit": 2**30,
        # Left at diskcache's defaults on purpose: journal_mode=wal (readers never wait for
        # writers) and synchronous=NORMAL (in WAL mode no fsync per commit, only at checkpoint);
        # synchronous=OFF measured no better under 8-process contention, so durability stays.
    }
)

CULL_EVERY_WRITES = 500
"""Successful writes by one store between background culls (expiry, then size limit)."""

INLINE_VALUE_LIMIT = DISKCACHE_SETTINGS["disk_min_file_size"]
"""Values below this are stored in the row and written by row_writer in one statement;
larger ones go to a file through diskcache."""

CALLER_BUSY_TIMEOUT_MS = 2
"""How long a caller's write may wait for another process's write to finish: SQLite's busy
timeout, slept in C without the GIL. Past it the value is spilled where every process reads
it (spill_log) and queued for the background writer. A write holds
the lock for one statement only (see row_writer), so 2 ms lets most writes land directly,
which keeps the background writers (and their batches holding the lock) rare. Measured, 8
processes on 2 cores at load 7, 2 runs each: store waits p99 1.7-1.9 ms / 350-380 writes
queued with 1 ms, 2.6 ms / 90-130 with 2 ms, 3.5 ms / ~100 with 3 ms; 5.9-6.5 ms when callers
queued on a lock file for up to 50 ms. Never queuing (every write handed to the background
writer) measured worse at the wall p99: 11.5 ms against 6.6 ms (medians of 7 runs)."""

DEFERRED_WRITE_PATIENCE_S = 2.0
"""How long the background writer keeps trying one queued value before giving up on it."""

DEFERRED_WRITE_MAX_BYTES = 16 * 2**20
"""Most bytes the background writer may hold queued; beyond it a busy write is skipped."""

CLOSE_FLUSH_S = 2.0
"""How long close() waits for queued writes to land."""

YIELDING_ATTEMPTS = 8
FIRST_RETRY_PAUSE_S = 0.0001
MAX_RETRY_PAUSE_S = 0.001
"""On a busy database: yield the CPU for the first attempts, then sleep 0.1 ms doubling to
1 ms, jittered; always within the tier's timeout."""

REOPEN_INTERVAL_S = 30.0
"""How long an unavailable disk tier waits before trying to open (or recover) it again."""


class _Outcome(Enum):
    OK = "ok"
    BUSY = "busy"
    FAILED = "failed"


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
        deferred_patience_s: float = DEFERRED_WRITE_PATIENCE_S,
        close_flush_s: float = CLOSE_FLUSH_S,
    ) -> None:
        self._directory = directory
        self._deferred_patience_s = deferred_patience_s
        self._close_flush_s = close_flush_s
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
        self._writes_since_cull = 0
        self._culling = False
        # Separate connections, both waiting for the lock in SQLite's busy handler (in C,
        # without the GIL): the caller's briefly, the background writer's with patience.
        self._spill = SpillLog(directory)
        # Held while a value is spilled and queued, and while the log is retired once the
        # queue has drained: the log never goes while it holds a value not yet landed.
        self._spill_turn = threading.Lock()
        self._gave_up_while_spilling = False
        database = directory / DATABASE_NAME
        self._caller_writer = RowWriter(database, busy_timeout_ms=CALLER_BUSY_TIMEOUT_MS)
        self._background_writer = RowWriter(
            database, busy_timeout_ms=max(1, int(deferred_patience_s * 1000))
        )
        self._deferred = DeferredWrites(
            self._write_patiently,
            max_bytes=DEFERRED_WRITE_MAX_BYTES,
            name="tether-kb-disk-writer",
            write_batch=self._write_batch_patiently,
            on_idle=self._retire_spill_log_if_idle,
        )
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
        ok, usage = self._call("stats", lambda cache: (len(cache), int(cache.volume())))
        return usage if ok and usage is not None else (None, None)

    # -- operations -----------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        """The stored bytes, None for a miss (or a failure), b"" for a row we cannot decode."""

        def read(cache: Any) -> bytes | None:
            try:
                value = cache.get(key, default=None, retry=False)
            except ValueError:
                return b""  # a row BytesOnlyDisk refuses to decode: garbage, caller deletes it
            if value is None or isinstance(value, bytes):
                return value
            return b""  # not something this store wrote (it writes bytes only)

        queued = self._deferred.pending_value(key)
        if queued is not None:
            return queued  # this process's own newer write, not yet on disk
        read_ok, value = self._call("read", read)
        if value is not None:
            return value
        logs = self._spill.other_logs()
        if logs:
            spilled = self._spill.find(key, logs)  # another process's write, on its way in
            if spilled is not None:
                return spilled
        if not read_ok:
            return None  # busy or failing: a miss
        # A log is removed only after its values landed: a value waiting in one when the
        # database was read, and gone from the logs since, is in the database now.
        _, value = self._call("read", read)
        return value

    def set(self, key: str, value: bytes, expire_s: float | None) -> bool:
        """Write now, or, when other processes hold the lock longer than
        CALLER_BUSY_TIMEOUT_MS, spill the value where every process reads it and queue it for
        the background writer: either way other processes read it when set() returns.

        False only when the value can be neither written nor queued: the tier is unavailable
        or failing, or the queue is over its byte budget.
        """
        expires_at = None if expire_s is None else time.time() + expire_s
        if self._deferred.holds(key):
            # Queue behind this process's earlier value for the key so it cannot land last.
            return self._defer(key, value, expires_at)
        if self._state is DiskState.OPENING:
            return self._defer(key, value, expires_at)  # lands once the slow open finishes
        outcome = self._write_now([(key, value, expire_s)])
        if outcome is _Outcome.OK:
            self._count_write()
            return True
        if outcome is _Outcome.BUSY:
            return self._defer(key, value, expires_at)
        return False

    def flush(self, timeout_s: float) -> bool:
        """Wait (bounded) until queued writes have landed or been given up."""
        return self._deferred.flush(timeout_s)

    def delete(self, key: str) -> bool:
        with self._spill_turn:
            if self._spill.active:  # hides a value spilled before from other processes at once
                self._spill.append(key, None, None)
        self._deferred.discard(key, self._timeout_s + self._deferred_patience_s)
        ok, deleted = self._call("delete", lambda cache: bool(cache.delete(key, retry=False)))
        return ok and bool(deleted)

    def _defer(self, key: str, value: bytes, expires_at: float | None) -> bool:
        with self._spill_turn:
            queued = self._deferred.defer(key, value, expires_at)
            if queued and self._spill.active:
                self._spill.append(key, value, expires_at)
            elif queued:
                self._spill_queue()  # starts the log with everything still queued
        if queued:
            self._counters.deferred_write()
            return True
        self._warn_once(
            "queue-full",
            "docs cache %s: write of %s skipped, the background write queue is full",
            self._directory,
            key,
        )
        return False

    def _write_now(self, rows: list[Row]) -> _Outcome:
        """The caller's one attempt (waiting at most CALLER_BUSY_TIMEOUT_MS): BUSY when another
        process (or another thread of this one) is writing, so that the caller can queue the
        rows instead of waiting."""

        def write(cache: Any) -> None:
            inline = [row for row in rows if len(row[1]) < INLINE_VALUE_LIMIT]
            if inline:
                kept_in_files = self._caller_writer.try_write_inline(inline)
                if kept_in_files is None:
                    raise sqlite3.OperationalError("database is locked (by this process)")
            else:
                kept_in_files = []
            for key, value, expire_s in rows:
                if len(value) >= INLINE_VALUE_LIMIT or key in kept_in_files:
                    cache.set(key, value, expire=expire_s, retry=False)

        outcome, _ = self._attempt("write", write, wait_s=0.0)
        return outcome

    def _write_rows_patiently(self, rows: list[Row]) -> _Outcome:
        """The background writer's write: no caller waits, so it may wait for the lock, in
        SQLite's busy handler for inline rows (see row_writer)."""

        def write(cache: Any) -> None:
            inline = [row for row in rows if len(row[1]) < INLINE_VALUE_LIMIT]
            kept_in_files = self._background_writer.write_inline(inline) if inline else []
            for key, value, expire_s in rows:
                if len(value) >= INLINE_VALUE_LIMIT or key in kept_in_files:
                    cache.set(key, value, expire=expire_s, retry=False)

        outcome, _ = self._attempt("write", write, wait_s=self._deferred_patience_s)
        return outcome

    def _spill_queue(self) -> None:
        """Append everything queued to this process's log (holding _spill_turn)."""
        for key, pending in self._deferred.queued():
            if not self._spill.append(key, pending.value, pending.expires_at):
                break

    def _write_patiently(self, key: str, value: bytes, expire_s: float | None) -> bool:
        """The background writer's write: no caller waits, so it may wait for the lock."""
        self._opened.wait(self._deferred_patience_s)
        outcome = self._write_rows_patiently([(key, value, expire_s)])
        if outcome is _Outcome.BUSY:
            self._record_busy("deferred write")
        if outcome is _Outcome.OK:
            self._count_write()
            return True
        self._counters.skipped_write()
        self._gave_up_while_spilling = True  # still in the spill log: a later cull lands it
        return False

    def _write_batch_patiently(self, items: list[tuple[str, bytes, float | None]]) -> None:
        """The background writer's writes: all queued inline values in one statement (no
        caller waits on this thread)."""
        self._opened.wait(self._deferred_patience_s)
        outcome = self._write_rows_patiently(items)
        if outcome is _Outcome.BUSY:
            self._record_busy("deferred write")
        if outcome is _Outcome.OK:
            for _ in items:
                self._count_write()
            return
        for _ in items:
            self._counters.skipped_write()
        self._gave_up_while_spilling = True  # still in the spill log: a later cull lands it

    def _retire_spill_log_if_idle(self) -> None:
        """Called by the background writer when its queue has drained: every value in this
        process's spill log has landed, so the log can go; or some were given up, and the
        log is left (unlocked) for the next cull, here or in another process, to land."""
        with self._spill_turn:
            if self._spill.active and len(self._deferred) == 0:
                self._spill.close(landed=not self._gave_up_while_spilling)
            self._gave_up_while_spilling = False

    def clear(self) -> int:
        """Remove every entry; under contention, as many as could be removed in time."""
        removed = 0

        def clear_rest(cache: Any) -> int:
            nonlocal removed
            try:
                removed += int(cache.clear(retry=False))
            except self._failure_types as error:
                # diskcache.Timeout carries the number removed before it gave up.
                if error.args and isinstance(error.args[0], int):
                    removed += error.args[0]
                raise
            return removed

        dropped = self._deferred.discard_all(self._timeout_s + self._deferred_patience_s)
        self._spill.clear()  # this process's queued values (in `dropped`) and other processes'
        self._call("clear", clear_rest)
        self._remove_moved_aside_databases()
        return removed + dropped

    def _remove_moved_aside_databases(self) -> None:
        """Corrupt databases moved aside at open are kept for inspection until a clear."""
        for moved in self._directory.glob(DATABASE_NAME + CORRUPT_SUFFIX + "*"):
            try:
                moved.unlink()
            except OSError as error:
                logger.warning("docs cache: cannot remove %s: %s", moved, error)

    def _call(self, operation: str, call: Callable[[Any], _T]) -> tuple[bool, _T | None]:
        """Run `call` on the open cache within this tier's timeout: (True, result), or
        (False, None) when it failed or the database stayed busy for the whole timeout."""
        outcome, value = self._attempt(operation, call, wait_s=self._timeout_s)
        if outcome is _Outcome.BUSY:
            self._record_busy(operation)
        return outcome is _Outcome.OK, value

    def _attempt(
        self, operation: str, call: Callable[[Any], _T], *, wait_s: float
    ) -> tuple[_Outcome, _T | None]:
        """Run `call`, retrying while the database is busy for up to `wait_s`.

        SQLite's own busy handler is off (connection timeout 0): it sleeps 1, 2, 5, 10, 15...
        ms between attempts, so a waiting writer usually sleeps through the few tens of
        microseconds in which the lock was free. Measured, 8 processes x 500 ops on 2 cores:
        write p99 about 30 ms, with skipped writes, under SQLite's handler. Yielding first
        hands the CPU to a lock holder that is runnable but preempted (the common case when
        processes outnumber cores) without a sleeper's wake-up boost.
        Failures other than contention are recorded here; BUSY is left to the caller.
        """
        deadline = time.monotonic() + wait_s
        pause = FIRST_RETRY_PAUSE_S
        attempt = 0
        while True:
            cache = self._current_cache()
            if cache is None:
                return _Outcome.FAILED, None
            try:
                return _Outcome.OK, call(cache)
            except self._failure_types as error:
                if classify_failure(error) != "contention":
                    self._record_failure(operation, error)
                    return _Outcome.FAILED, None
                if time.monotonic() + pause > deadline:
                    return _Outcome.BUSY, None
            attempt += 1
            if attempt <= YIELDING_ATTEMPTS:
                _yield_processor()
            else:
                import random  # lazily: ~8 ms of imports only a busy database needs

                time.sleep(pause * (0.5 + random.random()))
                pause = min(pause * 2, MAX_RETRY_PAUSE_S)

    def _count_write(self) -> None:
        """Start a background cull every CULL_EVERY_WRITES writes (cull_limit=0 skips it in set)."""
        with self._lock:
            self._writes_since_cull += 1
            due = self._writes_since_cull >= CULL_EVERY_WRITES and not self._culling
            if due:
                self._writes_since_cull = 0
                self._culling = True
        if due:
            threading.Thread(target=self._cull, name="tether-kb-disk-cull", daemon=True).start()

    def _cull(self) -> None:
        try:
            self._call("cull", lambda cache: cache.cull(retry=False))
            self._land_orphaned_spills()
        finally:
            with self._lock:
                self._culling = False

    def _land_orphaned_spills(self) -> None:
        """Values spilled by processes that died before landing them: each written unless the
        database holds a row for its key stored after it was spilled."""
        with contextlib.closing(self._spill.orphans()) as orphans:
            for newest in orphans:
                rows = self._rows_to_land(list(newest.values()))
                if rows is None:
                    return  # busy or failing: the log stays, the next cull tries again
                if rows and self._write_rows_patiently(rows) is not _Outcome.OK:
                    return

    def _rows_to_land(self, spilled: list[SpilledValue]) -> list[Row] | None:
        now = time.time()
        rows: list[Row] = []
        for record in spilled:
            if record.value is None or not record.is_live(now):
                continue
            ok, stored_at = self._call("read", functools.partial(_stored_at, key=record.key))
            if not ok:
                return None
            if stored_at is None or stored_at < record.written_at:
                expire_s = None if record.expires_at is None else record.expires_at - now
                rows.append((record.key, record.value, expire_s))
        return rows

    def close(self) -> None:
        """Flush queued writes (bounded), then close this thread's connection. Values that
        could not land stay in the spill log (where they went when queued) for the next
        cull, in whichever process opens the cache next."""
        self._deferred.flush(self._close_flush_s)
        waiting = len(self._deferred)  # queued or in flight
        self._deferred.close(0.0)
        with self._spill_turn:
            self._spill.close(landed=waiting == 0 and not self._gave_up_while_spilling)
        if waiting:
            self._warn_once(
                "left-on-close",
                "docs cache %s: %d writes could not land before close (database busy);"
                " left in %s for the next process to land",
                self._directory,
                waiting,
                self._spill.directory,
            )
        self._caller_writer.close()
        self._background_writer.close()
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
                # A database moved aside and recreated is a new file: reconnect to it.
                self._caller_writer.close()
                self._background_writer.close()
                if state is DiskState.UNAVAILABLE:
                    self._retry_open_at = time.monotonic() + self._reopen_interval_s
                cull_now = cache is not None and not self._culling
                if cull_now:
                    self._culling = True
            if cull_now:
                # Expired rows and the size limit, since set() does not cull (cull_limit=0).
                # Before `opened` is signalled, so that opening is one finished step.
                self._cull()
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
            timeout=0,  # busy waits are ours, bounded by timeout_ms: see _call
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

    def _record_busy(self, operation: str) -> None:
        self._counters.busy()
        self._warn_once(
            "contention",
            "docs cache %s: %s gave up, database busy in other processes; "
            "treated as a miss or skipped write",
            self._directory,
            operation,
        )

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


def _stored_at(cache: Any, *, key: str) -> float | None:
    """When the row for `key` was stored (epoch seconds), None without one."""
    # diskcache's `_sql` is its connection's execute; the columns are those row_writer writes.
    row = cache._sql("SELECT store_time FROM Cache WHERE key = ? AND raw = 1", (key,)).fetchone()
    return None if row is None else float(row[0])


def _yield_processor() -> None:
    sched_yield = getattr(os, "sched_yield", None)  # POSIX only
    if sched_yield is not None:
        sched_yield()
    else:
        time.sleep(0)  # Windows: Sleep(0) gives up the rest of the time slice


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
