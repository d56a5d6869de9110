"""The append-only journal of a run: `.tether/runs/<run-id>/events.jsonl`, one event a line.

Written only by the process that owns the run (it holds the run lock). Each line goes to
the kernel in one write, so a killed process loses at most the line it was writing; a
torn last line is ignored on read and cut off before the next owner appends. A damaged
line anywhere else is a JournalError naming the file and line.

This module is the only journal reader: full replay (read_events), head and tail
(read_head, read_tail: `tether runs` without reading whole journals) and incremental
follow (JournalCursor: waiters and the language server). One rule for a torn last line
everywhere: bytes after the last newline are not an event yet (_complete_lines).

Large payloads (a step's output, a partial item, heartbeat details) are written to
`artifacts/` next to the journal and referenced as {"$artifact": "artifacts/NAME.json"};
reading resolves them, so replay sees exactly what the live run saw.

fsync never runs on the event loop: a background thread syncs when asked (at step
boundaries and run end for `step`, after every event for `every-event`, coalescing
requests that arrive while a sync is in progress); close() waits for the last sync.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from tether.engine.events import Event, EventType
from tether.engine.output_bound import OutputBound
from tether.engine.runfiles import open_run_file, read_run_file, write_run_file

logger = logging.getLogger(__name__)

JOURNAL_NAME = "events.jsonl"
ARTIFACTS_DIR = "artifacts"
ARTIFACT_CAP = 64 * 1024
"""Serialized size above which a payload goes to an artifact file instead of the journal."""

JOURNAL_LINE_LIMIT = 512 * 1024 * 1024
"""A journal line longer than this is damage, not an event (payloads go to artifacts)."""
ARTIFACT_READ_LIMIT = 256 * 1024 * 1024
ARTIFACT_KEY = "$artifact"
ARTIFACT_BYTES = b'"$artifact"'
_EVENT_TYPES = {str(kind): kind for kind in EventType}
# The fields of each event type that may carry a large payload.
_PAYLOAD_FIELDS: dict[EventType, tuple[str, ...]] = {
    EventType.STEP_FINISHED: ("output", "tail"),
    EventType.STEP_OUTPUT: ("item",),
    EventType.STEP_HEARTBEAT: ("details",),
    EventType.STEP_WAITING: ("request",),
    EventType.RUN_STARTED: ("params",),
}
# Events after which `step` durability syncs: a finished step must not run again.
_BOUNDARIES = frozenset({EventType.STEP_FINISHED, EventType.RUN_PAUSED, EventType.RUN_FINISHED})
_ARTIFACT_REF = re.compile(r"^artifacts/[0-9]{1,12}-[a-z]{1,16}\.json$")
_fdatasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
SYNC_WAIT_LIMIT = 10.0
"""Seconds close() waits for the final fsync before giving up on it (logged)."""


class Durability(StrEnum):
    NONE = "none"
    """Never fsync: survives a killed process (the kernel has the data), not a power loss."""
    STEP = "step"
    """fsync at step boundaries and at run end or pause."""
    EVERY_EVENT = "every-event"
    """fsync after every event."""


class JournalError(Exception):
    """A journal that cannot be read; the message names file and line."""


class JournalWriter:
    """An EventBus subscriber that appends each event as one orjson line.

    Opening cuts off a torn last line left by a crashed owner, so appends always start on
    a fresh line.
    """

    def __init__(
        self,
        path: Path,
        durability: Durability = Durability.STEP,
        *,
        artifact_cap: int = ARTIFACT_CAP,
    ) -> None:
        self.path = path
        self.durability = Durability(durability)
        self.artifact_cap = artifact_cap
        self.failed: str | None = None
        """The first write error, if any. Nothing more is appended after it (a journal
        with a hole would replay wrongly); the run goes on but its journal is incomplete,
        and its owner must not report plain success."""
        existed = path.exists()
        self._fd = open_run_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        if existed:
            _cut_torn_tail(self._fd, path)
        self._size = os.fstat(self._fd).st_size
        """Bytes of whole lines written: where a failed write is cut back to."""
        self._output = OutputBound(path.parent, ARTIFACTS_DIR)
        self._syncer: _Syncer | None = None
        if self.durability is not Durability.NONE:
            self._syncer = _Syncer(self._fd, path, sync_directory=not existed)

    def __call__(self, event: Event) -> None:
        if self._fd < 0 or self.failed:
            return
        bounded = event.type is EventType.STEP_OUTPUT and event.step is not None
        if bounded and not self._output.admit(str(event.step), event.data.get("item")):
            return  # past the step's head: in its output log and tail (output_bound)
        record = event.to_json()
        if event.type is EventType.STEP_FINISHED and event.step is not None:
            self._output.finish(event.step, record)
        line = orjson.dumps(record)
        if len(line) > self.artifact_cap and event.type in _PAYLOAD_FIELDS:
            line = self._externalise(event, record)
        data = line + b"\n"
        try:
            _write_all(self._fd, data)
        except OSError as error:
            # The subscriber contract: log and let the run go on. A write can fail half
            # way (ENOSPC, EFBIG): cut back to the last whole line, so that the journal
            # stays readable and resumable once space returns.
            self.failed = f"{self.path}: cannot append event {event.seq}: {error.strerror}"
            logger.error("journal write failed for %s seq %d: %s", self.path, event.seq, error)
            try:
                os.ftruncate(self._fd, self._size)
            except OSError as cut_error:
                # The torn line stays; the next owner cuts it before appending (and a
                # reader ignores a torn last line).
                logger.error("cannot cut %s back to its last line: %s", self.path, cut_error)
            return
        self._size += len(data)
        if self._syncer is not None and (
            self.durability is Durability.EVERY_EVENT or event.type in _BOUNDARIES
        ):
            self._syncer.request()

    def _externalise(self, event: Event, record: dict[str, Any]) -> bytes:
        directory = self.path.parent / ARTIFACTS_DIR
        for name in _PAYLOAD_FIELDS[event.type]:
            if name not in record:
                continue
            payload = orjson.dumps(record[name])
            if len(payload) <= self.artifact_cap:
                continue
            reference = f"{ARTIFACTS_DIR}/{event.seq}-{name}.json"
            try:
                directory.mkdir(exist_ok=True)
                write_run_file(self.path.parent / reference, payload)
            except OSError as error:
                logger.error("cannot write artifact %s: %s", reference, error)
                record[name] = {"$truncated": f"{len(payload)} bytes; artifact not written"}
                continue
            if self._syncer is not None:
                self._syncer.add_artifact(self.path.parent / reference)
            record[name] = {ARTIFACT_KEY: reference}
        return orjson.dumps(record)

    def sync(self) -> None:
        """Make everything written so far durable now (blocks; not for the event loop)."""
        if self._syncer is not None:
            self._syncer.flush()
        elif self._fd >= 0:
            _fdatasync(self._fd)

    def close(self) -> None:
        """Wait for the final fsync (unless durability is `none`) and close the file."""
        if self._fd < 0:
            return
        self._output.close()
        if self._syncer is not None:
            self._syncer.close()
            self.failed = self.failed or self._syncer.error
        os.close(self._fd)
        self._fd = -1


class _Syncer:
    """fsyncs a journal (and new artifacts) in a daemon thread, coalescing requests."""

    def __init__(self, fd: int, path: Path, *, sync_directory: bool) -> None:
        self._fd = fd
        self._path = path
        self._condition = threading.Condition()
        self._requested = 0
        self._done = 0
        self._closing = False
        self._artifacts: list[Path] = []
        self._sync_directory = sync_directory
        self.error: str | None = None
        """The first fsync failure: what was written may not be on disk."""
        self._thread = threading.Thread(target=self._work, name="tether-journal-sync", daemon=True)
        self._thread.start()

    def request(self) -> None:
        with self._condition:
            self._requested += 1
            self._condition.notify_all()

    def add_artifact(self, path: Path) -> None:
        with self._condition:
            self._artifacts.append(path)

    def flush(self, limit: float = SYNC_WAIT_LIMIT) -> bool:
        """Sync everything written so far; False if that took longer than `limit`."""
        deadline = time.monotonic() + limit
        with self._condition:
            self._requested += 1
            target = self._requested
            self._condition.notify_all()
            while self._done < target and self._thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._condition.wait(min(left, 0.5))
        return True

    def close(self) -> None:
        synced = self.flush()
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        if synced:
            self._thread.join()
        else:
            # A disk that does not answer must not hang the process: the data is with the
            # kernel, and the (daemon) thread finishes the sync if it ever can.
            logger.error("%s: fsync did not finish within %gs", self._path, SYNC_WAIT_LIMIT)

    def _work(self) -> None:
        while True:
            with self._condition:
                while self._requested == self._done and not self._closing:
                    self._condition.wait()
                if self._requested == self._done:
                    return
                target = self._requested
                artifacts, self._artifacts = self._artifacts, []
            try:
                # Artifacts first: a journal line must never point at a file not on disk.
                for artifact in artifacts:
                    _sync_path(artifact, directory=False)
                if artifacts:
                    _sync_path(artifacts[0].parent, directory=True)
                _fdatasync(self._fd)
                if self._sync_directory:
                    _sync_path(self._path.parent, directory=True)
                    self._sync_directory = False
            except OSError as error:
                logger.error("journal fsync failed for %s: %s", self._path, error)
                self.error = self.error or f"{self._path}: cannot sync: {error.strerror}"
            with self._condition:
                self._done = target
                self._condition.notify_all()


def _sync_path(path: Path, *, directory: bool) -> None:
    if directory and os.name == "nt":
        return  # directories cannot be opened for fsync on Windows
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _cut_torn_tail(fd: int, path: Path) -> None:
    """Truncate after the last newline: a crash may have left half a line."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    with path.open("rb") as reader:
        tail_start = max(0, size - 65536)
        while True:
            reader.seek(tail_start)
            chunk = reader.read(size - tail_start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                valid = tail_start + newline + 1
                break
            if tail_start == 0:
                valid = 0
                break
            tail_start = max(0, tail_start - 65536)
    if valid < size:
        logger.warning("%s: dropping a torn last line of %d bytes", path, size - valid)
        os.ftruncate(fd, valid)


def read_events(path: Path, *, resolve_artifacts: bool = True) -> Iterator[Event]:
    """Every complete event in the journal, in order, with artifacts resolved (full replay).

    Raises JournalError naming the file and line for a damaged line, a sequence number
    that does not increase, or a missing artifact.
    """
    for _, event in read_numbered_events(path, resolve_artifacts=resolve_artifacts):
        yield event


def read_numbered_events(
    path: Path, *, resolve_artifacts: bool = True
) -> Iterator[tuple[int, Event]]:
    """read_events, with each event's line number (for errors found later, in replay)."""
    # Streamed line by line: memory follows the longest line, not the journal's size.
    try:
        fd = open_run_file(path, os.O_RDONLY)
    except FileNotFoundError as error:
        raise JournalError(f"{path}: no journal") from error
    except OSError as error:
        raise JournalError(f"{path}: cannot read journal: {error}") from error
    with os.fdopen(fd, "rb", buffering=1 << 20) as reader:
        yield from _numbered(reader, path, resolve_artifacts)


def _numbered(reader: BinaryIO, path: Path, resolve_artifacts: bool) -> Iterator[tuple[int, Event]]:
    """Streamed line by line: memory follows the longest line, not the journal's size.
    The torn-line rule as in _complete_lines: a line without its newline is not parsed."""
    previous_seq = 0
    number = 0
    while raw := reader.readline(JOURNAL_LINE_LIMIT + 1):
        number += 1
        if not raw.endswith(b"\n"):
            if len(raw) > JOURNAL_LINE_LIMIT:
                raise JournalError(f"{path}:{number}: line longer than {JOURNAL_LINE_LIMIT} bytes")
            return  # a torn last line (a crash mid-write, or a write in progress)
        line = raw[:-1]
        if not line:
            continue
        event = _parse(line, path, number, resolve_artifacts=resolve_artifacts)
        if event.seq <= previous_seq:
            raise JournalError(f"{path}:{number}: sequence number {event.seq} after {previous_seq}")
        previous_seq = event.seq
        yield number, event


def _open_journal(path: Path) -> BinaryIO:
    """A journal for reading: a regular file the user owns, never through a symlink."""
    return os.fdopen(open_run_file(path, os.O_RDONLY), "rb")


def _complete_lines(data: bytes) -> list[bytes]:
    """THE torn-line rule, for every reader: bytes after the last newline are not an event
    yet (a torn write, or one still in progress); they are never parsed."""
    return data[: data.rfind(b"\n") + 1].split(b"\n")[:-1]


def _parse(line: bytes, path: Path, number: int | None, *, resolve_artifacts: bool = True) -> Event:
    """One journal line as an Event; JournalError naming file and line when it is damaged."""
    try:
        record = orjson.loads(line)
        # A cheap byte test first: most lines reference no artifact.
        if resolve_artifacts and ARTIFACT_BYTES in line:
            _resolve(record, path, number)
        return _event(record)
    except JournalError:
        raise
    except (orjson.JSONDecodeError, KeyError, ValueError, TypeError, AttributeError) as error:
        raise JournalError(f"{_where(path, number)}: damaged journal line ({error})") from error


def _where(path: Path, number: int | None) -> str:
    return f"{path}:{number}" if number is not None else f"{path} (near the end)"


def read_head(path: Path) -> Event | None:
    """The journal's first event (run_started), or None while it has no complete line."""
    try:
        with _open_journal(path) as reader:
            line = reader.readline()
    except OSError as error:
        raise JournalError(f"{path}: cannot read journal: {error}") from error
    lines = _complete_lines(line)
    return _parse(lines[0], path, 1) if lines and lines[0] else None


def read_tail(path: Path, max_bytes: int = 64 * 1024) -> list[Event]:
    """The complete events in the journal's last `max_bytes`, in order: enough to find the
    last run-level event of all but huge runs without reading the whole file."""
    try:
        with _open_journal(path) as reader:
            size = os.fstat(reader.fileno()).st_size
            start = max(0, size - max_bytes)
            reader.seek(start)
            data = reader.read(size - start)
    except OSError as error:
        raise JournalError(f"{path}: cannot read journal: {error}") from error
    lines = _complete_lines(data)
    if start > 0 and lines:
        lines = lines[1:]  # the first piece probably starts mid-line
    return [_parse(line, path, None) for line in lines if line]


class JournalCursor:
    """Incremental follow: each read_new() returns the events completed since the last.

    Keeps a byte offset, so following a growing journal reads each byte once; a line is
    returned only once its newline is there (the torn-line rule). Never blocks on a lock:
    the owner appends whole lines, so a reader only ever sees complete lines or a tail
    still in progress.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        """Bytes consumed so far (always just after a newline)."""
        self.line_number = 0
        self.last_seq = 0

    def read_new(self) -> list[Event]:
        """New complete events. Raises JournalError for a damaged line or a journal that
        cannot be read (a missing journal is simply empty: the owner may not have written)."""
        try:
            with _open_journal(self.path) as reader:
                reader.seek(self.offset)
                data = reader.read()
        except FileNotFoundError:
            return []
        except OSError as error:
            raise JournalError(f"{self.path}: cannot read journal: {error}") from error
        lines = _complete_lines(data)
        events = []
        for line in lines:
            self.offset += len(line) + 1
            self.line_number += 1
            if not line:
                continue
            event = _parse(line, self.path, self.line_number)
            if event.seq <= self.last_seq:
                raise JournalError(
                    f"{self.path}:{self.line_number}: sequence number {event.seq} "
                    f"after {self.last_seq}"
                )
            self.last_seq = event.seq
            events.append(event)
        return events


def _event(record: dict[str, Any]) -> Event:
    """Event.from_json, stricter about types (a journal is input) and without copying."""
    kind = _EVENT_TYPES[record.pop("type")]
    seq = record.pop("seq")
    ts = record.pop("ts")
    run_id = record.pop("run_id")
    step = record.pop("step", None)
    if (
        type(seq) is not int
        or type(ts) not in (float, int)
        or type(run_id) is not str
        or (step is not None and type(step) is not str)
    ):
        raise ValueError("seq, ts, run_id or step has the wrong type")
    return Event(kind, run_id, seq, float(ts), step, record)


def _resolve(record: dict[str, Any], path: Path, number: int | None) -> None:
    kind = _EVENT_TYPES.get(str(record.get("type")))
    for name in _PAYLOAD_FIELDS.get(kind, ()) if kind is not None else ():
        value = record.get(name)
        if not (isinstance(value, dict) and len(value) == 1 and ARTIFACT_KEY in value):
            continue
        reference = value[ARTIFACT_KEY]
        # A journal is input like any other: never follow a reference out of the run dir.
        if not isinstance(reference, str) or not _ARTIFACT_REF.fullmatch(reference):
            raise JournalError(f"{_where(path, number)}: invalid artifact reference {reference!r}")
        artifact = path.parent / reference
        try:
            record[name] = orjson.loads(read_run_file(artifact, limit=ARTIFACT_READ_LIMIT))
        except (OSError, orjson.JSONDecodeError) as error:
            raise JournalError(
                f"{_where(path, number)}: cannot read artifact {reference}: {error}"
            ) from error
