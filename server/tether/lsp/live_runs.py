"""The runs this server is executing: start them, stop them, wait for them.

Each run is its own task, separate from any request that asked for it, so a request can
be cancelled (and cancel the run) without the run's cleanup being cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tether.lsp.feature import Feature

if TYPE_CHECKING:
    from tether.engine.execution import Execution
    from tether.engine.journal import Durability
    from tether.engine.runner import StopReason
    from tether.engine.spec import WorkflowSpec
    from tether.engine.state import RunState
    from tether.lsp.settings import Settings
    from tether.lsp.workspace_root import WorkspaceRoot

# `shutdown` must be answered within a second; what is still stopping then goes on in the
# background until `exit`, which waits longer (a process group's SIGTERM grace is 2 s).
# The answer waits only so long for runs to pause: pygls cancels every request still
# pending when the shutdown handler returns, so a run request gets its `paused` answer only
# if its run paused within this wait. A step that honours SIGTERM is gone in milliseconds
# (0.1 s was too short on a loaded machine); one that ignores it cannot stop before its
# kill grace anyway, and 0.6 s left too little of the second for the round trip (1.03 s).
SHUTDOWN_WAIT = 0.4
EXIT_WAIT = 5.0


@dataclass
class LiveRun:
    execution: Execution
    task: asyncio.Task[RunState]
    budget: float | None
    started: float = field(default_factory=time.monotonic)

    @property
    def run_id(self) -> str:
        return self.execution.run_id

    @property
    def state(self) -> RunState:
        return self.execution.state


class LiveRuns(Feature):
    def __init__(self, workspace_root: WorkspaceRoot, settings: Settings) -> None:
        super().__init__()
        self.workspace_root = workspace_root
        self.settings = settings
        self.runs: dict[str, LiveRun] = {}
        self._listeners: list[Callable[[LiveRun], None]] = []
        self.wakeable = False
        self._background: set[asyncio.Task[None]] = set()
        """This process handles the wake signal (lifecycle installed it)."""

    def on_start(self, listener: Callable[[LiveRun], None]) -> None:
        """`listener` sees each run before its first event (progress subscribes here)."""
        self._listeners.append(listener)

    def start(
        self,
        spec: WorkflowSpec,
        params: Mapping[str, Any],
        *,
        budget: float | None,
        wait_budget: float | None = None,
    ) -> LiveRun:
        """A new run in this server. `budget` pauses the run when spent; `wait_budget`
        only bounds how long a request waits on it (it names the continuation's budget)."""
        from tether.engine.execution import Execution

        execution = Execution.new(
            spec,
            params,
            self.workspace_root.path,
            self.settings.kinds,
            budget=budget,
            durability=self.durability(),
        )
        self._prune_in_background()
        return self.adopt(execution, budget if budget is not None else wait_budget)

    def durability(self) -> Durability:
        from tether.engine.journal import Durability

        return Durability(self.settings.config.runs.durability)

    async def initialized(self) -> None:
        """Reap process groups and worktree snapshots left by owners that died."""
        from tether.engine.runs import reap_abandoned_runs

        async def reap() -> None:
            from tether.steps.worktree import prune_stale_worktrees

            try:
                reaped = await asyncio.to_thread(reap_abandoned_runs, self.workspace_root.path)
                await prune_stale_worktrees(self.workspace_root.path)
            except OSError as error:
                self.logger.warning("reaping abandoned runs failed: %s", error)
                return
            for run_id, groups in reaped.items():
                self.logger.warning(
                    "killed %d process group(s) left by run %s", len(groups), run_id
                )

        task = asyncio.create_task(reap(), name="reap-abandoned-runs")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _prune_in_background(self) -> None:
        """Keep `runs.keep` runs on disk; live runs are never pruned (their lock is held)."""
        from tether.engine.runs import prune_runs

        async def prune() -> None:
            keep = self.settings.config.runs.keep
            try:
                await asyncio.to_thread(prune_runs, self.workspace_root.path, keep)
            except OSError as error:
                self.logger.warning("pruning old runs failed: %s", error)

        task = asyncio.create_task(prune(), name="prune-runs")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def adopt(self, execution: Execution, budget: float | None) -> LiveRun:
        """Run an execution built elsewhere (a resume) under this server's supervision."""
        if self.wakeable and sys.platform != "win32":
            execution.enable_wake()
        task = asyncio.create_task(execution.run(), name=f"run:{execution.run_id}")
        live = LiveRun(execution, task, budget)
        self.runs[live.run_id] = live
        for listener in list(self._listeners):
            listener(live)
        task.add_done_callback(lambda done: self._finished(live, done))
        return live

    def _finished(self, live: LiveRun, task: asyncio.Task[RunState]) -> None:
        self.runs.pop(live.run_id, None)
        if not task.cancelled() and task.exception() is not None:
            self.logger.error(
                "run %s ended with an internal error: %s", live.run_id, task.exception()
            )

    def get(self, run_id: str) -> LiveRun | None:
        return self.runs.get(run_id)

    def stop(self, run_id: str, reason: StopReason) -> bool:
        live = self.runs.get(run_id)
        if live is None:
            return False
        live.execution.stop(reason)
        return True

    async def wait(self, live: LiveRun, timeout: float) -> bool:
        """True when the run ended within `timeout` seconds; never cancels it."""
        done, _ = await asyncio.wait({live.task}, timeout=timeout)
        return bool(done)

    def resume_command(self, state: RunState, budget: float | None) -> str | None:
        from tether.engine.runids import resume_command

        if not state.resumable:
            return None
        return resume_command(
            state.run_id, budget=budget, workspace=self.workspace_root.outside_cwd()
        )

    def run_json(self, live: LiveRun) -> dict[str, Any]:
        return live.state.to_json(self.resume_command(live.state, live.budget))

    def still_running_json(self, live: LiveRun) -> dict[str, Any]:
        """A run still going when its request's wait ended: the continuation attaches."""
        from tether.engine.runids import resume_command

        record = live.state.to_json(
            resume_command(
                live.run_id, budget=live.budget, workspace=self.workspace_root.outside_cwd()
            )
        )
        record["live"] = True
        return record

    async def stop_all(self, timeout: float) -> None:
        """Pause every run (resumable: they end `paused`) and wait up to `timeout`."""
        from tether.engine.runner import StopReason

        lives = list(self.runs.values())
        for live in lives:
            live.execution.stop(StopReason.INTERRUPTED)
        if lives:
            await asyncio.wait({live.task for live in lives}, timeout=timeout)

    async def shutdown(self) -> None:
        await self.stop_all(SHUTDOWN_WAIT)

    async def close(self) -> None:
        await self.stop_all(EXIT_WAIT)
        for live in list(self.runs.values()):
            live.task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait({live.task}, timeout=1.0)

    @property
    def abandoned(self) -> bool:
        """True when a step ignored cancellation and may still be running in-process."""
        return any(live.execution.runner.abandoned for live in self.runs.values())
