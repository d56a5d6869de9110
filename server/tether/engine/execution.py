"""One invocation of a workflow, wired up: run directory, journal, state, runner.

Front ends (CLI, language server) create an Execution, subscribe their renderers to its
bus, and await it; they never assemble the pieces themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.engine.events import EventBus
from tether.engine.journal import JOURNAL_NAME, JournalWriter
from tether.engine.kinds import KindRegistry
from tether.engine.runids import new_run_id, run_dir
from tether.engine.runner import Runner, RunOptions, StopReason
from tether.engine.spec import WorkflowSpec
from tether.engine.state import RunState


@dataclass
class Execution:
    spec: WorkflowSpec
    bus: EventBus
    state: RunState
    runner: Runner
    journal: JournalWriter
    run_dir: Path

    @property
    def run_id(self) -> str:
        return self.state.run_id

    @classmethod
    def new(
        cls,
        spec: WorkflowSpec,
        params: Mapping[str, Any],
        workspace: Path,
        kinds: KindRegistry,
        *,
        budget: float | None = None,
        run_id: str | None = None,
    ) -> Execution:
        run_id = run_id or new_run_id(spec.name)
        directory = run_dir(workspace, run_id)
        directory.mkdir(parents=True, exist_ok=False)
        bus = EventBus(run_id)
        state = RunState(run_id)
        bus.subscribe(state.apply)
        journal = JournalWriter(directory / JOURNAL_NAME)
        bus.subscribe(journal)
        options = RunOptions(workspace=workspace, run_dir=directory, budget=budget)
        runner = Runner(spec, kinds, bus, state, options, params)
        return cls(spec, bus, state, runner, journal, directory)

    def stop(self, reason: StopReason) -> None:
        self.runner.request_stop(reason)

    async def run(self) -> RunState:
        try:
            return await self.runner.run()
        finally:
            self.journal.close()
