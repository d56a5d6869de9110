"""Cleanup callbacks: LIFO on every exit path, time-boxed, failures recorded not raised."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from tether.engine.threads import run_in_daemon_thread

logger = logging.getLogger(__name__)

Cleanup = Callable[[], Any]


class CleanupStack:
    def __init__(self) -> None:
        self._callbacks: list[Cleanup] = []

    def push(self, callback: Cleanup) -> None:
        self._callbacks.append(callback)

    def __len__(self) -> int:
        return len(self._callbacks)

    async def run(self, budget: float) -> list[str]:
        """Run every callback, newest first, within `budget` seconds in total.

        Returns one message per callback that failed or did not finish in time. Shielded
        from cancellation of the caller: cleanup that has started is seen through.
        """
        errors: list[str] = []
        task = asyncio.ensure_future(self._run_all(budget, errors))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait({task}, timeout=budget)
            raise
        return errors

    async def _run_all(self, budget: float, errors: list[str]) -> None:
        deadline = time.monotonic() + budget
        while self._callbacks:
            callback = self._callbacks.pop()
            label = getattr(callback, "__qualname__", repr(callback))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                errors.append(f"cleanup {label} skipped: cleanup budget of {budget:g}s used up")
                continue
            try:
                async with asyncio.timeout(remaining):
                    await _call(callback)
            except TimeoutError:
                errors.append(f"cleanup {label} did not finish within the cleanup budget")
            except Exception as error:
                logger.warning("cleanup %s failed: %s", label, error, exc_info=True)
                errors.append(f"cleanup {label} failed: {type(error).__name__}: {error}")


async def _call(callback: Cleanup) -> None:
    if inspect.iscoroutinefunction(callback):
        await callback()
        return
    result = await run_in_daemon_thread(callback, name="tether-cleanup")
    if inspect.isawaitable(result):
        await result
