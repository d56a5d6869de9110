"""Tier 2's writes as ONE SQLite statement each, so the database's write lock is never held
by a thread that is waiting for Python's GIL.

diskcache's `set` is several statements (BEGIN IMMEDIATE, SELECT, INSERT or UPDATE, COMMIT).
The sqlite3 module gives the GIL up around every step and must win it back after each one,
so a writer holds the lock shared by every process through as many GIL hand-overs; with a
CPU-bound thread beside it each hand-over can take the whole switch interval (5 ms). That
stretched every other process's wait: measured, 8 processes on 2 cores, writes queued
behind the lock landed 250-420 ms late, and callers allowed to wait for it waited up to
50 ms. Here all rows go in one autocommitted upsert: taking the lock, writing, committing
and releasing happen inside one sqlite3_step, without the GIL, and a busy wait (SQLite's
busy handler, `busy_timeout_ms`) also sleeps without it.

Rows are exactly what diskcache.Cache.set writes for a str key and an inline bytes value
(raw key, MODE_RAW, size 0, no file); diskcache's triggers keep its count and size. A row
whose old value lives in a file (a value of 1 MiB or more) is not overwritten here, so that
the file is not orphaned: write_inline returns those keys for diskcache to replace.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

Row = tuple[str, bytes, float | None]
"""(key, value, seconds until hard expiry or None)."""

MODE_RAW = 1
"""diskcache.core.MODE_RAW: the value is stored in the row itself."""

_COLUMNS = (
    "key, raw, store_time, expire_time, access_time, access_count, tag, size, mode, filename, value"
)
_ROW_PLACEHOLDERS = f"(?, 1, ?, ?, ?, 0, NULL, 0, {MODE_RAW}, NULL, ?)"
_ON_CONFLICT = (
    " ON CONFLICT(key, raw) DO UPDATE SET store_time = excluded.store_time,"
    " expire_time = excluded.expire_time, access_time = excluded.access_time,"
    " access_count = 0, tag = NULL, size = 0, mode = excluded.mode, filename = NULL,"
    " value = excluded.value WHERE Cache.filename IS NULL"
)


class RowWriter:
    """One connection, opened on first use and reopened after a fork; `write_inline` is safe
    to call from several threads (they take turns on the connection)."""

    def __init__(self, database: Path, *, busy_timeout_ms: int) -> None:
        self._database = database
        self._busy_timeout_ms = busy_timeout_ms
        self._connection: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def try_write_inline(self, rows: list[Row]) -> list[str] | None:
        """Like write_inline, but None at once when another thread of this process is
        writing through this writer (the caller must not wait)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self._write(rows)
        finally:
            self._lock.release()

    def write_inline(self, rows: list[Row]) -> list[str]:
        """Upsert `rows` in one autocommitted statement; returns the keys not written because
        their existing row keeps its value in a file. Raises sqlite3.Error (busy: "database
        is locked", after the busy timeout)."""
        with self._lock:
            return self._write(rows)

    def _write(self, rows: list[Row]) -> list[str]:
        connection = self._connect()
        now = time.time()
        parameters: list[object] = []
        for key, value, expire_s in rows:
            expire_time = None if expire_s is None else now + expire_s
            parameters.extend((key, now, expire_time, now, value))
        placeholders = ", ".join([_ROW_PLACEHOLDERS] * len(rows))
        cursor = connection.execute(
            f"INSERT INTO Cache({_COLUMNS}) VALUES {placeholders}{_ON_CONFLICT}", parameters
        )
        if cursor.rowcount == len(rows):
            return []
        # Rare: a key whose previous value was large enough for a file.
        keys = [key for key, _, _ in rows]
        marks = ", ".join("?" * len(keys))
        found = connection.execute(
            f"SELECT key FROM Cache WHERE raw = 1 AND filename IS NOT NULL AND key IN ({marks})",
            keys,
        ).fetchall()
        return [key for (key,) in found]

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        # After a fork the parent's connection is not ours to use or close: drop it.
        self._pid = os.getpid()
        connection = sqlite3.connect(
            self._database,
            timeout=self._busy_timeout_ms / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            # Per-connection settings diskcache keeps in its Settings table (synchronous=NORMAL
            # above all: the default FULL would fsync every commit).
            settings = connection.execute(
                "SELECT key, value FROM Settings WHERE key LIKE 'sqlite_%'"
            ).fetchall()
            for name, value in settings:
                pragma = str(name)[len("sqlite_") :]
                if pragma.isidentifier() and pragma != "journal_mode":
                    connection.execute(f"PRAGMA {pragma} = {int(value)}")
        except (sqlite3.Error, ValueError, TypeError):
            connection.close()
            raise
        self._connection = connection
        return connection

    def close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            connection.close()
