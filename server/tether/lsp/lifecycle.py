"""How the server ends: `exit` (code 0 after `shutdown`, 1 otherwise), stdin EOF, the
client's process vanishing, or SIGTERM/SIGINT. Whatever the way, runs are paused
(resumable) and their process groups killed before the process goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import TYPE_CHECKING

from tether.lsp.feature import Feature

if TYPE_CHECKING:
    from lsprotocol import types

    from tether.lsp.live_runs import LiveRuns


PARENT_POLL = 1.0


class Lifecycle(Feature):
    def __init__(self, live_runs: LiveRuns) -> None:
        super().__init__()
        self.live_runs = live_runs
        self.ended = asyncio.Event()
        self.exit_code: int | None = None
        self.reason = ""
        self.shutdown_received = False
        self._parent_task: asyncio.Task[None] | None = None

    def initialize(self, params: types.InitializeParams) -> None:
        if params.process_id is not None and params.process_id > 0:
            self._parent_task = asyncio.create_task(
                self._watch_parent(params.process_id), name="parent-watch"
            )

    async def _watch_parent(self, pid: int) -> None:
        from tether.engine.platform import process_alive

        while process_alive(pid):
            await asyncio.sleep(PARENT_POLL)
        self.end(1, f"the client (process {pid}) is gone")

    async def shutdown(self) -> None:
        self.shutdown_received = True

    def end(self, code: int, reason: str) -> None:
        """Ask the main loop to stop; the first reason given wins."""
        if self.ended.is_set():
            return
        self.exit_code = code
        self.reason = reason
        self.ended.set()

    def install_signals(self) -> None:
        if sys.platform == "win32":
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, self.end, 1, f"signal {signal.Signals(sig).name}")

    def install_wake(self) -> None:
        """`tether cancel` from a terminal wakes us to look for its request at once."""
        from tether.engine.platform import install_wake_signal

        def on_wake() -> None:
            for live in list(self.live_runs.runs.values()):
                live.execution.check_cancel_request()

        try:
            install_wake_signal(on_wake)
        except (NotImplementedError, RuntimeError, ValueError) as error:
            self.logger.debug("no wake signal: %s", error)
            return
        self.live_runs.wakeable = True

    async def close(self) -> None:
        if self._parent_task is not None:
            self._parent_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._parent_task
