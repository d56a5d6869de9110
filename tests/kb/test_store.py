"""DocsStore: both tiers, keys, entries, stats, location and permissions."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.kb.cache_location import CACHE_DIR_ENV, default_cache_directory
from tether.kb.disk_tier import DiskTier
from tether.kb.memory_tier import MemoryTier
from tether.kb.spill_log import SPILL_DIRECTORY
from tether.kb.store import CacheEntry, CacheKey, DocsStore
from tether.kb.store_stats import TierCounters


def make_entry(content: str = "docs", **overrides: object) -> CacheEntry:
    fields: dict[str, object] = {
        "content": content,
        "provider": "context7",
        "library": "requests",
        "version": "2.32.3",
        "fetched_at": time.time(),
        "fresh_until": None,
        "expires_at": None,
        "meta": {"library_id": "/psf/requests"},
    }
    fields.update(overrides)
    return CacheEntry(**fields)  # type: ignore[arg-type]


def db_rows(directory: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(directory / "cache.db") as connection:
        return connection.execute(
            "SELECT key, raw, mode, filename, value FROM Cache ORDER BY rowid"
        ).fetchall()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DocsStore]:
    with DocsStore(tmp_path / "docs") as docs_store:
        yield docs_store


# -- keys -------------------------------------------------------------------------------


def test_key_canonicalises_pypi_and_npm_names_and_normalises_query() -> None:
    key = CacheKey.of("Context7", "Django_REST.framework", None, "  How  do I\tPAGINATE?\n")
    assert key == CacheKey("context7", "django-rest-framework", "", "how do i paginate?")
    assert CacheKey.of("local", "@Types/Node", "20.1.0", "").name == "@types/node"
    assert CacheKey.of("local", "Lodash.Merge", "4", "", ecosystem="npm").name == "lodash.merge"
    assert CacheKey.of("local", "Straße", "1", "STRASSE").query == "strasse"


def test_key_string_is_unambiguous() -> None:
    first = CacheKey("p", "a|b", "1", "q").as_string()
    second = CacheKey("p", "a", "b|1", "q").as_string()
    third = CacheKey("p", "a%7Cb", "1", "q").as_string()
    assert len({first, second, third}) == 3
    assert (
        CacheKey("p", "n", "1", "x y").as_string() == CacheKey.of("P", "N", "1", "X  Y").as_string()
    )


@pytest.mark.parametrize(("provider", "name"), [("", "requests"), ("local", "  "), ("local", "")])
def test_key_refuses_empty_parts(provider: str, name: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        CacheKey.of(provider, name, "1", "q")


# -- entries ----------------------------------------------------------------------------


def test_entry_round_trips_through_bytes() -> None:
    entry = make_entry("ü" * 10, fresh_until=1.5, expires_at=2.5, meta={"n": [1, 2]})
    assert CacheEntry.from_bytes(entry.to_bytes()) == entry


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"[1,2]",
        b'{"v": 1}',
        b'{"v": 99, "content": "x"}',
        b'{"v":1,"content":1,"provider":"p","library":"l","version":"","fetched_at":1,'
        b'"fresh_until":null,"expires_at":null,"meta":{}}',
        b'{"v":1,"content":"c","provider":"p","library":"l","version":"","fetched_at":true,'
        b'"fresh_until":null,"expires_at":null,"meta":{}}',
        b'{"v":1,"content":"c","provider":"p","library":"l","version":"","fetched_at":1,'
        b'"fresh_until":"soon","expires_at":null,"meta":{}}',
        b'{"v":1,"content":"c","provider":"p","library":"l","version":"","fetched_at":1,'
        b'"fresh_until":null,"expires_at":null,"meta":[]}',
    ],
)
def test_entry_from_malformed_bytes_is_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="cache entry"):
        CacheEntry.from_bytes(data)


def test_freshness_and_expiry() -> None:
    local = make_entry(fresh_until=None, expires_at=None)
    assert local.is_fresh(1e12) and not local.is_expired(1e12)
    remote = make_entry(fresh_until=100.0, expires_at=200.0)
    assert remote.is_fresh(99.0)
    assert not remote.is_fresh(150.0) and not remote.is_expired(150.0)  # stale but servable
    assert remote.is_expired(200.0) and not remote.is_fresh(200.0)


# -- tiers ------------------------------------------------------------------------------


def test_round_trip_through_both_tiers(store: DocsStore) -> None:
    key = CacheKey.of("context7", "requests", "2.32.3", "sessions")
    entry = make_entry("# Sessions\n" * 50)
    assert store.get(key) is None
    assert store.set(key, entry) is True
    assert store.get(key) == entry  # tier 1

    with DocsStore(store.directory) as other_process_view:
        assert other_process_view.get(key) == entry  # tier 2, then promoted
        assert other_process_view.get(key) == entry  # tier 1
        stats = other_process_view.stats()
    assert (stats.memory.hits, stats.memory.misses) == (1, 1)
    assert (stats.disk.hits, stats.disk.misses) == (1, 0)
    assert stats.disk.entries == 1 and stats.memory.entries == 1
    assert stats.disk_state == "open"


def test_stats_count_hits_and_misses_per_tier(store: DocsStore) -> None:
    key = CacheKey.of("local", "attrs", "24.2.0", "")
    store.get(key)
    store.set(key, make_entry())
    store.get(key)
    store.get(key)
    stats = store.stats()
    assert (stats.memory.hits, stats.memory.misses) == (2, 1)
    assert (stats.disk.hits, stats.disk.misses) == (0, 1)
    assert stats.memory.latency_p50_us is not None and stats.memory.latency_p99_us is not None
    assert stats.disk.errors == 0 and stats.disk.skipped_writes == 0
    as_json = orjson.loads(orjson.dumps(stats.to_json()))
    assert as_json["memory"]["hits"] == 2 and as_json["directory"] == str(store.directory)


def test_memory_tier_evicts_least_recently_used_by_bytes() -> None:
    tier: MemoryTier[str] = MemoryTier(limit_bytes=300)
    for name in ("a", "b", "c"):
        assert tier.set(name, name, 100)
    assert tier.get("a") == "a"  # a is now the most recently used
    tier.set("d", "d", 100)
    assert "b" not in tier and all(name in tier for name in "acd")
    assert tier.usage() == (3, 300)
    assert tier.set("big", "big", 301) is False  # over the whole budget: not kept
    assert "big" not in tier and tier.usage() == (3, 300)
    tier.set("e", "e", 250)  # one large value evicts several small ones
    assert tier.usage() == (1, 250)


def test_store_memory_limit_evicts_by_bytes_and_falls_back_to_disk(tmp_path: Path) -> None:
    content = "x" * 1000
    per_entry = make_entry(content).memory_size(CacheKey.of("p", "lib0", "1", "").as_string())
    with DocsStore(tmp_path, memory_limit_bytes=per_entry * 3) as store:
        keys = [CacheKey.of("p", f"lib{i}", "1", "") for i in range(4)]
        for key in keys:
            assert store.set(key, make_entry(content))
        stats = store.stats()
        assert stats.memory.entries == 3 and stats.memory.bytes <= per_entry * 3
        assert store.get(keys[0]) is not None  # evicted from memory, still on disk
        after = store.stats()
        assert after.disk.hits == 1 and after.memory.misses == 1


def test_expired_entries_are_misses_in_both_tiers(store: DocsStore) -> None:
    key = CacheKey.of("context7", "httpx", "0.27", "")
    now = time.time()
    assert store.set(key, make_entry(expires_at=now + 0.05)) is True
    assert store.get(key) is not None
    time.sleep(0.1)  # wall-clock expiry is the behaviour under test
    assert store.get(key) is None
    assert store.stats().disk.misses == 1
    assert store.set(key, make_entry(expires_at=now - 1)) is True  # already expired: stored nowhere
    assert store.get(key) is None


def test_delete_and_clear(store: DocsStore) -> None:
    keys = [CacheKey.of("p", f"n{i}", "1", "") for i in range(5)]
    for key in keys:
        store.set(key, make_entry())
    store.delete(keys[0])
    assert store.get(keys[0]) is None
    with DocsStore(store.directory) as other:
        assert other.get(keys[0]) is None
    assert store.clear() == 4
    assert all(store.get(key) is None for key in keys)
    assert store.stats().disk.entries == 0


def test_values_are_stored_as_orjson_never_pickle(store: DocsStore) -> None:
    small = CacheKey.of("p", "small", "1", "")
    large = CacheKey.of("p", "large", "1", "")
    store.set(small, make_entry("s" * 4096))
    store.set(large, make_entry("L" * (2 * 2**20)))  # over disk_min_file_size: a file
    rows = {row[0]: row for row in db_rows(store.directory)}
    key, raw, mode, filename, value = rows[small.as_string()]
    assert isinstance(key, str) and raw == 1  # a str key, not a pickled one
    assert mode == 1 and filename is None  # MODE_RAW bytes in the row
    assert orjson.loads(value)["content"] == "s" * 4096
    _, raw, mode, filename, value = rows[large.as_string()]
    assert raw == 1 and mode == 2 and value is None  # MODE_BINARY file, not MODE_PICKLE (4)
    assert orjson.loads((store.directory / filename).read_bytes())["content"].startswith("LLL")


def test_garbage_in_tier_two_is_a_miss_and_is_removed(
    store: DocsStore, caplog: pytest.LogCaptureFixture
) -> None:
    key = CacheKey.of("context7", "flask", "3.0", "blueprints")
    store.set(key, make_entry())
    with sqlite3.connect(store.directory / "cache.db") as connection:
        connection.execute(
            "UPDATE Cache SET value = ? WHERE key = ?", (b"\x00not json{", key.as_string())
        )
    with DocsStore(store.directory) as reader:
        assert reader.get(key) is None
        assert reader.stats().disk.misses == 1
    assert db_rows(store.directory) == []
    assert any("unreadable" in record.getMessage() for record in caplog.records)


class _OpensAFileWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_a_pickled_row_is_never_unpickled(store: DocsStore, tmp_path: Path) -> None:
    import pickle

    key = CacheKey.of("context7", "flask", "3.0", "")
    store.set(key, make_entry())
    marker = tmp_path / "unpickled"
    with sqlite3.connect(store.directory / "cache.db") as connection:
        connection.execute(
            "UPDATE Cache SET mode = 4, value = ? WHERE key = ?",
            (pickle.dumps(_OpensAFileWhenUnpickled(marker)), key.as_string()),
        )
    with DocsStore(store.directory) as reader:
        assert reader.get(key) is None
    assert not marker.exists()
    assert db_rows(store.directory) == []


# -- location ---------------------------------------------------------------------------


def test_directory_is_created_private(tmp_path: Path) -> None:
    directory = tmp_path / "nested" / "docs"
    with DocsStore(directory) as store:
        assert store.set(CacheKey.of("p", "n", "1", ""), make_entry())
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert (directory / "cache.db").is_file()


def test_tether_cache_dir_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "from-env"))
    with DocsStore() as store:
        assert store.directory == tmp_path / "from-env"
        store.set(CacheKey.of("p", "n", "1", ""), make_entry())
    assert (tmp_path / "from-env" / "cache.db").is_file()


@pytest.mark.parametrize(
    ("xdg_cache_home", "home"),
    [(None, "/home/someone"), ("/var/xdg-cache", "/home/someone"), ("relative/xdg", "/root/")],
)
def test_the_default_directory_is_platformdirs_without_importing_it(
    xdg_cache_home: str | None, home: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import platformdirs

    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv("HOME", home)
    if xdg_cache_home is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg_cache_home)
    expected = Path(platformdirs.user_cache_dir("tether")) / "docs"
    assert default_cache_directory() == expected


def test_a_file_where_the_directory_should_be_is_named(tmp_path: Path) -> None:
    (tmp_path / "docs").write_text("a file")
    with DocsStore(tmp_path / "docs") as store:
        stats = store.stats()
    assert stats.disk_state == "unavailable"
    assert "is not a directory" in (stats.disk_detail or "")


def test_unusable_directory_runs_memory_only(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with DocsStore(blocker / "docs") as store:
        key = CacheKey.of("p", "n", "1", "")
        assert store.set(key, make_entry()) is False
        cached = store.get(key)  # tier 1 still serves it
        assert cached is not None and cached.content == "docs"
        stats = store.stats()
    assert stats.disk_state == "unavailable" and "cannot create" in (stats.disk_detail or "")
    assert stats.disk.skipped_writes == 1


# -- contention within one process --------------------------------------------------------


def test_a_held_write_lock_queues_the_write_instead_of_waiting(
    store: DocsStore, caplog: pytest.LogCaptureFixture
) -> None:
    key = CacheKey.of("p", "n", "1", "")
    store.set(key, make_entry("before"))
    reader = DocsStore(store.directory, memory_limit_bytes=0)
    blocker = sqlite3.connect(store.directory / "cache.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process's write transaction, held
    try:
        started = time.perf_counter()
        written = [store.set(key, make_entry(f"during {i}")) for i in range(3)]
        elapsed = time.perf_counter() - started
        seen_elsewhere = reader.get(key)  # WAL: readers are not blocked by the writer
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    try:
        assert written == [True, True, True]  # queued, not skipped
        assert elapsed < 0.5  # no waiting for the lock at all; generous bound
        assert seen_elsewhere is not None and seen_elsewhere.content == "before"
        assert store.flush(10.0)
        landed = reader.get(key)
        assert landed is not None and landed.content == "during 2"  # the latest value won
        stats = store.stats()
        assert stats.disk.deferred_writes == 3
        assert (stats.disk.busy, stats.disk.errors, stats.disk.skipped_writes) == (0, 0, 0)
        assert store.set(key, make_entry("after")) is True
    finally:
        reader.close()
    assert not [r for r in caplog.records if "busy" in r.getMessage()]


def test_a_write_that_stays_blocked_is_left_for_a_later_cull_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    counters = TierCounters()
    tier = DiskTier(
        tmp_path,
        timeout_ms=25,
        counters=counters,
        open_budget_s=5,
        deferred_patience_s=0.05,
        close_flush_s=0.05,
    )
    tier.set("k", b"{}", None)
    blocker = sqlite3.connect(tmp_path / "cache.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        assert tier.set("k", b'{"a": 1}', None) is True  # queued
        assert tier.set("other", b'{"b": 2}', None) is True
        assert tier.flush(5.0)  # the background writer gave up on both after 50 ms
        # Not lost: still readable from the spill log, which is left for a later cull.
        assert tier.get("other") == b'{"b": 2}'
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        tier.close()
    stats = counters.snapshot(None, None)
    # One transaction per batch: both values in one (one busy give-up) or in two.
    assert (stats.deferred_writes, stats.skipped_writes) == (2, 2)
    assert stats.busy in (1, 2)
    assert stats.errors == 0
    reopened = DiskTier(tmp_path, timeout_ms=25, counters=TierCounters(), open_budget_s=5)
    try:
        assert reopened.wait_opened(10)  # its cull landed them
        assert not list((tmp_path / SPILL_DIRECTORY).glob("*.log"))
        assert (reopened.get("k"), reopened.get("other")) == (b'{"a": 1}', b'{"b": 2}')
    finally:
        reopened.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "busy" in warnings[0]


def test_opening_behind_a_held_write_lock_is_bounded(store: DocsStore) -> None:
    key = CacheKey.of("p", "n", "1", "")
    store.set(key, make_entry("before"))
    blocker = sqlite3.connect(store.directory / "cache.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.perf_counter()
        late = DocsStore(store.directory, open_timeout_ms=100)
        elapsed = time.perf_counter() - started
        state_while_locked = late.stats().disk_state
        missed = late.get(key)  # not open yet: a miss, at once
        other = CacheKey.of("p", "other", "1", "")
        queued = late.set(other, make_entry("written while opening"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    try:
        assert elapsed < 1.0
        assert state_while_locked == "opening" and missed is None
        assert queued is True
        assert late.wait_disk_opened(10.0)
        assert late.stats().disk_state == "open"
        found = late.get(key)
        assert found is not None and found.content == "before"
        assert late.flush(10.0)
    finally:
        late.close()
    landed = store.get(other)
    assert landed is not None and landed.content == "written while opening"


async def test_aget_and_aset_round_trip_and_never_block_on_a_held_lock(tmp_path: Path) -> None:
    with DocsStore(tmp_path) as store:
        key = CacheKey.of("p", "n", "1", "")
        assert await store.aset(key, make_entry("async")) is True
        with DocsStore(tmp_path) as reader:
            entry = await reader.aget(key)
        assert entry is not None and entry.content == "async"

        blocker = sqlite3.connect(tmp_path / "cache.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            async with asyncio.timeout(1.0):  # would be 25 ms+ per call if it waited
                results = [await store.aset(key, make_entry(f"v{i}")) for i in range(20)]
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert results == [True] * 20
        assert store.flush(10.0)
        with DocsStore(tmp_path) as reader:
            entry = await reader.aget(key)
        assert entry is not None and entry.content == "v19"


# -- fuzz ---------------------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=10,
)


_entry_shaped = st.fixed_dictionaries(
    {"v": st.just(1)},
    optional={
        name: _json_values
        for name in (
            "content",
            "provider",
            "library",
            "version",
            "fetched_at",
            "fresh_until",
            "expires_at",
            "meta",
        )
    },
)


@settings(max_examples=300, deadline=None)
@given(
    st.binary()
    | _json_values.map(lambda value: json.dumps(value).encode())
    | _entry_shaped.map(lambda value: json.dumps(value).encode())
)
def test_from_bytes_raises_only_value_error(data: bytes) -> None:
    try:
        CacheEntry.from_bytes(data)
    except ValueError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(), st.text(), st.text(), st.text()), max_size=20))
def test_key_strings_are_injective(parts: list[tuple[str, str, str, str]]) -> None:
    strings = {CacheKey(*part).as_string() for part in parts}
    assert len(strings) == len(set(parts))
