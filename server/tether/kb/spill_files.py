"""Values waiting for the database's write lock, readable by every process meanwhile.

When another process holds tier 2's write lock, a caller's value is queued for the
background writer (deferred_writes) and also written here, one file per key, so that other
processes read it at once instead of calling a provider again. A file is written whole and
renamed into place (no lock, no wait: a rename is atomic), and removed once the value is in
the database. Why not let callers wait for their turn instead: with more busy processes
than cores the lock's holder is often preempted or waiting for its own GIL, so a turn took
up to 50 ms and a queued value landed 80-400 ms late (measured, 8 processes on 2 cores).

A file is `key` NL `expires_at or empty` NL `value`. Files a dead process left behind are
landed by whoever culls next (see DiskTier._cull) and removed.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

SPILL_DIRECTORY = "cache.db.waiting"
_TEMPORARY_PREFIX = ".tmp-"


@dataclass(frozen=True, slots=True)
class SpilledValue:
    key: str
    value: bytes
    expires_at: float | None
    modified_at: float
    """Epoch seconds when the file was written."""


class SpillFiles:
    """The spill directory beside the database; every method swallows OSError (a failure
    only means the value is not visible elsewhere before it lands)."""

    def __init__(self, cache_directory: Path) -> None:
        self._directory = cache_directory / SPILL_DIRECTORY
        self._ready = False

    @property
    def directory(self) -> Path:
        return self._directory

    def put(self, key: str, value: bytes, expires_at: float | None) -> bool:
        """Write the value's file (whole, then renamed into place); False on failure."""
        path = self._path(key)
        temporary = path.with_name(f"{_TEMPORARY_PREFIX}{path.name}-{os.getpid()}-{id(value)}")
        header = f"{key}\n{'' if expires_at is None else repr(expires_at)}\n".encode()
        try:
            self._ensure_directory()
            descriptor = os.open(
                temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600
            )
            try:
                os.write(descriptor, header + value)
            finally:
                os.close(descriptor)
            temporary.replace(path)
        except OSError as error:
            logger.debug("docs cache: cannot spill %s: %s", key, error)
            try:
                temporary.unlink(missing_ok=True)
            except OSError:
                pass
            return False
        return True

    def get(self, key: str) -> bytes | None:
        """The value spilled for `key` by any process, unless absent or expired."""
        spilled = self._read(self._path(key))
        if spilled is None or spilled.key != key:
            return None
        if spilled.expires_at is not None and spilled.expires_at <= time.time():
            return None
        return spilled.value

    def remove_if_holds(self, key: str, value: bytes) -> None:
        """Remove `key`'s file once `value` has landed, unless a newer value replaced it
        (then its writer removes it). A newer value renamed in between this check and the
        unlink is lost from here only: its own writer still lands it in the database."""
        path = self._path(key)
        spilled = self._read(path)
        if spilled is not None and spilled.key == key and spilled.value == value:
            try:
                path.unlink(missing_ok=True)
            except OSError as error:
                logger.debug("docs cache: cannot remove %s: %s", path, error)

    def remove(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as error:
            logger.debug("docs cache: cannot remove the spilled %s: %s", key, error)

    def clear(self) -> int:
        """Remove every file; returns how many values were removed."""
        removed = 0
        for path in self._files():
            try:
                path.unlink()
            except OSError:
                continue
            removed += not path.name.startswith(_TEMPORARY_PREFIX)
        return removed

    def older_than(self, age_s: float) -> Iterator[tuple[Path, SpilledValue]]:
        """Files not touched for `age_s` seconds: left by a process that died before its
        write landed (a live one lands or gives up within its patience)."""
        cutoff = time.time() - age_s
        for path in self._files():
            try:
                if path.stat().st_mtime > cutoff:
                    continue
            except OSError:
                continue
            spilled = self._read(path)
            if spilled is None:
                try:
                    path.unlink(missing_ok=True)  # a torn temporary file or garbage
                except OSError:
                    pass
                continue
            yield path, spilled

    def _files(self) -> list[Path]:
        try:
            return list(self._directory.iterdir())
        except OSError:
            return []

    def _ensure_directory(self) -> None:
        if not self._ready:
            self._directory.mkdir(mode=0o700, exist_ok=True)
            self._ready = True

    def _path(self, key: str) -> Path:
        import hashlib  # lazily: ~10-20 ms of imports (OpenSSL) a cache hit never needs

        return self._directory / hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def _read(path: Path) -> SpilledValue | None:
        try:
            with open(path, "rb") as file:
                data = file.read()
                modified_at = os.fstat(file.fileno()).st_mtime
        except OSError:
            return None
        parts = data.split(b"\n", 2)
        if len(parts) != 3:
            return None
        try:
            key = parts[0].decode()
            expires_at = float(parts[1]) if parts[1] else None
        except (UnicodeDecodeError, ValueError):
            return None
        return SpilledValue(key, parts[2], expires_at, modified_at)
