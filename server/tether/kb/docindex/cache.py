"""Index databases cached on disk per (ecosystem, name, version, source fingerprint).

The file name carries all four (and the schema version), so an upgrade, a downgrade or an
edited editable install simply names another file: nothing is ever invalidated in place.
Indexes are built once per key by whichever process needs one first (a concurrent builder
in another process wastes work but cannot corrupt anything: see fts.build). Open
connections are kept per process, a few at a time.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tether.kb.docindex import fts
from tether.kb.docindex.records import Record

logger = logging.getLogger(__name__)

OPEN_INDEXES = 16
ANSWERS_KEPT = 256
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


@dataclass(frozen=True, slots=True)
class IndexKey:
    ecosystem: str
    name: str
    version: str
    fingerprint: str
    """What else identifies the indexed files: their location, and for an editable install
    the state of its source tree."""

    def file_name(self) -> str:
        digest = hashlib.sha256(self.fingerprint.encode()).hexdigest()[:12]
        name = _UNSAFE.sub("_", self.name)[:100]
        version = _UNSAFE.sub("_", self.version)[:60]
        return f"{self.ecosystem}-{name}-{version}-{digest}-v{fts.SCHEMA_VERSION}.sqlite"


class LibraryIndex:
    """One open index; answers are serialised on its connection."""

    def __init__(self, path: Path, connection: sqlite3.Connection, built_now: bool) -> None:
        self.path = path
        self.connection = connection
        self.built_now = built_now
        self.meta = fts.read_meta(connection)
        self._lock = threading.Lock()
        self._answers: OrderedDict[tuple[str, int], str] = OrderedDict()

    def take_built_now(self) -> bool:
        """True the first time it is asked after this process built the index."""
        with self._lock:
            built, self.built_now = self.built_now, False
            return built

    def answer(self, library: str, query: str, max_tokens: int) -> str:
        key = (" ".join(query.split()), max_tokens)
        with self._lock:
            cached = self._answers.get(key)
            if cached is not None:
                self._answers.move_to_end(key)
                return cached
            from tether.kb.docindex.answer import answer

            text = answer(self.connection, library, key[0], max_tokens)
            self._answers[key] = text
            if len(self._answers) > ANSWERS_KEPT:
                self._answers.popitem(last=False)
            return text

    def close(self) -> None:
        with self._lock:
            self.connection.close()


class IndexCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._open: OrderedDict[Path, LibraryIndex] = OrderedDict()
        self._building: dict[Path, threading.Lock] = {}
        self.built = 0
        """Indexes this process built (the others it used were built before)."""
        self.opened = 0

    def get(
        self, key: IndexKey, build: Callable[[], Sequence[Record]], meta: dict[str, str]
    ) -> LibraryIndex:
        """The index for `key`, built with `build()` when no process has built it yet."""
        path = self.directory / key.file_name()
        with self._lock:
            found = self._open.get(path)
            if found is not None:
                self._open.move_to_end(path)
                return found
            builder = self._building.setdefault(path, threading.Lock())
        with builder:  # one build per key in this process
            with self._lock:
                found = self._open.get(path)
            if found is not None:
                return found
            built_now = False
            connection = _open_existing(path)
            if connection is None:
                started = time.perf_counter()
                records = build()  # may refine `meta` (the name as the project spells it)
                fts.build(path, records, {**meta, "built_at": str(time.time())})
                logger.info(
                    "docs index: %s %s built (%d records) in %.0f ms",
                    key.name,
                    key.version,
                    len(records),
                    (time.perf_counter() - started) * 1000,
                )
                connection = fts.open_index(path)
                built_now = True
                self.built += 1
            else:
                self.opened += 1
            index = LibraryIndex(path, connection, built_now)
            with self._lock:
                self._open[path] = index
                self._building.pop(path, None)
                while len(self._open) > OPEN_INDEXES:
                    _, evicted = self._open.popitem(last=False)
                    evicted.close()
            return index

    def clear(self) -> int:
        """Close and delete every index file; returns how many were removed."""
        with self._lock:
            for index in self._open.values():
                index.close()
            self._open.clear()
        removed = 0
        for path in self.directory.glob("*.sqlite"):
            try:
                path.unlink()
                removed += 1
            except OSError as error:
                logger.warning("docs index: cannot remove %s: %s", path, error)
        return removed


def index_usage(directory: Path) -> tuple[int, int]:
    """(index files, their bytes) in `directory`."""
    entries = size = 0
    for path in directory.glob("*.sqlite"):
        try:
            size += path.stat().st_size
        except OSError:
            continue
        entries += 1
    return entries, size


def _open_existing(path: Path) -> sqlite3.Connection | None:
    if not path.is_file():
        return None
    try:
        return fts.open_index(path)
    except sqlite3.Error as error:
        # A damaged file (disk full, killed mid-copy elsewhere): rebuild over it.
        logger.warning("docs index %s is unreadable (%s); rebuilding it", path, error)
        return None
