"""The deadline hierarchy: run budget ⊇ step timeout ⊇ attempt timeout ⊇ calls inside.

A Deadline is an absolute point on the monotonic clock plus the level that set it. A
child's deadline is the earlier of its own and its parent's, and keeps the parent's level
when the parent's is the one that binds, so that whoever hits a deadline knows whether it
was the attempt (retryable), the step, the run's timeout or the invocation's budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    BUDGET = "budget"
    """The invocation's --budget: hitting it pauses the run (resumable)."""
    RUN = "run"
    """The workflow's timeout, active time summed across resumes."""
    STEP = "step"
    ATTEMPT = "attempt"
    HEARTBEAT = "heartbeat"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Deadline:
    at: float
    """time.monotonic() value; math.inf when nothing binds."""
    level: Level

    @classmethod
    def unbounded(cls) -> Deadline:
        return cls(math.inf, Level.NONE)

    @classmethod
    def after(cls, seconds: float | None, level: Level) -> Deadline:
        if seconds is None:
            return cls.unbounded()
        return cls(time.monotonic() + seconds, level)

    def child(self, seconds: float | None, level: Level) -> Deadline:
        """min(own, what this parent has left); the binding level is remembered."""
        if seconds is None:
            return self
        own = time.monotonic() + seconds
        return Deadline(own, level) if own < self.at else self

    def earlier(self, other: Deadline) -> Deadline:
        return other if other.at < self.at else self

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic()) if self.at != math.inf else math.inf
