"""A circuit breaker per remote endpoint: stop calling what keeps failing.

Closed: calls go through; `failure_threshold` consecutive failures open it. Open: calls are
refused at once (a dictionary look-up and a clock read, well under a millisecond) until
`reset_after` seconds pass. Half-open: exactly one probe is let through; its success closes
the breaker, its failure opens it again for another `reset_after`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerOpenError(Exception):
    """A call refused because the breaker is open: reported as blocked, never as success."""

    def __init__(self, name: str, retry_in: float) -> None:
        self.name = name
        self.retry_in = retry_in
        super().__init__(
            f"{name}: circuit open after repeated failures; next probe in {retry_in:.1f}s"
        )


@dataclass
class CircuitBreaker:
    name: str
    """What the breaker protects, as shown in errors (a provider or endpoint name)."""
    failure_threshold: int = 3
    """Consecutive failures that open the breaker."""
    reset_after: float = 30.0
    """Seconds an open breaker refuses calls before it lets one probe through."""
    clock: Callable[[], float] = time.monotonic
    """Monotonic clock; tests pass their own."""
    _failures: int = field(default=0, init=False)
    _opened_at: float | None = field(default=None, init=False)
    _probe_in_flight: bool = field(default=False, init=False)

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self._opened_at >= self.reset_after:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def before_call(self) -> None:
        """Raise BreakerOpenError unless a call may go out now (claims the probe if half-open)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return
        assert self._opened_at is not None
        retry_in = max(0.0, self.reset_after - (self.clock() - self._opened_at))
        raise BreakerOpenError(self.name, retry_in)

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._probe_in_flight or self._failures >= self.failure_threshold:
            self._opened_at = self.clock()
        self._probe_in_flight = False
