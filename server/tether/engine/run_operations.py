"""Run operations: every use case on runs, implemented once for every front end.

The CLI, the language server and the MCP server only read arguments and present what
these return; none re-implements a use case. A budget bounds a *wait*, never the work:
the run goes on in its owner (a detached owner process, or the language server) while
callers come and go.

    start_detached(workspace, workflow, params) -> str            (async; the run id)
        A new run in a detached owner (engine/owner.py); returns once the owner holds it.
    wait_run(workspace, run_id, *, budget, after_seq, on_event) -> Outcome     (async)
        Follow the journal from `after_seq` (None: where the last waiter left off),
        calling on_event for each new event, until the run ends, a step waits for a
        result, the owner is gone, or `budget` seconds pass (then the run is still running).
    resume_run(workspace, run_id, *, budget, result, step, force, on_event, start) (async)
        THE continuation: hand a result to a waiting step (live or stopped run), attach to
        a live run, or resume a stopped one in a new owner (`start`: detached by default;
        the language server runs it in-process); then wait_run.
    hand_result(workspace, run_id, result, step) -> str            the step id it is for
    cancel_run(workspace, run_id) -> CancelResult                  (async)
    show_run(workspace, run_id) -> RunView                          (async)
    list_runs(workspace) -> list[RunSummary]                        (async)
    continuation(run_id, ...) -> str                                the one command text
    open_execution(workspace, request) -> Execution                 the owner's side

Outcome.kind: FINISHED (succeeded/failed/timed_out/cancelled), RUNNING (budget spent; the
run goes on), WAITING (a step waits for a result), STOPPED (nobody runs it: paused, or
its owner died). Outcome.exit_code is the CLI contract: 0, 1, 4, or 3.

Liveness is the run lock (held by the owner), never a pid. Errors: RunIdError,
RunNotFound, JournalError, ResumeRefused, OwnerStartError (engine exceptions; front
ends turn them into one line).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from tether.engine.events import Event, EventType
from tether.engine.journal import JOURNAL_NAME, Durability, JournalCursor, JournalError
from tether.engine.owner import OwnerRequest, OwnerStartError, start_owner
from tether.engine.platform import LockOwner, lock_owner
from tether.engine.runfiles import read_run_file, write_run_file
from tether.engine.runids import new_run_id, resume_command, run_dir
from tether.engine.runs import (
    GONE_REASON,
    LOCK_NAME,
    CancelResult,
    ResumeRefused,
    RunNotFound,
    RunSummary,
    cancel_requested,
    choose_waiting_step,
    load_run,
    request_cancel,
)
from tether.engine.runs import list_runs as _list_runs
from tether.engine.state import RunState, RunStatus

if TYPE_CHECKING:
    from tether.engine.execution import Execution
    from tether.engine.kinds import KindRegistry
    from tether.engine.spec import WorkflowSpec

logger = logging.getLogger(__name__)

__all__ = [
    "JournalError",
    "Outcome",
    "OutcomeKind",
    "OwnerRequest",
    "OwnerStartError",
    "ResumeRefused",
    "RunNotFound",
    "RunView",
    "begin_detached",
    "cancel_run",
    "continuation",
    "hand_result",
    "interrupt_run",
    "list_runs",
    "open_execution",
    "resume_run",
    "show_run",
    "start_detached",
    "wait_run",
]

POLL_INTERVAL = 0.02
"""Seconds between looks at a followed journal: an event reaches a waiter within this."""
LOCK_CHECK_INTERVAL = 0.25
"""Seconds between looks at the run lock while nothing is written (owner death)."""
HANDED_DIR = "handed-results"
HANDED_LIMIT = 64 * 1024 * 1024
"""Bytes of a handed result read back (state files are size-bounded)."""
SEEN_MARK = "seen"
"""The last event seq a waiter showed before its budget ran out: the next one goes on
from there ("output from where the caller left off")."""
_EXIT = {
    RunStatus.SUCCEEDED: 0,
    RunStatus.FAILED: 1,
    RunStatus.TIMED_OUT: 1,
    RunStatus.CANCELLED: 4,
}

continuation = resume_command
"""The one continuation text (engine/runids.py): `tether resume RUN_ID --budget 50s`."""


class OutcomeKind(StrEnum):
    FINISHED = "finished"
    """The run ended: succeeded, failed, timed out or cancelled."""
    RUNNING = "running"
    """The budget ran out first; the run goes on in its owner."""
    WAITING = "waiting"
    """A step waits for a result (the instruction is in the state's waiting steps)."""
    STOPPED = "stopped"
    """Nobody runs it: it paused, or its owner died. Resuming continues it."""


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    state: RunState
    """The run as the journal says (status `running` for a live run)."""
    live: bool
    """Some process still owns the run."""
    continuation: str | None
    """The command that continues (waits on, resumes, hands a result to) the run."""

    @property
    def run_id(self) -> str:
        return self.state.run_id

    @property
    def exit_code(self) -> int:
        """0 succeeded, 1 failed or timed out, 4 cancelled, 3 anything to continue."""
        if self.kind is OutcomeKind.FINISHED:
            return _EXIT.get(self.state.status, 1)
        return 3

    def to_json(self) -> dict[str, Any]:
        record = self.state.to_json(self.continuation)
        record["live"] = self.live
        return record


@dataclass(frozen=True)
class RunView:
    """What `show` presents: the state, its live owner if any, and the continuation."""

    state: RunState
    owner: LockOwner | None
    continuation: str | None


OnEvent = Callable[[Event], None]
StartOwner = Callable[[OwnerRequest], Awaitable[None]]


# -- starting -------------------------------------------------------------------------


async def start_detached(
    workspace: Path,
    workflow: str,
    params: Mapping[str, str],
    *,
    name: str | None = None,
    budget: float | None = None,
) -> str:
    """Start a new run of `workflow` in a detached owner; its id once the owner holds it.

    `name` (the workflow's name, when the caller has loaded it) makes the run id; the
    owner loads the workflow itself. `budget` pauses the run itself after that long (the
    old `--on-budget pause`); None runs it to its end. Raises OwnerStartError.
    """
    return await asyncio.to_thread(
        begin_detached, workspace, workflow, params, name=name, budget=budget
    )


def begin_detached(
    workspace: Path,
    workflow: str,
    params: Mapping[str, str],
    *,
    name: str | None = None,
    budget: float | None = None,
    prepared: tuple[WorkflowSpec, Mapping[str, Any], KindRegistry, Durability] | None = None,
) -> str:
    """start_detached for a caller without an event loop (blocks until the owner holds
    the run). From a single-threaded process the owner is forked, which costs a few
    milliseconds instead of an interpreter start, and `prepared` (the loaded workflow,
    its parameter values, the step kinds and the durability) spares it loading them
    again."""
    run_id = new_run_id(name or Path(workflow).stem)
    request = OwnerRequest(
        str(workspace), run_id, workflow=workflow, params=dict(params), budget=budget
    )
    opener = None
    if prepared is not None:
        spec, values, kinds, durability = prepared

        def opener() -> Execution:
            from tether.engine.execution import Execution

            return Execution.new(
                spec,
                values,
                workspace,
                kinds,
                budget=budget,
                run_id=run_id,
                durability=durability,
            )

    start_owner(request, opener)
    return run_id


def interrupt_run(workspace: Path, run_id: str) -> bool:
    """Ask a live run's owner to stop the run as Ctrl-C would (it pauses, resumable).
    False when no live owner could be signalled."""
    import signal

    owner = lock_owner(run_dir(workspace, run_id) / LOCK_NAME)
    if owner is None or owner.pid is None or owner.pid == os.getpid():
        return False
    try:
        os.kill(owner.pid, signal.SIGINT)
    except OSError:
        return False
    return True


async def _start_detached_owner(request: OwnerRequest) -> None:
    await asyncio.to_thread(start_owner, request)


def open_execution(
    workspace: Path,
    request: OwnerRequest,
    *,
    kinds: KindRegistry | None = None,
    durability: Durability | None = None,
) -> Execution:
    """Take the run `request` names (its lock held on return) and ready it to run here.

    Used by the detached owner and by front ends that own runs in-process. A resume
    picks up any results handed in for waiting steps. Raises LockHeld, WorkflowError,
    RunNotFound, JournalError, ResumeRefused, RunIdError.
    """
    from tether.engine.execution import Execution
    from tether.engine.loader import apply_params, resolve_workflow

    if kinds is None or durability is None:
        from tether.config import load_config
        from tether.steps.registry import builtin_kinds

        config, _problems = load_config(workspace)  # the front end reported problems
        kinds = builtin_kinds(config) if kinds is None else kinds
        durability = Durability(config.runs.durability) if durability is None else durability
    if request.workflow is not None:
        spec = resolve_workflow(request.workflow, workspace, kinds)
        values = apply_params(spec, dict(request.params))
        return Execution.new(
            spec,
            values,
            workspace,
            kinds,
            budget=request.budget,
            run_id=request.run_id,
            durability=durability,
        )
    execution = Execution.resume(
        workspace,
        request.run_id,
        kinds,
        budget=request.budget,
        force=request.force,
        durability=durability,
    )
    try:
        for step, result in _take_handed_results(execution.run_dir, execution.state).items():
            execution.hand_result(result, step)
    except BaseException:
        execution.close()
        raise
    return execution


async def run_as_owner(execution: Execution, workspace: Path) -> int:
    """The owner's life: run, and when the run stops waiting while a result has been
    handed in meanwhile, go on with it at once. Returns the process exit status."""
    from tether.engine.platform import LockHeld, install_stop_signals, install_wake_signal
    from tether.engine.runner import StopReason

    current = execution

    def on_signal(_signal: int) -> None:
        current.stop(StopReason.INTERRUPTED)

    def on_wake() -> None:
        current.check_cancel_request()

    restore = install_stop_signals(on_signal)
    restore_wake = install_wake_signal(on_wake)
    try:
        while True:
            current.enable_wake()
            await _prune_stale_worktrees(workspace, current.run_id)
            state = await current.run()
            if state.status is not RunStatus.WAITING or not handed_results_pending(current.run_dir):
                break
            try:
                current = await asyncio.to_thread(
                    open_execution, workspace, OwnerRequest(str(workspace), current.run_id)
                )
            except LockHeld:
                break  # a resumer took it over between our release and our retake
            except (ResumeRefused, JournalError, OSError) as error:
                logger.error("run %s: cannot go on with the handed result: %s", state.run_id, error)
                break
    finally:
        restore_wake()
        restore()
    return 0


async def _prune_stale_worktrees(workspace: Path, run_id: str) -> None:
    from tether.steps.worktree import prune_stale_worktrees

    await prune_stale_worktrees(workspace, current_run=run_id)


# -- handing results ------------------------------------------------------------------


def hand_result(workspace: Path, run_id: str, result: Any, step: str | None = None) -> str:
    """Hand a waiting step its result, whether the run is live or stopped: the result
    waits in the run directory for whoever runs the run next (the live owner when the run
    reaches its waiting end, or the next resume). Returns the step's id. Raises
    RunNotFound, JournalError, ResumeRefused (no such waiting step)."""
    return _hand_result(workspace, run_id, result, step)[0]


def _hand_result(workspace: Path, run_id: str, result: Any, step: str | None) -> tuple[str, int]:
    """hand_result, also returning the journal's last seq when the step was chosen: its
    wait, journaled at or before that seq, is the one this result answers."""
    state, _owner = load_run(workspace, run_id)
    chosen = choose_waiting_step(state, step)
    folder = run_dir(workspace, run_id) / HANDED_DIR
    folder.mkdir(exist_ok=True)
    target = folder / _handed_name(chosen)
    temporary = target.with_suffix(".tmp")
    write_run_file(temporary, orjson.dumps({"step": chosen, "result": result}))
    temporary.replace(target)  # an owner never reads half a result
    return chosen, state.last_seq


def handed_results_pending(directory: Path) -> bool:
    folder = directory / HANDED_DIR
    return folder.is_dir() and any(entry.suffix == ".json" for entry in folder.iterdir())


def _handed_name(step: str) -> str:
    # Step ids come from workflow files: never a path component.
    return hashlib.sha256(step.encode()).hexdigest()[:32] + ".json"


def _take_handed_results(directory: Path, state: RunState) -> dict[str, Any]:
    """The handed results for steps that wait, removed from disk as they are taken."""
    folder = directory / HANDED_DIR
    if not folder.is_dir():
        return {}
    waiting = {record.id for record in state.waiting_steps}
    taken: dict[str, Any] = {}
    for entry in sorted(folder.iterdir()):
        if entry.suffix != ".json":
            continue
        try:
            record = orjson.loads(read_run_file(entry, limit=HANDED_LIMIT))
            step = record["step"]
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as error:
            logger.warning("ignoring a damaged handed result %s: %s", entry, error)
            entry.unlink(missing_ok=True)
            continue
        if step in waiting:
            taken[step] = record.get("result")
        else:
            logger.warning("run %s: step %r no longer waits; result dropped", state.run_id, step)
        entry.unlink(missing_ok=True)
    return taken


# -- waiting --------------------------------------------------------------------------


class _Follower:
    """Folds followed events into a RunState and says when the wait is over."""

    def __init__(self, journal: Path, run_id: str) -> None:
        self.cursor = JournalCursor(journal)
        self.state = RunState(run_id)
        self.ended: EventType | None = None
        """The last run-level end seen (run_paused/run_finished), until a resume."""
        self.waiting: dict[str, int] = {}
        """Steps that wait in the current invocation, and the seq that said so."""
        self.invocation_ts = 0.0
        """When the current invocation started (wall clock)."""

    def apply(self, event: Event) -> None:
        try:
            self.state.apply(event)
        except (KeyError, ValueError, TypeError, AttributeError, AssertionError) as error:
            # Valid JSON of the wrong shape: damaged, as replay says too.
            where = f"{self.cursor.path}:{self.cursor.line_number}"
            raise JournalError(f"{where}: damaged journal line near here ({error})") from error
        match event.type:
            case EventType.RUN_STARTED | EventType.RUN_RESUMED:
                self.ended = None
                self.waiting.clear()
                self.invocation_ts = event.ts
            case EventType.RUN_PAUSED | EventType.RUN_FINISHED:
                self.ended = event.type
            case EventType.STEP_WAITING:
                self.waiting[str(event.step)] = event.seq
            case EventType.STEP_STARTED | EventType.STEP_FINISHED:
                self.waiting.pop(str(event.step), None)


async def wait_run(
    workspace: Path,
    run_id: str,
    *,
    budget: float | None = None,
    after_seq: int | None = 0,
    on_event: OnEvent | None = None,
    continuation_budget: float | None = None,
    command_workspace: Path | None = None,
    poll_interval: float = POLL_INTERVAL,
    answered: tuple[str, int] | None = None,
) -> Outcome:
    """Follow a run until it ends, a step waits, its owner is gone, or `budget` passes.

    Never starts, stops or changes the run: a waiter that is killed loses nothing, and
    any number may wait at once. Events with seq > `after_seq` go to `on_event` (None:
    from where the last waiter whose budget ran out left off). The continuation names
    `continuation_budget` (default the budget, else 50 s) and `-C command_workspace`.
    `answered` (step, seq): a result for `step` was handed when the journal ended at `seq`,
    so its wait journaled up to there does not end this one while the run is live (the
    owner may have taken the result before its next line: the handed file is gone, the
    journal not yet past the wait).
    Raises RunIdError, RunNotFound, JournalError.
    """
    directory = run_dir(workspace, run_id)
    if not directory.is_dir():
        raise RunNotFound(f"no run {run_id!r} in {workspace}")
    if after_seq is None:
        after_seq = _read_seen(directory)
    follower = _Follower(directory / JOURNAL_NAME, run_id)
    deadline = math.inf if budget is None else time.monotonic() + budget
    next_lock_check = 0.0

    def read() -> list[Event]:
        events = follower.cursor.read_new()
        for event in events:
            follower.apply(event)
        return events

    def done(kind: OutcomeKind, *, live: bool) -> Outcome:
        state = follower.state
        if state.last_seq == 0 and kind is not OutcomeKind.RUNNING:
            # Nobody owns it and it never started: nothing to show or resume.
            raise JournalError(f"{directory / JOURNAL_NAME}: empty journal")
        if kind is OutcomeKind.STOPPED and state.status is RunStatus.RUNNING:
            state.status, state.reason = RunStatus.PAUSED, GONE_REASON
        if kind is OutcomeKind.WAITING and state.status is RunStatus.RUNNING:
            # The owner journals a step's wait before the run-level pause that says so
            # (or goes on with other steps meanwhile): what this waiter reports is that
            # the run waits for a result, whichever line it read last.
            waiting = ", ".join(record.id for record in state.waiting_steps)
            state.status, state.reason = RunStatus.WAITING, f"waiting for: {waiting}"
        resumable = kind is not OutcomeKind.FINISHED or state.resumable
        command = (
            continuation(
                run_id,
                budget=budget if continuation_budget is None else continuation_budget,
                workspace=command_workspace,
            )
            if resumable
            else None
        )
        if kind is OutcomeKind.RUNNING and follower.invocation_ts:
            # Active so far: the invocations before this one, and this one until now.
            state.active_ms += max(0, round((time.time() - follower.invocation_ts) * 1000))
            _write_seen(directory, state.last_seq)
        return Outcome(kind, state, live, command)

    while True:
        events = await asyncio.to_thread(read)
        if on_event is not None:
            for event in events:
                if event.seq > after_seq:
                    on_event(event)
        if follower.ended is EventType.RUN_FINISHED:
            stale = follower.state.last_seq <= after_seq
            # An end already seen (a resume started at it): if an owner holds the run, it
            # is resuming it and has not written its first line yet, so wait for that.
            if not stale or await asyncio.to_thread(lock_owner, directory / LOCK_NAME) is None:
                return done(OutcomeKind.FINISHED, live=False)
        unanswered = [
            step
            for step, seq in follower.waiting.items()
            if answered is None or step != answered[0] or seq > answered[1]
        ]
        if unanswered and not follower.ended and not handed_results_pending(directory):
            return done(OutcomeKind.WAITING, live=True)
        now = time.monotonic()
        if not events and (follower.ended is not None or now >= next_lock_check):
            owner = await asyncio.to_thread(lock_owner, directory / LOCK_NAME)
            next_lock_check = now + LOCK_CHECK_INTERVAL
            if owner is None:
                # The owner may have written its last lines just before letting go.
                late = await asyncio.to_thread(read)
                if on_event is not None:
                    for event in late:
                        if event.seq > after_seq:
                            on_event(event)
                if late:
                    continue
                if follower.state.status is RunStatus.WAITING:
                    return done(OutcomeKind.WAITING, live=False)
                return done(OutcomeKind.STOPPED, live=False)
        if now >= deadline:
            return done(OutcomeKind.RUNNING, live=True)
        await asyncio.sleep(min(poll_interval, max(0.0, deadline - now)))


def _read_seen(directory: Path) -> int:
    try:
        return int(read_run_file(directory / SEEN_MARK, limit=64).strip() or 0)
    except (OSError, ValueError):
        return 0


def _write_seen(directory: Path, seq: int) -> None:
    target = directory / SEEN_MARK
    temporary = directory / f"{SEEN_MARK}.{os.getpid()}.tmp"
    try:
        write_run_file(temporary, str(max(seq, _read_seen(directory))).encode())
        temporary.replace(target)
    except OSError as error:
        logger.warning("cannot record where waiting on %s stopped: %s", directory.name, error)


# -- resuming (the continuation) --------------------------------------------------------


_NO_RESULT: Any = object()


async def resume_run(
    workspace: Path,
    run_id: str,
    *,
    budget: float | None = None,
    result: Any = _NO_RESULT,
    step: str | None = None,
    force: bool = False,
    on_event: OnEvent | None = None,
    start: StartOwner | None = None,
    continuation_budget: float | None = None,
    command_workspace: Path | None = None,
    on_started: Callable[[OwnerRequest], None] | None = None,
) -> Outcome:
    """`tether resume RUN_ID --budget B [--result-file F]`: continue the run, however it is.

    A result (any value but the default) goes to the waiting step first, live run or
    stopped. A live run is attached to (from where the last waiter left off); a stopped,
    resumable run is resumed by `start` (default: a detached owner) and followed from its
    resume, as is a run whose owner dies while we wait; a succeeded run is reported as it
    is. `on_started` hears of a resume this call
    started (so a terminal's Ctrl-C can stop the run it started). Raises RunIdError,
    RunNotFound, JournalError, ResumeRefused, OwnerStartError.
    """
    deadline = math.inf if budget is None else time.monotonic() + budget
    answered: tuple[str, int] | None = None
    if result is not _NO_RESULT:
        answered = await asyncio.to_thread(_hand_result, workspace, run_id, result, step)
    elif step is not None:
        raise ResumeRefused("a step is named only with a result for it")
    starter = start or _start_detached_owner
    outcome: Outcome | None = None
    for _attempt in range(3):  # each pass attaches, or takes the run, or meets a taker
        after_seq: int | None = None  # a live run: where the last waiter left off
        # A live run is attached to without reading its journal first: its owner may not
        # have written the first line yet.
        owner = await asyncio.to_thread(lock_owner, run_dir(workspace, run_id) / LOCK_NAME)
        # Its owner is stopping it on a cancel request (its cleanup still runs): resuming
        # it means once it has stopped, not reporting the cancel this resume came after.
        stopping = owner is not None and cancel_requested(run_dir(workspace, run_id))
        if owner is None:
            state, owner = await asyncio.to_thread(load_run, workspace, run_id)
        if owner is None:
            pending = handed_results_pending(run_dir(workspace, run_id))
            if state.status is RunStatus.SUCCEEDED and not force:
                pass  # nothing to run: report it, with what the last waiter did not see
            elif not state.resumable and not pending:
                raise ResumeRefused(f"run {run_id} cannot be resumed: {state.status}")
            else:
                request = OwnerRequest(str(workspace), run_id, force=force)
                try:
                    await starter(request)
                except OwnerStartError as error:
                    if not error.held:
                        raise
                    # Someone else resumed it in the meantime: wait on theirs.
                else:
                    if on_started is not None:
                        on_started(request)
                    after_seq = state.last_seq  # what happens from this resume on
        left = None if deadline == math.inf else max(0.0, deadline - time.monotonic())
        outcome = await wait_run(
            workspace,
            run_id,
            budget=left,
            after_seq=after_seq,
            on_event=on_event,
            continuation_budget=budget if continuation_budget is None else continuation_budget,
            command_workspace=command_workspace,
            answered=answered,
        )
        # The owner died under us (its end never journaled): continuing the run is what
        # was asked, so take it over. A run that paused (an interrupt, a budget pause) is
        # reported as it is: someone stopped it on purpose.
        owner_died = outcome.kind is OutcomeKind.STOPPED and outcome.state.reason == GONE_REASON
        # A result handed in just as the owner let go is nobody's yet: take the run too.
        pending = not outcome.live and handed_results_pending(run_dir(workspace, run_id))
        cancelled_before = (
            stopping and not outcome.live and outcome.state.status is RunStatus.CANCELLED
        )
        if not (owner_died or pending or cancelled_before):
            return outcome
        if cancelled_before:
            # Its end is journaled a moment before its owner lets go of the lock.
            await _until_released(run_dir(workspace, run_id) / LOCK_NAME, RELEASE_WAIT_S)
        force = False
    assert outcome is not None
    return outcome


RELEASE_WAIT_S = 10.0
"""How long a resume waits for a stopping owner to let go of a run once its end is written."""


async def _until_released(lock: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while await asyncio.to_thread(lock_owner, lock) is not None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)  # polled: the lock's release wakes nobody


# -- cancel, show, list ---------------------------------------------------------------


async def cancel_run(workspace: Path, run_id: str) -> CancelResult:
    """Stop a live run (its owner finishes it as cancelled) or mark a stopped one
    cancelled. Raises RunIdError, RunNotFound, JournalError, ResumeRefused (finished)."""
    return await asyncio.to_thread(request_cancel, workspace, run_id)


async def show_run(
    workspace: Path, run_id: str, *, command_workspace: Path | None = None
) -> RunView:
    """One run: its state (a dead owner's run shows as paused), its live owner, and the
    continuation when there is something to continue."""
    state, owner = await asyncio.to_thread(load_run, workspace, run_id)
    live = owner is not None
    command = continuation(run_id, workspace=command_workspace) if live or state.resumable else None
    return RunView(state, owner, command)


async def list_runs(workspace: Path) -> list[RunSummary]:
    """Every run of the workspace, newest first; `live` is decided by the run lock."""
    return await asyncio.to_thread(_list_runs, workspace)
