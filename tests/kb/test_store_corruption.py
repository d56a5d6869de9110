"""A corrupt cache database: never an exception, a miss or skipped write plus one warning."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest

from tether.kb.disk_tier import DiskTier
from tether.kb.store import CacheEntry, CacheKey, DocsStore
from tether.kb.store_stats import TierCounters

KEY = CacheKey.of("context7", "numpy", "2.1.0", "broadcasting")


def make_entry(content: str = "docs") -> CacheEntry:
    return CacheEntry(content, "context7", "numpy", "2.1.0", time.time(), None, None, {})


def overwrite_with_junk(database: Path) -> None:
    """Fold the WAL into the main file, then overwrite the main file with junk in place."""
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = database.stat().st_size
    with database.open("r+b") as handle:
        handle.write(b"junk" * (size // 4))


def disk_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and record.name == "tether.kb.disk_tier"
    ]


def test_corruption_at_runtime_is_a_miss_and_a_skipped_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with DocsStore(tmp_path, memory_limit_bytes=0) as store:
        assert store.set(KEY, make_entry()) is True
        overwrite_with_junk(tmp_path / "cache.db")

        results = [store.get(KEY), store.set(KEY, make_entry()), store.get(KEY)]
        store.delete(KEY)
        stats = store.stats()

    assert results == [None, False, None]
    assert stats.disk_state == "unavailable"
    assert "unreadable" in (stats.disk_detail or "")
    assert stats.disk.errors >= 1 and stats.disk.skipped_writes == 1
    warnings = disk_warnings(caplog)
    assert len(warnings) == 1 and "corrupt" in warnings[0]


def test_corrupt_file_at_open_is_moved_aside_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "cache.db").write_bytes(b"this is not an sqlite database\n" * 100)

    with DocsStore(tmp_path) as store:
        assert store.get(KEY) is None
        assert store.set(KEY, make_entry("fresh")) is True
        stats = store.stats()

    assert stats.disk_state == "open"
    assert "moved aside" in (stats.disk_detail or "")
    moved = list(tmp_path.glob("cache.db.corrupt-*"))
    assert moved and moved[0].read_bytes().startswith(b"this is not an sqlite database")
    with DocsStore(tmp_path) as reopened:
        found = reopened.get(KEY)
        assert found is not None and found.content == "fresh"
        assert reopened.stats().disk_detail is None
        assert reopened.clear() == 1
    assert len(disk_warnings(caplog)) == 1
    assert not list(tmp_path.glob("cache.db.corrupt-*"))  # clear removes moved-aside copies


def test_a_tier_that_went_corrupt_recovers_in_the_background(tmp_path: Path) -> None:
    tier = DiskTier(
        tmp_path, timeout_ms=25, counters=TierCounters(), open_budget_s=5, reopen_interval_s=0
    )
    try:
        assert tier.set("k", b"{}", None) is True
        overwrite_with_junk(tmp_path / "cache.db")
        assert tier.get("k") is None
        assert tier.state == "unavailable"

        assert tier.get("k") is None  # due for a reopen: starts it, does not wait for it
        assert tier.wait_opened(10.0)
        assert tier.state == "open" and "moved aside" in (tier.detail or "")
        assert tier.set("k", b'{"again": true}', None) is True
        assert tier.get("k") == b'{"again": true}'
    finally:
        tier.close()
