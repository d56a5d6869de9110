"""One lock file that every process's cache writers queue on, so a write lands promptly.

SQLite gives a writer that finds the database locked nothing to wait on but polling: a
thread that retries sleeps between attempts and, in Python, must win the GIL back after
each one, so a write queued behind other processes' writes could take hundreds of
milliseconds to land (measured: visibility lag p50 424 ms, 60 % of reads missing a key
another process had written more than 50 ms before). An exclusive `flock` on a file beside
the database is a queue the kernel keeps: a waiter sleeps in the kernel without the GIL and
is woken the moment the holder lets go, and with every writer holding it the database lock
itself is never contended between them.

Callers never wait: `try_hold` does not block (a busy lock sends the value to the
background writer). The background writer blocks in `hold`. Each holder keeps the lock for
one write only. Where `fcntl` does not exist (Windows) the lock is a no-op.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

LOCK_NAME = "cache.db.writers"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class WriterLock:
    """One open file description: use one instance per thread that writes, because flock
    treats every holder of the same description as the same owner."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / LOCK_NAME
        self._fd: int | None = None
        self._warned = False
        self._closed = False

    def _descriptor(self) -> int | None:
        """Opened on first use: the cache directory may not exist before the tier opens."""
        if self._fd is None and fcntl is not None and not self._closed:
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as error:
                if not self._warned:
                    self._warned = True
                    logger.warning("docs cache: no writer lock %s (%s)", self._path, error)
        return self._fd

    @contextmanager
    def try_hold(self, wait_s: float = 0.0) -> Iterator[bool]:
        """Hold the lock if it is free now or within `wait_s`; yields whether it is held.

        Waits by retrying a non-blocking flock with growing sleeps (50 us up to 1 ms): the
        lock is only ever held for one write, so it frees often, and a sleeper gives up
        the GIL."""
        fd = self._descriptor()
        if fd is None or fcntl is None:
            yield True
            return
        deadline = time.monotonic() + wait_s
        pause = 0.00005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() + pause > deadline:
                    yield False
                    return
                time.sleep(pause)
                pause = min(pause * 2, 0.001)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Wait in the kernel (without the GIL) until the lock is ours."""
        fd = self._descriptor()
        if fd is None or fcntl is None:
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._closed = True
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
