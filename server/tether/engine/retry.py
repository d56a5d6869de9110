"""Retry delays: capped exponential backoff with full jitter, never past a deadline.

Shared by the step runner and by every remote call (knowledge-base providers, llm steps),
so that one rule decides how long anything in tether waits before trying again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry. Safe defaults: one attempt, no retry."""

    attempts: int = 1
    """Total attempts, the first included. 1 means no retry."""
    initial: float = 1.0
    """Backoff ceiling for the first retry, in seconds."""
    maximum: float = 30.0
    """Backoff ceiling never grows past this, in seconds."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts}")
        if self.initial < 0 or self.maximum < 0:
            raise ValueError("backoff durations must be >= 0")


def backoff_delay(
    policy: RetryPolicy,
    failed_attempt: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Delay before the attempt after `failed_attempt` (1-based).

    Full jitter: uniform in [0, min(maximum, initial * 2**(failed_attempt-1))]. A server's
    Retry-After is a floor: we never come back sooner than it asked.
    """
    ceiling = min(policy.maximum, policy.initial * (2 ** max(failed_attempt - 1, 0)))
    delay = (rng or random).uniform(0.0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def next_retry_delay(
    policy: RetryPolicy,
    failed_attempt: int,
    remaining: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """The delay before retrying, or None when no retry may start.

    None when the attempt cap is reached, or when the retry would begin at or after the
    deadline (`remaining` seconds away): a retry that cannot finish is not started.
    """
    if failed_attempt >= policy.attempts:
        return None
    delay = backoff_delay(policy, failed_attempt, retry_after, rng)
    if delay >= remaining:
        return None
    return delay
