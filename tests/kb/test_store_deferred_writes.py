"""Writes queued behind another process's lock: coalescing, ordering, delete/clear, close."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tether.kb.deferred_writes import DeferredWrites
from tether.kb.spill_files import SPILL_DIRECTORY, SpillFiles
from tether.kb.store import CacheEntry, CacheKey, DocsStore

KEY = CacheKey.of("context7", "pydantic", "2.9", "validators")


def make_entry(content: str) -> CacheEntry:
    return CacheEntry(content, "context7", "pydantic", "2.9", time.time(), None, None, {})


@contextmanager
def write_lock_held(directory: Path) -> Iterator[None]:
    """Another process's write transaction on the shared database, held until exit."""
    blocker = sqlite3.connect(directory / "cache.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def content_on_disk(directory: Path, key: CacheKey) -> str | None:
    with DocsStore(directory, memory_limit_bytes=0) as reader:
        found = reader.get(key)
    return None if found is None else found.content


def test_close_flushes_queued_writes(tmp_path: Path) -> None:
    store = DocsStore(tmp_path)
    assert store.wait_disk_opened(10)
    with write_lock_held(tmp_path):
        assert store.set(KEY, make_entry("queued")) is True
        assert store.get(KEY) is not None  # visible in this process at once
    store.close()
    assert content_on_disk(tmp_path, KEY) == "queued"


def test_a_value_waiting_for_a_held_lock_is_readable_elsewhere_when_set_returns(
    tmp_path: Path,
) -> None:
    store = DocsStore(tmp_path, memory_limit_bytes=0)
    other = DocsStore(tmp_path, memory_limit_bytes=0)  # another connection, its own queue
    try:
        assert store.wait_disk_opened(10) and other.wait_disk_opened(10)
        with write_lock_held(tmp_path):
            started = time.perf_counter()
            assert store.set(KEY, make_entry("waiting")) is True
            elapsed = time.perf_counter() - started
            seen_elsewhere = other.get(KEY)  # the database does not hold it yet
        assert elapsed < 0.5  # bounded by a few ms of busy timeout; generous for a loaded box
        assert seen_elsewhere is not None and seen_elsewhere.content == "waiting"
        assert store.flush(10.0)
        # Landed in the database, and the spilled copy removed.
        assert list((tmp_path / SPILL_DIRECTORY).iterdir()) == []
        landed = other.get(KEY)
        assert landed is not None and landed.content == "waiting"
    finally:
        store.close()
        other.close()


def test_a_value_spilled_by_a_process_that_died_is_landed_by_the_next_open(
    tmp_path: Path,
) -> None:
    DocsStore(tmp_path).close()  # the database exists
    spill = SpillFiles(tmp_path)
    assert spill.put(KEY.as_string(), make_entry("orphan").to_bytes(), None)
    (spilled,) = (tmp_path / SPILL_DIRECTORY).iterdir()
    long_ago = time.time() - 3600
    os.utime(spilled, (long_ago, long_ago))
    with DocsStore(tmp_path) as store:  # culls (and lands orphans) while opening
        assert store.wait_disk_opened(10)
    assert not spilled.exists()
    with sqlite3.connect(tmp_path / "cache.db") as connection:
        rows = connection.execute(
            "SELECT count(*) FROM Cache WHERE key = ?", (KEY.as_string(),)
        ).fetchone()
    assert rows == (1,)
    assert content_on_disk(tmp_path, KEY) == "orphan"


def test_reads_in_the_writing_process_see_queued_values_even_without_tier_one(
    tmp_path: Path,
) -> None:
    with DocsStore(tmp_path, memory_limit_bytes=0) as store:
        store.set(KEY, make_entry("old"))
        with write_lock_held(tmp_path):
            store.set(KEY, make_entry("new"))
            found = store.get(KEY)
        assert found is not None and found.content == "new"


def test_delete_drops_a_queued_write(tmp_path: Path) -> None:
    with DocsStore(tmp_path) as store:
        store.set(KEY, make_entry("on disk"))
        with write_lock_held(tmp_path):
            store.set(KEY, make_entry("queued"))
            deleter = threading.Thread(target=store.delete, args=(KEY,))
            deleter.start()
        deleter.join(10)
        assert store.flush(10)
        assert store.get(KEY) is None
    assert content_on_disk(tmp_path, KEY) is None


def test_clear_drops_queued_writes_too(tmp_path: Path) -> None:
    other = CacheKey.of("context7", "attrs", "24", "")
    with DocsStore(tmp_path) as store:
        store.set(other, make_entry("on disk"))
        with write_lock_held(tmp_path):
            store.set(KEY, make_entry("queued"))
        removed = store.clear()
        assert store.flush(10)
    assert removed in (1, 2)  # the queued one may have landed before clear ran
    assert content_on_disk(tmp_path, KEY) is None
    assert content_on_disk(tmp_path, other) is None


# -- the queue on its own, with a write that blocks until released --------------------------


class GatedWrites:
    """A write function that records what it wrote and blocks until `gate` is set."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.written: list[tuple[str, bytes]] = []

    def __call__(self, key: str, value: bytes, expire_s: float | None) -> bool:
        self.started.set()
        self.gate.wait(10)
        self.written.append((key, value))
        return True


def test_queue_coalesces_keeps_order_and_reports_in_flight() -> None:
    writes = GatedWrites()
    queue = DeferredWrites(writes, max_bytes=1000, name="test-writer")
    assert queue.defer("a", b"1", None)
    assert writes.started.wait(5)  # "a" is now in flight
    assert queue.holds("a") and queue.pending_value("a") == b"1"  # in flight, still visible
    assert queue.defer("b", b"1", None)
    assert queue.defer("b", b"2", None)  # replaces the queued b=1
    assert queue.defer("c", b"1", time.time() - 1)  # already expired: dropped when reached
    assert queue.pending_value("b") == b"2" and len(queue) == 3
    assert queue.flush(0.05) is False  # still blocked
    writes.gate.set()
    assert queue.flush(5)
    assert writes.written == [("a", b"1"), ("b", b"2")]
    assert not queue.holds("a") and len(queue) == 0
    assert queue.close(1) == 0


def test_queue_refuses_over_budget_and_after_close() -> None:
    writes = GatedWrites()
    queue = DeferredWrites(writes, max_bytes=10, name="test-writer")
    assert queue.defer("a", b"12345", None)
    assert writes.started.wait(5)
    assert queue.defer("b", b"123456", None)  # a is in flight, no longer counted
    assert queue.defer("c", b"12345", None) is False  # 6 + 5 > 10
    assert queue.close(0.05) == 1  # b dropped: the writer is still blocked on a
    assert queue.defer("d", b"1", None) is False
    writes.gate.set()
