"""Run blocking callables off the event loop in daemon threads.

Not asyncio.to_thread: its executor threads are joined at interpreter exit and by
asyncio.run's shutdown, so one sync step blocked forever would hang the whole process at
exit. A step that ignores its deadline must be abandonable; a daemon thread is.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def run_in_daemon_thread(function: Callable[..., T], *args: Any, name: str = "tether") -> T:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def deliver(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def target() -> None:
        try:
            result = context.run(function, *args)
        except BaseException as error:  # noqa: BLE001 - handed to the awaiting coroutine
            caught = error
            _hand_over(loop, deliver, lambda: future.set_exception(caught))
        else:
            _hand_over(loop, deliver, lambda: future.set_result(result))

    threading.Thread(target=target, name=name, daemon=True).start()
    return await future


def _hand_over(loop: asyncio.AbstractEventLoop, deliver: Any, outcome: Callable[[], None]) -> None:
    try:
        loop.call_soon_threadsafe(deliver, outcome)
    except RuntimeError:
        pass  # the loop is closed: an abandoned thread finished after everyone left
