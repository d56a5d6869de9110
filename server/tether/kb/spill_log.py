"""Values waiting for the shared database's lock, readable by every process meanwhile.

A caller whose write finds the lock taken for more than a couple of milliseconds queues its
value for the background writer (deferred_writes) and appends it to this process's spill
log; the first such write of a busy spell starts the log, and until the queue drains every
queued value is in it. Once the background writer has landed them all the log is removed.
A process that misses a key in the database lists the logs (usually none: one `listdir`)
and looks through them.

Why a log and not a file per value: creating and renaming a file costs 120-300 us on ext4
(metadata journal; `auto_da_alloc` flushes a file renamed over another), an append ~5 us,
so a busy spell pays for one file however many values wait in it.

A log is `<pid>-<random>.log` in SPILL_DIRECTORY, created mode 0600 and held with an
exclusive flock for its writer's life: a log nobody holds belongs to a process that died
(kill -9 included), and whoever culls next lands its values and removes it. Records are
appended whole by one `write`; each carries its own length and CRC, so a reader stops at a
torn or foreign tail instead of misreading it.
"""

from __future__ import annotations

import logging
import math
import os
import stat
import struct
import sys
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

SPILL_DIRECTORY = "cache.db.waiting"
LOG_SUFFIX = ".log"
_TEMPORARY_PREFIX = ".tmp-"

SPILL_LOG_MAX_BYTES = 64 * 2**20
"""A log at this size takes no more values (they are still queued, only not visible to
other processes before they land). It is removed whenever the writer's queue drains."""

ABANDONED_TEMPORARY_AGE_S = 60.0
"""A log still under its temporary name this long after it was created was abandoned."""

_MAGIC = b"tsl1"
_HEADER = struct.Struct("<4sBIIdd")  # magic, flags, key length, value length, written, expires
_CRC = struct.Struct("<I")
_TOMBSTONE = 1


@dataclass(frozen=True, slots=True)
class SpilledValue:
    key: str
    value: bytes | None
    """None: the key was deleted by this log's writer after it spilled a value for it."""
    written_at: float
    """Epoch seconds when the record was appended."""
    expires_at: float | None

    def is_live(self, now: float) -> bool:
        return self.value is not None and (self.expires_at is None or self.expires_at > now)


@dataclass(slots=True)
class _LogView:
    """What this process has read of another process's log."""

    inode: int
    parsed: int = 0
    """Bytes read and parsed: up to the end of the last whole record."""
    newest: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Key -> (offset, written_at) of its newest record in the log."""


class SpillLog:
    """This process's log (appends, removal) and reads of every process's logs. Methods
    swallow OSError: a failure only means a value is not visible elsewhere before it lands."""

    def __init__(self, cache_directory: Path) -> None:
        self._directory = cache_directory / SPILL_DIRECTORY
        self._directory_name = str(self._directory)  # str paths: pathlib costs more than a read
        self._lock = threading.Lock()
        self._descriptor: int | None = None
        self._name: str | None = None
        self._size = 0
        self._pid = os.getpid()
        self._views: dict[str, _LogView] = {}
        self._views_lock = threading.Lock()

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def active(self) -> bool:
        """True while this process has a log (from its first spill until it is retired)."""
        return self._descriptor is not None and self._pid == os.getpid()

    # -- this process's log ---------------------------------------------------------------

    def append(self, key: str, value: bytes | None, expires_at: float | None) -> bool:
        """Append one record (value None: a deletion); False when it could not be."""
        record = encode_record(key, value, time.time(), expires_at)
        with self._lock:
            descriptor = self._own_descriptor()
            if descriptor is None or self._size + len(record) > SPILL_LOG_MAX_BYTES:
                return False
            try:
                written = os.write(descriptor, record)
            except OSError as error:
                logger.debug("docs cache: cannot spill %s: %s", key, error)
                return False
            if written != len(record):
                # A short write (a full disk): cut the torn record off, or readers would stop
                # before every later one.
                try:
                    os.ftruncate(descriptor, os.fstat(descriptor).st_size - written)
                except OSError:
                    pass
                return False
            self._size += written
            return True

    def retire(self) -> None:
        """Remove this process's log: call only when every value in it has landed (or been
        given up). A reader that opened it already still reads it whole."""
        self.close(landed=True)

    def close(self, *, landed: bool) -> None:
        """Release this process's log: removed when everything in it `landed`, else left
        for the next cull to land (the flock goes with the descriptor)."""
        with self._lock:
            descriptor, self._descriptor = self._descriptor, None
            if descriptor is None or self._pid != os.getpid():
                return
            if landed or self._size == 0:
                try:
                    (self._directory / str(self._name)).unlink(missing_ok=True)
                except OSError as error:
                    logger.debug("docs cache: cannot remove the spill log: %s", error)
            os.close(descriptor)
            # A log left behind is another process's as far as reads and culls go.
            self._name, self._size = None, 0

    def _own_descriptor(self) -> int | None:
        """This process's log, created on first use (and anew in a forked child)."""
        if self._descriptor is not None and self._pid == os.getpid():
            return self._descriptor
        # A forked child shares the parent's descriptor and lock: it must not append there.
        self._descriptor, self._size, self._pid = None, 0, os.getpid()
        name = f"{os.getpid()}-{os.urandom(4).hex()}{LOG_SUFFIX}"
        temporary = self._directory / f"{_TEMPORARY_PREFIX}{name}"
        try:
            self._directory.mkdir(mode=0o700, exist_ok=True)
            descriptor = os.open(
                temporary,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC | _NOFOLLOW,
                0o600,
            )
        except OSError as error:
            logger.debug("docs cache: cannot create a spill log in %s: %s", self._directory, error)
            return None
        try:
            # Locked before it gets its real name, so that no cull can take it for a dead
            # process's log in between.
            _lock_exclusive(descriptor)
            temporary.rename(self._directory / name)
        except OSError as error:
            logger.debug("docs cache: cannot set up spill log %s: %s", name, error)
            os.close(descriptor)
            try:
                temporary.unlink(missing_ok=True)
            except OSError:
                pass
            return None
        self._descriptor, self._name = descriptor, name
        return descriptor

    # -- every process's logs -------------------------------------------------------------

    def other_logs(self) -> list[str]:
        """Names of the other processes' logs (usually none: a log exists only while its
        writer is behind)."""
        return [name for name in self._log_names() if name != self._name]

    def find(self, key: str, logs: list[str]) -> bytes | None:
        """The newest value spilled for `key` in `logs`, unless deleted or expired.

        What this process has read of each log is kept (which key's newest record is at
        which offset): a log only grows until it is removed, so a miss costs a `stat` per
        unchanged log and reads only what was appended since, then the one record found."""
        with self._views_lock:
            for name in set(self._views) - set(logs):
                del self._views[name]  # removed: landed
            for _ in range(2):
                newest: tuple[float, str, int] | None = None
                for name in logs:
                    view = self._refresh(name)
                    entry = None if view is None else view.newest.get(key)
                    if entry is not None and (newest is None or entry[1] >= newest[0]):
                        newest = (entry[1], name, entry[0])
                if newest is None:
                    return None
                record = _read_record(f"{self._directory_name}/{newest[1]}", newest[2])
                if record is not None and record.key == key:
                    return record.value if record.is_live(time.time()) else None
                # Emptied and written again since it was read (a clear): read it afresh.
                self._views.pop(newest[1], None)
        return None

    def _refresh(self, name: str) -> _LogView | None:
        """This process's view of log `name`, brought up to date; None when unreadable."""
        path = f"{self._directory_name}/{name}"
        try:
            status = os.stat(path, follow_symlinks=False)  # noqa: PTH116 - str path, per miss
        except OSError:
            self._views.pop(name, None)
            return None
        if not _ours(status):
            return None
        view = self._views.get(name)
        if view is None or view.inode != status.st_ino or status.st_size < view.parsed:
            view = self._views[name] = _LogView(status.st_ino)
        if status.st_size > view.parsed:
            data = _read(path, offset=view.parsed)
            if data is None:
                return view
            consumed = self._parse_into(view, data)
            if not consumed and view.parsed:
                # No record where the last one ended: emptied and written again (a clear),
                # or a record being appended right now. Either way, read it whole.
                view = self._views[name] = _LogView(status.st_ino)
                data = _read(path)
                if data is not None:
                    self._parse_into(view, data)
        return view

    @staticmethod
    def _parse_into(view: _LogView, data: bytes) -> int:
        """Index the records in `data` (read from offset view.parsed); bytes consumed."""
        consumed = 0
        for start, end, record in _decode_spans(data):
            view.newest[record.key] = (view.parsed + start, record.written_at)
            consumed = end
        view.parsed += consumed
        return consumed

    def records(self) -> Iterator[SpilledValue]:
        """Every record in every log (for observers and tests)."""
        for name in self._log_names():
            data = _read(self._directory / name)
            if data is not None:
                yield from _decode(data)

    def clear(self) -> int:
        """Empty every log (their writers keep appending after the cut); returns how many
        values were dropped."""
        dropped = 0
        for name in self._log_names():
            path = self._directory / name
            data = _read(path)
            if data is None:
                continue  # gone meanwhile, or not a regular file
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_CLOEXEC | _NONBLOCK | _NOFOLLOW)
            except OSError:
                continue
            try:
                os.ftruncate(descriptor, 0)
            except OSError:
                continue
            finally:
                os.close(descriptor)
            dropped += len({r.key for r in _decode(data) if r.value is not None})
        with self._lock:
            self._size = 0
        return dropped

    def orphans(self) -> Generator[dict[str, SpilledValue]]:
        """The newest record per key of each log whose writer died; each log is removed
        after the caller has finished with it (and kept if the caller stops early)."""
        self._remove_abandoned_temporaries()
        for name in self._log_names():
            if name == self._name:
                continue
            path = self._directory / name
            descriptor = _open_log(path)
            if descriptor is None:
                continue
            try:
                if not _try_lock_exclusive(descriptor):
                    continue  # its writer is alive
                data = _read_descriptor(descriptor)
                newest: dict[str, SpilledValue] = {}
                for record in _decode(data or b""):
                    newest[record.key] = record
                yield newest
                # Removed while still locked, so that two culls never land one log twice.
                path.unlink(missing_ok=True)
            except OSError as error:
                logger.debug("docs cache: cannot land spill log %s: %s", path, error)
            finally:
                os.close(descriptor)

    def _remove_abandoned_temporaries(self) -> None:
        """A log whose writer died between creating and naming it holds nothing (nothing is
        appended before the rename): removed once it is old and nobody holds its lock."""
        try:
            names = os.listdir(self._directory_name)  # noqa: PTH208 - names only
        except OSError:
            return
        cutoff = time.time() - ABANDONED_TEMPORARY_AGE_S
        for name in names:
            if not name.startswith(_TEMPORARY_PREFIX):
                continue
            path = self._directory / name
            descriptor = _open_log(path)
            if descriptor is None:
                continue
            try:
                if os.fstat(descriptor).st_mtime < cutoff and _try_lock_exclusive(descriptor):
                    path.unlink(missing_ok=True)
            except OSError as error:
                logger.debug("docs cache: cannot remove %s: %s", path, error)
            finally:
                os.close(descriptor)

    def _log_names(self) -> list[str]:
        try:
            names = os.listdir(self._directory_name)  # noqa: PTH208 - names only, on every miss
        except OSError:
            return []
        return [name for name in names if name.endswith(LOG_SUFFIX) and name[0] != "."]


def encode_record(
    key: str, value: bytes | None, written_at: float, expires_at: float | None
) -> bytes:
    """One log record (value None: a deletion)."""
    import zlib  # lazily: only a write needs it

    encoded_key = key.encode()
    body = value if value is not None else b""
    header = _HEADER.pack(
        _MAGIC,
        _TOMBSTONE if value is None else 0,
        len(encoded_key),
        len(body),
        written_at,
        math.nan if expires_at is None else expires_at,
    )
    record = header + encoded_key + body
    return record + _CRC.pack(zlib.crc32(record))


def _decode(data: bytes) -> Iterator[SpilledValue]:
    """Records up to the first torn, corrupt or foreign one."""
    for _, _, record in _decode_spans(data):
        yield record


def _decode_spans(data: bytes) -> Iterator[tuple[int, int, SpilledValue]]:
    """(start, end, record) for each record up to the first torn, corrupt or foreign one."""
    import zlib

    offset, end = 0, len(data)
    while offset + _HEADER.size <= end:
        magic, flags, key_length, value_length, written_at, expires_at = _HEADER.unpack_from(
            data, offset
        )
        body_end = offset + _HEADER.size + key_length + value_length
        if magic != _MAGIC or body_end + _CRC.size > end:
            return
        (crc,) = _CRC.unpack_from(data, body_end)
        if zlib.crc32(memoryview(data)[offset:body_end]) != crc:
            return
        key_start = offset + _HEADER.size
        try:
            key = data[key_start : key_start + key_length].decode()
        except UnicodeDecodeError:
            return
        value = None if flags & _TOMBSTONE else data[key_start + key_length : body_end]
        expiry = None if math.isnan(expires_at) else expires_at
        yield offset, body_end + _CRC.size, SpilledValue(key, value, written_at, expiry)
        offset = body_end + _CRC.size


def _read_record(path: str, offset: int) -> SpilledValue | None:
    """The whole record at `offset` of the log at `path`, checked; None if it is not one."""
    descriptor = _open_log(path)
    if descriptor is None:
        return None
    try:
        header = os.pread(descriptor, _HEADER.size, offset)
        if len(header) < _HEADER.size:
            return None
        _, _, key_length, value_length, _, _ = _HEADER.unpack(header)
        size = _HEADER.size + key_length + value_length + _CRC.size
        data = os.pread(descriptor, size, offset)
    except (OSError, struct.error):
        return None
    finally:
        os.close(descriptor)
    for _, _, record in _decode_spans(data):
        return record
    return None


def _open_log(path: str | Path) -> int | None:
    """A descriptor for reading the log at `path`, or None: never through a symlink, never
    blocking on a FIFO (non-blocking open), only a regular file this user owns."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC | _NONBLOCK | _NOFOLLOW)
    except OSError:
        return None
    try:
        regular = _ours(os.fstat(descriptor))
    except OSError:
        regular = False
    if not regular:
        os.close(descriptor)
        return None
    return descriptor


def _ours(status: os.stat_result) -> bool:
    """A regular file of this user's: another local user who can write the cache folder
    (a shared $TETHER_CACHE_DIR) cannot plant values through it."""
    mine = getattr(os, "getuid", None)
    return stat.S_ISREG(status.st_mode) and (mine is None or status.st_uid == mine())


def _read(path: str | Path, offset: int = 0) -> bytes | None:
    descriptor = _open_log(path)
    if descriptor is None:
        return None
    try:
        if offset:
            os.lseek(descriptor, offset, os.SEEK_SET)
        return _read_descriptor(descriptor)
    except OSError:
        return None
    finally:
        os.close(descriptor)


_FIRST_READ_BYTES = 64 * 1024
"""Below malloc's mmap threshold: os.read(fd, n) allocates n bytes up front, and a large n
on every miss cost more than the read itself (an mmap and page faults per call)."""


def _read_descriptor(descriptor: int) -> bytes | None:
    try:
        data = os.read(descriptor, _FIRST_READ_BYTES)
        if len(data) < _FIRST_READ_BYTES:
            return data
        chunks = [data]
        while chunk := os.read(descriptor, max(os.fstat(descriptor).st_size, _FIRST_READ_BYTES)):
            chunks.append(chunk)
    except OSError:
        return None
    return b"".join(chunks)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)

_WINDOWS_ORPHAN_AGE_S = 3600.0
"""Without flock (Windows) a log counts as a dead process's once untouched this long."""

if sys.platform == "win32":

    def _lock_exclusive(descriptor: int) -> None:
        pass

    def _try_lock_exclusive(descriptor: int) -> bool:
        return time.time() - os.fstat(descriptor).st_mtime > _WINDOWS_ORPHAN_AGE_S

else:
    import fcntl

    def _lock_exclusive(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _try_lock_exclusive(descriptor: int) -> bool:
        """True when nobody holds the log: its writer is gone (the kernel dropped its lock)."""
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True
