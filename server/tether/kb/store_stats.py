"""Counters and latency figures for the two cache tiers, as reported by `tether cache stats`."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

LATENCY_WINDOW_SIZE = 4096
"""How many recent lookups the latency percentiles are computed over."""


class LatencyWindow:
    """The most recent lookup durations (nanoseconds) in a ring, for p50/p99 on demand."""

    def __init__(self, size: int = LATENCY_WINDOW_SIZE) -> None:
        self._samples: list[int] = []
        self._size = size
        self._next = 0
        self._lock = threading.Lock()

    def record(self, nanoseconds: int) -> None:
        with self._lock:
            if len(self._samples) < self._size:
                self._samples.append(nanoseconds)
            else:
                self._samples[self._next] = nanoseconds
                self._next = (self._next + 1) % self._size

    def percentiles_us(self) -> tuple[float | None, float | None]:
        """(p50, p99) in microseconds, or (None, None) before the first sample."""
        with self._lock:
            samples = sorted(self._samples)
        if not samples:
            return None, None
        return _percentile(samples, 0.50) / 1000, _percentile(samples, 0.99) / 1000


def _percentile(sorted_samples: list[int], fraction: float) -> float:
    """Nearest-rank percentile of already sorted samples."""
    index = min(len(sorted_samples) - 1, max(0, round(fraction * len(sorted_samples)) - 1))
    return float(sorted_samples[index])


class TierCounters:
    """Mutable, thread-safe counters for one tier; `snapshot` turns them into TierStats."""

    def __init__(self) -> None:
        self.latency = LatencyWindow()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._errors = 0
        self._busy = 0
        self._deferred_writes = 0
        self._skipped_writes = 0

    def hit(self, nanoseconds: int) -> None:
        with self._lock:
            self._hits += 1
        self.latency.record(nanoseconds)

    def miss(self, nanoseconds: int) -> None:
        with self._lock:
            self._misses += 1
        self.latency.record(nanoseconds)

    def error(self) -> None:
        with self._lock:
            self._errors += 1

    def busy(self) -> None:
        with self._lock:
            self._busy += 1

    def deferred_write(self) -> None:
        with self._lock:
            self._deferred_writes += 1

    def skipped_write(self) -> None:
        with self._lock:
            self._skipped_writes += 1

    def snapshot(self, entries: int | None, size_bytes: int | None) -> TierStats:
        with self._lock:
            hits, misses = self._hits, self._misses
            errors, busy, skipped = self._errors, self._busy, self._skipped_writes
            deferred = self._deferred_writes
        p50, p99 = self.latency.percentiles_us()
        return TierStats(
            hits=hits,
            misses=misses,
            errors=errors,
            busy=busy,
            skipped_writes=skipped,
            deferred_writes=deferred,
            entries=entries,
            bytes=size_bytes,
            latency_p50_us=p50,
            latency_p99_us=p99,
        )


@dataclass(frozen=True, slots=True)
class TierStats:
    """What one tier did since its store was opened."""

    hits: int
    """Lookups answered by this tier."""
    misses: int
    """Lookups this tier could not answer (absent, expired, undecodable, or tier unavailable)."""
    errors: int
    """Operations that failed (corruption, I/O) and were degraded to a miss or skipped write."""
    busy: int
    """Operations that found the database locked by other processes for the whole timeout
    (each a miss or skipped write): contention, designed to degrade, not an error."""
    skipped_writes: int
    """Writes not made: busy, error, tier unavailable, or (memory) value over the budget."""
    deferred_writes: int
    """Writes that found the database busy and were handed to the background writer (they
    count again under skipped_writes only if the background writer gave up on them)."""
    entries: int | None
    """Entries held now (None when the tier cannot say, e.g. the disk tier is unavailable)."""
    bytes: int | None
    """Estimated bytes held now: content plus overhead in memory, database volume on disk."""
    latency_p50_us: float | None
    """Median lookup time in microseconds over recent lookups (None before the first)."""
    latency_p99_us: float | None
    """99th-percentile lookup time in microseconds over recent lookups."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Both tiers of one DocsStore, plus the state of the disk tier."""

    memory: TierStats
    """Tier 1: the in-process LRU."""
    disk: TierStats
    """Tier 2: the shared diskcache database."""
    directory: str
    """The tier-2 cache directory."""
    disk_state: str
    """'open', 'opening' (still opening in the background) or 'unavailable' (memory only)."""
    disk_detail: str | None
    """Why the disk tier is unavailable, or what was recovered at open (a corrupt file moved
    aside); None when there is nothing to say."""

    def to_json(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "disk_state": self.disk_state,
            "disk_detail": self.disk_detail,
            "memory": self.memory.to_json(),
            "disk": self.disk.to_json(),
        }
