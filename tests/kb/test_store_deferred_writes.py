"""Writes queued behind another process's lock: coalescing, ordering, delete/clear, close."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import tether
from tether.kb.deferred_writes import DeferredWrites
from tether.kb.spill_log import SPILL_DIRECTORY, SpillLog, encode_record
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
        # Landed in the database, and the spill log removed once nothing waits.
        assert spill_logs(tmp_path) == []
        landed = other.get(KEY)
        assert landed is not None and landed.content == "waiting"
    finally:
        store.close()
        other.close()


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def spill_logs(directory: Path) -> list[Path]:
    return sorted((directory / SPILL_DIRECTORY).glob("*.log"))


def spill_in_a_process_that_dies(directory: Path, key: CacheKey, content: str) -> None:
    """A real process appends to its spill log and is gone without landing it (as after
    kill -9: no close, no flush), so the kernel drops its lock on the log."""
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from tether.kb.spill_log import SpillLog\n"
        "from tether.kb.store import CacheEntry\n"
        f"entry = CacheEntry({content!r}, 'context7', 'pydantic', '2.9', time.time(), None,"
        " None, {})\n"
        f"assert SpillLog(Path(sys.argv[1])).append({key.as_string()!r}, entry.to_bytes(),"
        " None)\n"
        "os._exit(0)\n"
    )
    # The tether under test, wherever it is imported from.
    environment = {**os.environ, "PYTHONPATH": str(Path(tether.__file__).parents[1])}
    subprocess.run(
        [sys.executable, "-c", script, str(directory)], check=True, timeout=60, env=environment
    )


def stored_rows(directory: Path, key: CacheKey) -> int:
    with sqlite3.connect(directory / "cache.db") as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM Cache WHERE key = ?", (key.as_string(),)
        ).fetchone()
    return int(count)


def test_a_value_spilled_by_a_process_that_died_is_landed_by_the_next_open(
    tmp_path: Path,
) -> None:
    DocsStore(tmp_path).close()  # the database exists
    spill_in_a_process_that_dies(tmp_path, KEY, "orphan")
    assert len(spill_logs(tmp_path)) == 1
    with DocsStore(tmp_path) as store:  # culls (and lands orphans) while opening
        assert store.wait_disk_opened(10)
    assert spill_logs(tmp_path) == []
    assert stored_rows(tmp_path, KEY) == 1
    assert content_on_disk(tmp_path, KEY) == "orphan"


def test_a_dead_process_s_value_does_not_replace_a_newer_one(tmp_path: Path) -> None:
    with DocsStore(tmp_path) as writer:
        assert writer.set(KEY, make_entry("newer"))
    # A log nobody holds (its writer died), spilled before the row above was stored.
    (tmp_path / SPILL_DIRECTORY).mkdir()
    record = encode_record(KEY.as_string(), make_entry("older").to_bytes(), time.time() - 60, None)
    (tmp_path / SPILL_DIRECTORY / "4242-dead.log").write_bytes(record)
    with DocsStore(tmp_path) as store:
        assert store.wait_disk_opened(10)
    assert spill_logs(tmp_path) == []
    assert content_on_disk(tmp_path, KEY) == "newer"


def test_a_live_process_s_spill_log_is_left_alone(tmp_path: Path) -> None:
    DocsStore(tmp_path).close()
    live = SpillLog(tmp_path)  # this process's log, locked while it exists
    assert live.append(KEY.as_string(), make_entry("waiting").to_bytes(), None)
    try:
        with DocsStore(tmp_path, memory_limit_bytes=0) as store:
            assert store.wait_disk_opened(10)
            found = store.get(KEY)  # read from the log, not landed by the open's cull
        assert found is not None and found.content == "waiting"
        assert len(spill_logs(tmp_path)) == 1
        assert stored_rows(tmp_path, KEY) == 0
    finally:
        live.close(landed=True)
    assert spill_logs(tmp_path) == []


def test_a_value_that_cannot_land_before_close_is_landed_by_the_next_open(
    tmp_path: Path,
) -> None:
    store = DocsStore(tmp_path)
    assert store.wait_disk_opened(10)
    with write_lock_held(tmp_path):
        assert store.set(KEY, make_entry("late")) is True
        store.close()  # gives up after its flush budget: the value stays in the log
        assert len(spill_logs(tmp_path)) == 1
    assert content_on_disk(tmp_path, KEY) == "late"  # landed by this open's cull
    assert spill_logs(tmp_path) == []
    assert stored_rows(tmp_path, KEY) == 1


def test_a_torn_or_foreign_tail_is_ignored(tmp_path: Path) -> None:
    writer = SpillLog(tmp_path)
    reader = SpillLog(tmp_path)
    try:
        assert writer.append("a", b"first", None)
        assert writer.append("b", b"second", None)
        (log,) = spill_logs(tmp_path)
        with log.open("ab") as file:
            file.write(b"tsl1 garbage that is not a whole record")
        logs = reader.other_logs()
        assert reader.find("a", logs) == b"first" and reader.find("b", logs) == b"second"
        assert [record.key for record in reader.records()] == ["a", "b"]
        assert writer.append("c", b"after the garbage", None)  # unreadable, not misread
        assert reader.find("c", logs) is None
    finally:
        writer.close(landed=True)


def test_a_deletion_hides_a_spilled_value_from_other_processes(tmp_path: Path) -> None:
    with DocsStore(tmp_path, memory_limit_bytes=0) as store:
        other = DocsStore(tmp_path, memory_limit_bytes=0)
        try:
            with write_lock_held(tmp_path):
                store.set(KEY, make_entry("spilled"))
                seen = other.get(KEY)
                # The database delete waits for the lock; the log says it at once.
                deleter = threading.Thread(target=store.delete, args=(KEY,))
                deleter.start()
                logs = SpillLog(tmp_path)
                assert wait_until(lambda: any(r.value is None for r in logs.records()))
                hidden = other.get(KEY)
            deleter.join(10)
        finally:
            other.close()
    assert seen is not None and seen.content == "spilled"
    assert hidden is None


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


def test_a_fifo_or_symlink_among_the_logs_never_blocks_or_is_followed(tmp_path: Path) -> None:
    """Whatever sits in the spill directory, a miss reads only regular files: a FIFO would
    block an open for reading forever, a symlink could point anywhere."""
    spill = tmp_path / SPILL_DIRECTORY
    spill.mkdir(parents=True)
    os.mkfifo(spill / "1-fifo.log")
    outside = tmp_path / "outside"
    outside.write_bytes(encode_record(KEY.as_string(), make_entry("planted").to_bytes(), 0, None))
    (spill / "2-link.log").symlink_to(outside)
    with DocsStore(tmp_path, memory_limit_bytes=0) as store:
        assert store.wait_disk_opened(10)
        assert store.get(KEY) is None  # returns: neither the FIFO nor the link was read
        assert store.clear() == 0
    assert outside.read_bytes() != b""  # clear truncated nothing through the link


def test_a_reader_follows_a_log_as_it_grows_and_after_it_is_emptied(tmp_path: Path) -> None:
    """A reader keeps what it has read of each log (a miss then costs a stat): it must see
    what is appended since, and not trust its offsets once the log was emptied (a clear)
    and written again past where it had read."""
    writer = SpillLog(tmp_path)
    reader = SpillLog(tmp_path)
    try:
        assert writer.append("a", b"one", None)
        logs = reader.other_logs()
        assert reader.find("a", logs) == b"one"
        assert writer.append("b", b"two", None) and writer.append("a", b"three", None)
        assert (reader.find("a", logs), reader.find("b", logs)) == (b"three", b"two")
        assert writer.append("a", None, None)  # deleted
        assert reader.find("a", logs) is None
        reader.clear()
        assert writer.append("c", b"x" * 200, None) and writer.append("d", b"four", None)
        # Where its reading ended there is no record now: it reads the log again.
        assert (reader.find("c", logs), reader.find("d", logs)) == (b"x" * 200, b"four")
        assert reader.find("a", logs) is None
    finally:
        writer.close(landed=True)


def test_a_log_abandoned_before_it_was_named_is_removed_once_old(tmp_path: Path) -> None:
    """A process killed between creating its log and renaming it into place leaves an empty
    temporary file: the next open removes it once it is old, and leaves a young one alone."""
    DocsStore(tmp_path).close()
    spill = tmp_path / SPILL_DIRECTORY
    spill.mkdir(exist_ok=True)
    old, young = spill / ".tmp-4242-dead.log", spill / ".tmp-4243-new.log"
    old.touch()
    young.touch()
    long_ago = time.time() - 3600
    os.utime(old, (long_ago, long_ago))
    with DocsStore(tmp_path) as store:
        assert store.wait_disk_opened(10)
    assert not old.exists() and young.exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_a_log_another_user_owns_is_never_read(tmp_path: Path) -> None:
    """In a cache folder others can write (a shared $TETHER_CACHE_DIR), a log they planted
    serves nothing."""
    DocsStore(tmp_path).close()
    spill = tmp_path / SPILL_DIRECTORY
    spill.mkdir(exist_ok=True)
    planted = spill / "4242-planted.log"
    planted.write_bytes(
        encode_record(KEY.as_string(), make_entry("planted").to_bytes(), time.time(), None)
    )
    os.chown(planted, 65534, 65534)
    with DocsStore(tmp_path, memory_limit_bytes=0) as store:
        assert store.wait_disk_opened(10)
        assert store.get(KEY) is None
    assert content_on_disk(tmp_path, KEY) is None  # and not landed as an orphan either
