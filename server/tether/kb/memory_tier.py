"""Tier 1 of the docs cache: an in-process LRU bounded in bytes, safe to share between threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class MemoryTier(Generic[V]):
    """Least-recently-used mapping from string keys to values, bounded by an estimated byte size.

    The caller supplies each value's size (its content length plus an overhead estimate), so
    the tier knows nothing about what it holds. A value larger than the whole budget is not
    kept at all: it would only evict everything else and then be evicted itself.
    """

    def __init__(self, limit_bytes: int) -> None:
        if limit_bytes < 0:
            raise ValueError(f"memory tier limit must be >= 0 bytes, got {limit_bytes}")
        self._limit = limit_bytes
        self._items: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        # aget/aset run tier 2 in worker threads and promote into this tier from there.
        self._lock = threading.Lock()

    @property
    def limit_bytes(self) -> int:
        return self._limit

    def get(self, key: str) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def set(self, key: str, value: V, size: int) -> bool:
        """Store `value`; returns False when it is larger than the whole budget (not kept)."""
        with self._lock:
            previous = self._items.pop(key, None)
            if previous is not None:
                self._bytes -= previous[1]
            if size > self._limit:
                return False
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self._limit:
                _, (_, evicted_size) = self._items.popitem(last=False)
                self._bytes -= evicted_size
            return True

    def delete(self, key: str) -> bool:
        with self._lock:
            item = self._items.pop(key, None)
            if item is None:
                return False
            self._bytes -= item[1]
            return True

    def clear(self) -> int:
        with self._lock:
            count = len(self._items)
            self._items.clear()
            self._bytes = 0
            return count

    def usage(self) -> tuple[int, int]:
        """(entries, bytes) currently held."""
        with self._lock:
            return len(self._items), self._bytes

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items
