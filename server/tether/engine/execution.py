"""One invocation of a workflow, wired up: run directory, lock, journal, state, runner.

Front ends (CLI, language server) create an Execution (new or resumed), subscribe their
renderers to its bus, and await it; they never assemble the pieces themselves.

Ownership: an Execution holds its run's lock from creation until run() returns (or
close()), so exactly one process appends to a journal. It notices `tether cancel` through
a request file in the run directory, polled every `cancel_poll_interval` seconds and
checked at once when the host calls check_cancel_request() (on the wake signal).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.engine.errors import WorkflowError
from tether.engine.events import EventBus
from tether.engine.journal import JOURNAL_NAME, Durability, JournalWriter
from tether.engine.kinds import KindRegistry
from tether.engine.loader import resolve_workflow
from tether.engine.orphans import reap_orphans
from tether.engine.platform import RunLock, become_child_subreaper
from tether.engine.runids import new_run_id, run_dir
from tether.engine.runner import Runner, RunOptions, StopReason
from tether.engine.runs import (
    LOCK_NAME,
    ResumeRefused,
    choose_waiting_step,
    clear_cancel_request,
    journal_of,
    replay,
)
from tether.engine.spec import WorkflowSpec
from tether.engine.state import RunState, RunStatus, StepStatus

logger = logging.getLogger(__name__)

CANCEL_POLL_INTERVAL = 1.0
"""Seconds between looks for a cancel request when no wake signal arrives."""


@dataclass
class Execution:
    spec: WorkflowSpec
    bus: EventBus
    state: RunState
    runner: Runner
    journal: JournalWriter
    run_dir: Path
    lock: RunLock
    already_succeeded: bool = False
    """A resumed run that had succeeded: run() returns its state and runs nothing."""
    cancel_poll_interval: float = CANCEL_POLL_INTERVAL
    _closed: bool = field(default=False, repr=False)

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
        durability: Durability = Durability.STEP,
    ) -> Execution:
        """A new run, its directory created and its lock held.

        Raises RunIdError for an invalid run_id (before any path is formed) and
        FileExistsError when a run with that id exists.
        """
        run_id = new_run_id(spec.name) if run_id is None else run_id
        directory = run_dir(workspace, run_id)
        directory.mkdir(parents=True, exist_ok=False)
        lock = RunLock(directory / LOCK_NAME)
        lock.acquire()  # nobody else can know the directory yet; cannot be held
        try:
            state = RunState(run_id)
            options = RunOptions(workspace=workspace, run_dir=directory, budget=budget)
            return cls._assemble(spec, kinds, state, options, params, durability, lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def resume(
        cls,
        workspace: Path,
        run_id: str,
        kinds: KindRegistry,
        *,
        budget: float | None = None,
        results: Mapping[str, Any] | None = None,
        force: bool = False,
        durability: Durability = Durability.STEP,
    ) -> Execution:
        """Continue a run from its journal, holding its lock.

        Finished steps keep their outputs; steps that were in flight run again. Raises
        RunIdError (before any path is formed), RunNotFound, LockHeld (a live owner,
        named), JournalError (a damaged journal), or ResumeRefused: the workflow is gone
        or invalid, a finished step's definition changed (unless `force`, which runs it
        again), or `results` names a step that is not waiting.
        """
        journal = journal_of(workspace, run_id)
        directory = journal.parent
        lock = RunLock(directory / LOCK_NAME)
        lock.acquire()
        try:
            reap_orphans(directory)  # a dead owner's steps may still be running
            clear_cancel_request(directory)  # a request for an earlier invocation
            state = replay(journal, run_id)
            try:
                spec = resolve_workflow(state.workflow, workspace, kinds)
            except WorkflowError as error:
                raise ResumeRefused(f"cannot resume {run_id}: {error}") from error
            succeeded = state.status is RunStatus.SUCCEEDED
            # A succeeded run has nothing to resume, edited workflow or not, unless forced.
            rerun = [] if succeeded and not force else _changed_finished_steps(state, spec, force)
            chosen = {
                choose_waiting_step(state, step): value for step, value in (results or {}).items()
            }
            options = RunOptions(
                workspace=workspace,
                run_dir=directory,
                budget=budget,
                rerun=rerun,
                resume_results=chosen,
            )
            execution = cls._assemble(spec, kinds, state, options, state.params, durability, lock)
        except BaseException:
            lock.release()
            raise
        execution.already_succeeded = succeeded and not rerun
        return execution

    @classmethod
    def _assemble(
        cls,
        spec: WorkflowSpec,
        kinds: KindRegistry,
        state: RunState,
        options: RunOptions,
        params: Mapping[str, Any],
        durability: Durability,
        lock: RunLock,
    ) -> Execution:
        bus = EventBus(state.run_id, next_seq=state.last_seq + 1)
        bus.subscribe(state.apply)
        journal = JournalWriter(options.run_dir / JOURNAL_NAME, durability)
        bus.subscribe(journal)
        runner = Runner(spec, kinds, bus, state, options, params)
        return cls(spec, bus, state, runner, journal, options.run_dir, lock)

    def hand_result(self, result: Any, step: str | None = None) -> str:
        """Give a waiting agent step its result (before run()); returns the step's id.

        Raises ResumeRefused when no step waits, `step` does not wait, or several wait
        and `step` is None.
        """
        chosen = choose_waiting_step(self.state, step)
        self.runner.options.resume_results = {**self.runner.options.resume_results, chosen: result}
        return chosen

    def stop(self, reason: StopReason) -> None:
        self.runner.request_stop(reason)

    def check_cancel_request(self) -> bool:
        """Stop the run as cancelled if `tether cancel` asked for it; True if it did."""
        from tether.engine.runs import cancel_requested

        if self._closed or not cancel_requested(self.run_dir):
            return False
        logger.info("run %s: cancel requested from another process", self.run_id)
        self.stop(StopReason.CANCELLED)
        return True

    def enable_wake(self) -> None:
        """Say (in the lock file) that this process handles the wake signal; call it after
        installing platform.install_wake_signal with a callback that calls
        check_cancel_request() on each live execution."""
        self.lock.advertise_wake()

    async def run(self) -> RunState:
        """Run to the end or a pause; then release the journal and the lock."""
        if self.already_succeeded:
            self.close()
            return self.state
        # Linux: a step's descendant that leaves its session is re-parented to this owner,
        # not to init, so it stays in our tree (its token sweep kills and reaps it).
        become_child_subreaper()
        poller = asyncio.create_task(self._poll_cancel_requests(), name="cancel-poll")
        clock = asyncio.create_task(self._tick_clock(), name="run-clock")
        try:
            state = await self.runner.run()
        finally:
            for task in (poller, clock):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.close()
        if self.journal.failed and state.status is RunStatus.SUCCEEDED:
            # Its journal lacks events: a later show or resume would not see this
            # outcome. Say so rather than report plain success; resume completes it.
            state.status = RunStatus.FAILED
            state.reason = f"the journal is incomplete ({self.journal.failed}); resume the run"
        return state

    async def _tick_clock(self) -> None:
        """Leave a sign of life for the run's timeout accounting should this process die
        (runs.replay); a failure to tick only costs accuracy after a crash."""
        from tether.engine.runs import CLOCK_INTERVAL, tick_clock

        while True:
            try:
                tick_clock(self.run_dir)
            except OSError as error:
                logger.warning("run %s: cannot tick the run clock: %s", self.run_id, error)
                return
            await asyncio.sleep(CLOCK_INTERVAL)

    async def _poll_cancel_requests(self) -> None:
        while not self.check_cancel_request():
            await asyncio.sleep(self.cancel_poll_interval)

    def close(self) -> None:
        """Make the journal durable, and let go of the run. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.journal.close()
            if self.journal.failed:
                logger.error("run %s journal is incomplete: %s", self.run_id, self.journal.failed)
            clear_cancel_request(self.run_dir)
        finally:
            self.lock.release()


def _changed_finished_steps(state: RunState, spec: WorkflowSpec, force: bool) -> list[str]:
    """Succeeded steps whose definition changed since they ran: refused, or re-run if
    `force`. A step that left the workflow file cannot be resumed either way."""
    current = {step.id: step.definition_hash for step in spec.steps}
    removed = [step_id for step_id in state.steps if step_id not in current]
    if removed:
        raise ResumeRefused(
            f"cannot resume {state.run_id}: workflow {spec.name!r} no longer has step(s) "
            + ", ".join(removed)
        )
    changed = [
        record.id
        for record in state.steps.values()
        if record.status is StepStatus.SUCCEEDED
        and record.definition_hash
        and record.definition_hash != current[record.id]
    ]
    if changed and not force:
        raise ResumeRefused(
            f"cannot resume {state.run_id}: workflow {spec.name!r} changed since the run "
            f"started; finished step(s) {', '.join(changed)} changed "
            "(--force runs them again)"
        )
    return _with_finished_dependents(changed, state, spec)


def _with_finished_dependents(changed: list[str], state: RunState, spec: WorkflowSpec) -> list[str]:
    """`changed` plus every succeeded step downstream of one: their outputs were computed
    from outputs that are about to be replaced."""
    rerun = set(changed)
    grew = True
    while grew:
        grew = False
        for step in spec.steps:
            record = state.steps.get(step.id)
            if step.id in rerun or record is None or record.status is not StepStatus.SUCCEEDED:
                continue
            if rerun.intersection(step.needs):
                rerun.add(step.id)
                grew = True
    return [step.id for step in spec.steps if step.id in rerun]
