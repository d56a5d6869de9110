"""A run's events as MCP progress notifications for one tool call.

Each step transition (started, retrying, waiting, finished) and the run's own start and
end become one `notifications/progress` whose message names the workflow, the step and
its state. While steps run and nothing changes, a note goes out at least every
`interval` seconds, so that a client showing progress sees the run is alive. The SDK sends
nothing when the client gave no progress token.

Events arrive synchronously from the run operations' follower (on the event loop); one
sender task forwards them in order, so a slow client never slows the follower.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Protocol

from tether.engine.events import Event, EventType

logger = logging.getLogger(__name__)


class ProgressSink(Protocol):
    async def report_progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None: ...


def describe(workflow: str, event: Event) -> str | None:
    """The progress message for a transition; None for events that are not one."""
    data = event.data
    match event.type:
        case EventType.RUN_STARTED:
            return f"{workflow}: run started"
        case EventType.RUN_RESUMED:
            return f"{workflow}: run resumed"
        case EventType.RUN_PAUSED:
            return f"{workflow}: run paused"
        case EventType.RUN_FINISHED:
            return f"{workflow}: run {data.get('status', 'finished')}"
        case EventType.STEP_STARTED:
            attempt = data.get("attempt", 1)
            again = f" (attempt {attempt})" if isinstance(attempt, int) and attempt > 1 else ""
            return f"{workflow}: {event.step} running{again}"
        case EventType.STEP_RETRY:
            return f"{workflow}: {event.step} retrying after attempt {data.get('attempt', '?')}"
        case EventType.STEP_WAITING:
            return f"{workflow}: {event.step} waiting for a result"
        case EventType.STEP_FINISHED:
            return f"{workflow}: {event.step} {data.get('status', 'finished')}"
        case _:
            return None


class RunProgress:
    """`async with RunProgress(sink, workflow, interval) as progress:` then hand
    `progress.on_event` to the follower; leaving the block sends what is queued first."""

    def __init__(self, sink: ProgressSink, workflow: str, interval: float) -> None:
        self.sink = sink
        self.workflow = workflow
        self.interval = interval
        self.sent = 0
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._running: dict[str, None] = {}  # step ids in start order
        self._task: asyncio.Task[None] | None = None

    def on_event(self, event: Event) -> None:
        if event.type is EventType.STEP_STARTED and event.step is not None:
            self._running[event.step] = None
        elif event.type in (EventType.STEP_FINISHED, EventType.STEP_WAITING):
            self._running.pop(str(event.step), None)
        elif event.type in (EventType.RUN_PAUSED, EventType.RUN_FINISHED):
            self._running.clear()
        message = describe(self.workflow, event)
        if message is not None:
            self._queue.put_nowait(message)

    async def __aenter__(self) -> RunProgress:
        self._task = asyncio.create_task(self._send_all())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._task is not None
        if kind is None:
            self._queue.put_nowait(None)  # after everything queued: then stop
            await self._task
        else:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _send_all(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.interval):
                    message = await self._queue.get()
            except TimeoutError:
                if not self._running:
                    continue
                message = f"{self.workflow}: still running {', '.join(self._running)}"
            if message is None:
                return
            await self._send(message)

    async def _send(self, message: str) -> None:
        self.sent += 1  # the progress value only grows, as the protocol asks
        try:
            await self.sink.report_progress(self.sent, None, message)
        except Exception as error:  # noqa: BLE001 - a gone client must not stop the follower
            logger.info("progress not delivered (%s): %s", type(error).__name__, error)
