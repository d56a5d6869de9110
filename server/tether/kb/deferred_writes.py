"""Writes that found the shared cache busy, finished later by one background thread.

A caller never waits for another process's write lock: its value is queued here (the latest
value per key wins) and a single daemon thread per store writes the queue out with patience.
Reads in this process see queued values, and a key that is queued or in flight keeps queuing,
so an older value can never land after a newer one written by this process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

WriteCall = Callable[[str, bytes, float | None], bool]
"""(key, value, seconds until hard expiry or None) -> written."""
BatchWriteCall = Callable[[list[tuple[str, bytes, float | None]]], None]
"""Several writes at once (one transaction): [(key, value, seconds until expiry)]."""
BATCH_ITEMS = 64


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """One queued value."""

    value: bytes
    """The bytes to store."""
    expires_at: float | None
    """Hard expiry as epoch seconds (None = never); an already expired value is dropped."""


class DeferredWrites:
    """A bounded, coalescing queue of writes and the thread that drains it."""

    def __init__(
        self,
        write: WriteCall,
        *,
        max_bytes: int,
        name: str,
        write_batch: BatchWriteCall | None = None,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        """`on_idle` is called by the worker thread, holding no lock of this queue, each time
        the queue has drained (nothing queued or in flight); flush() waits for it too."""
        self._write = write
        self._on_idle = on_idle
        self._write_batch = write_batch
        self._max_bytes = max_bytes
        self._name = name
        self._pending: OrderedDict[str, PendingWrite] = OrderedDict()
        self._pending_bytes = 0
        self._in_flight: dict[str, PendingWrite] = {}
        self._settling = False
        """True while on_idle runs."""
        self._changed = threading.Condition(threading.Lock())
        self._worker: threading.Thread | None = None
        self._closed = False

    def defer(self, key: str, value: bytes, expires_at: float | None) -> bool:
        """Queue `value` for `key`, replacing a queued one; False when closed or over budget."""
        with self._changed:
            if self._closed:
                return False
            previous = self._pending.pop(key, None)
            if previous is not None:
                self._pending_bytes -= len(previous.value)
            if self._pending_bytes + len(value) > self._max_bytes:
                return False
            self._pending[key] = PendingWrite(value, expires_at)
            self._pending_bytes += len(value)
            # A dead worker (an unexpected exception, or a fork that copied this object but
            # not its thread) is replaced rather than left holding queued writes forever.
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._drain, name=self._name, daemon=True)
                self._worker.start()
            self._changed.notify_all()
            return True

    def holds(self, key: str) -> bool:
        """True while `key` is queued or being written: a newer write must queue behind it."""
        with self._changed:
            return key in self._pending or key in self._in_flight

    def pending_value(self, key: str) -> bytes | None:
        """The newest value this queue holds for `key` (queued or being written), if any."""
        with self._changed:
            pending = self._pending.get(key)
            if pending is None:
                pending = self._in_flight.get(key)
            return None if pending is None else pending.value

    def queued(self) -> list[tuple[str, PendingWrite]]:
        """Every value not yet landed (in flight first, then queued), oldest first."""
        with self._changed:
            return [*self._in_flight.items(), *self._pending.items()]

    def __len__(self) -> int:
        with self._changed:
            return len(self._pending) + len(self._in_flight)

    def discard(self, key: str, timeout_s: float) -> None:
        """Forget a queued value for `key`, and wait (bounded) for one in flight to land."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            previous = self._pending.pop(key, None)
            if previous is not None:
                self._pending_bytes -= len(previous.value)
            while key in self._in_flight and (remaining := deadline - time.monotonic()) > 0:
                self._changed.wait(remaining)

    def discard_all(self, timeout_s: float) -> int:
        """Forget every queued value and wait (bounded) for the one in flight; returns dropped."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            dropped = len(self._pending)
            self._pending.clear()
            self._pending_bytes = 0
            while self._in_flight and (remaining := deadline - time.monotonic()) > 0:
                self._changed.wait(remaining)
            return dropped

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything queued has been written (or given up); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._pending or self._in_flight or self._settling:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def close(self, timeout_s: float) -> int:
        """Flush within `timeout_s`, then stop; returns how many queued writes were dropped."""
        self.flush(timeout_s)
        with self._changed:
            self._closed = True
            dropped = len(self._pending)
            self._pending.clear()
            self._pending_bytes = 0
            self._changed.notify_all()
            return dropped

    def _drain(self) -> None:
        while True:
            with self._changed:
                while not self._pending and not self._closed:
                    self._changed.wait()
                if not self._pending:
                    self._worker = None
                    return
                # With a batch writer, everything queued so far goes in one transaction:
                # one wait for the lock lands them all.
                count = BATCH_ITEMS if self._write_batch is not None else 1
                batch: dict[str, PendingWrite] = {}
                while self._pending and len(batch) < count:
                    key, pending = self._pending.popitem(last=False)
                    self._pending_bytes -= len(pending.value)
                    batch[key] = pending
                self._in_flight = batch
            try:
                now = time.time()
                items = [
                    (
                        key,
                        pending.value,
                        None if pending.expires_at is None else pending.expires_at - now,
                    )
                    for key, pending in batch.items()
                ]
                items = [item for item in items if item[2] is None or item[2] > 0]
                if self._write_batch is not None:
                    if items:
                        self._write_batch(items)
                else:
                    for key, value, expire_s in items:
                        self._write(key, value, expire_s)
            finally:
                with self._changed:
                    self._in_flight = {}
                    self._settling = not self._pending and self._on_idle is not None
                    self._changed.notify_all()
            if self._settling and self._on_idle is not None:
                try:
                    self._on_idle()
                finally:
                    with self._changed:
                        self._settling = False
                        self._changed.notify_all()
