"""The runs of a workspace on disk: list them, load one from its journal, prune old ones,
and request the cancellation of one (live in another process, or paused).

Every function takes a run id from outside and validates it before forming a path.
A run is live while some process holds its lock; nothing here ever waits for a lock.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from tether.engine.events import Event, EventBus, EventType
from tether.engine.journal import (
    JOURNAL_NAME,
    Durability,
    JournalError,
    JournalWriter,
    read_head,
    read_numbered_events,
    read_tail,
)
from tether.engine.orphans import GROUPS_DIR, reap_orphans
from tether.engine.platform import IS_WINDOWS, LockHeld, LockOwner, RunLock, lock_owner, send_wake
from tether.engine.runfiles import check_run_dir, write_run_file
from tether.engine.runids import RUN_ID, run_dir, runs_dir
from tether.engine.state import RunState, RunStatus, StepStatus

logger = logging.getLogger(__name__)

LOCK_NAME = "lock"
CANCEL_REQUEST_NAME = "cancel-requested"
CLOCK_NAME = "clock"
CLOCK_INTERVAL = 0.2
"""Seconds between a live owner's clock ticks: the most active time a crash can hide."""
# Enough of a journal's end to find the last run-level event in all but huge runs.
_TAIL_BYTES = 64 * 1024
_FINISHED = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.CANCELLED}
)
_INVOCATION_STARTS = frozenset({EventType.RUN_STARTED, EventType.RUN_RESUMED})
_INVOCATION_ENDS = frozenset({EventType.RUN_PAUSED, EventType.RUN_FINISHED})
GONE_REASON = "interrupted: the process running it is gone"


class RunNotFound(Exception):
    """No run with that id in this workspace."""


class ResumeRefused(Exception):
    """A run that cannot be resumed as asked; the message says why in one line."""


def journal_of(workspace: Path, run_id: str) -> Path:
    """The journal of an existing run. Raises RunIdError before any path is formed."""
    directory = run_dir(workspace, run_id)
    try:
        check_run_dir(directory)  # lstat: a symlinked run directory is refused
    except FileNotFoundError:
        raise RunNotFound(f"no run {run_id!r} in {workspace}") from None
    path = directory / JOURNAL_NAME
    if not path.is_file():
        raise RunNotFound(f"no run {run_id!r} in {workspace}")
    return path


def replay(journal: Path, run_id: str) -> RunState:
    """The run's state, rebuilt by folding its journal through RunState.apply.

    Invocations that never journaled their end (the process died, or is still running)
    have their active time counted up to their last sign of life: their last event, or
    the run's clock file, which a live owner touches every CLOCK_INTERVAL seconds (a silent
    step writes no events). So a workflow's timeout keeps counting across crashes. The
    next invocation's run_resumed carries the corrected total.
    """
    state = RunState(run_id)
    unrecorded_ms = 0
    invocation_start: float | None = None
    last_ts = 0.0
    for number, event in read_numbered_events(journal):
        try:
            state.apply(event)
        except (KeyError, ValueError, TypeError, AttributeError, AssertionError) as error:
            # Valid JSON of the wrong shape (a step event without a step, an unknown
            # status, a list where a table belongs): damaged, like unparseable JSON.
            detail = f"{type(error).__name__}: {error}"
            raise JournalError(f"{journal}:{number}: damaged journal line ({detail})") from error
        if event.type in _INVOCATION_STARTS:
            if "active_ms" in event.data:
                unrecorded_ms = 0  # the resume recorded the corrected total
            elif invocation_start is not None:  # the previous invocation died
                unrecorded_ms += round((last_ts - invocation_start) * 1000)
            invocation_start = event.ts
        elif event.type in _INVOCATION_ENDS:
            invocation_start, unrecorded_ms = None, 0  # its active_ms is the whole total
        last_ts = event.ts
    if state.last_seq == 0:
        raise JournalError(f"{journal}: empty journal")
    if invocation_start is not None:
        end = max(last_ts, clock_time(journal.parent, since=invocation_start))
        unrecorded_ms += round((end - invocation_start) * 1000)
    state.active_ms += max(0, unrecorded_ms)
    return state


def tick_clock(directory: Path) -> None:
    """Say "this run's owner is alive and active now" (see replay)."""
    clock = directory / CLOCK_NAME
    try:
        os.utime(clock, follow_symlinks=False)
    except FileNotFoundError:
        write_run_file(clock, b"")


def clock_time(directory: Path, *, since: float) -> float:
    """When the run's owner last ticked its clock, if at or after `since`; else 0."""
    try:
        ticked = (directory / CLOCK_NAME).lstat().st_mtime
    except OSError:
        return 0.0
    return ticked if ticked >= since else 0.0


def load_run(workspace: Path, run_id: str) -> tuple[RunState, LockOwner | None]:
    """A run's state for display, and its live owner (None when nobody runs it).

    A journal that says `running` while no process owns the run belongs to a process that
    died: shown as paused, which is what it is (resumable).
    """
    journal = journal_of(workspace, run_id)
    state = replay(journal, run_id)
    owner = lock_owner(journal.parent / LOCK_NAME)
    if state.status is RunStatus.RUNNING and owner is None:
        state.status = RunStatus.PAUSED
        state.reason = GONE_REASON
    return state, owner


@dataclass(frozen=True)
class RunSummary:
    id: str
    workflow: str
    status: str
    started_ts: float
    """Wall-clock epoch seconds of run_started."""
    duration_ms: int
    """Active time over all invocations (up to the last event for a live run)."""
    live: bool
    owner_pid: int | None = None
    error: str | None = None
    """Why the journal could not be read, if it could not."""

    def age(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.started_ts)

    def to_json(self, now: float | None = None) -> dict[str, object]:
        """The one shape of a run summary: `tether runs --json` and `tether.runs` alike."""
        record: dict[str, object] = {
            "run_id": self.id,
            "workflow": self.workflow,
            "status": self.status,
            "age_seconds": round(self.age(now), 3),
            "duration_ms": self.duration_ms,
            "live": self.live,
        }
        if self.error is not None:
            record["error"] = self.error
        return record


def list_runs(workspace: Path) -> list[RunSummary]:
    """Every run in the workspace, newest first."""
    root = runs_dir(workspace)
    if not root.is_dir():
        return []
    summaries = []
    for entry in root.iterdir():
        # Directory names come from disk: only ones that are valid run ids are runs.
        if not RUN_ID.fullmatch(entry.name) or ".." in entry.name:
            continue
        journal = entry / JOURNAL_NAME
        if journal.is_file():
            summaries.append(summarize(journal, entry.name))
    summaries.sort(key=lambda summary: (summary.started_ts, summary.id), reverse=True)
    return summaries


def summarize(journal: Path, run_id: str) -> RunSummary:
    """What `tether runs` shows, read from the journal's first line and its tail only."""
    owner = lock_owner(journal.parent / LOCK_NAME)
    live = owner is not None
    pid = owner.pid if owner else None
    try:
        first, tail = read_head(journal), read_tail(journal, _TAIL_BYTES)
        if first is None or first.type is not EventType.RUN_STARTED:
            raise JournalError(f"{journal}:1: does not start with run_started")
        status, duration_ms = _status_from_tail(tail)
        if status is None:  # no run-level event near the end: fold the whole journal
            state = replay(journal, run_id)
            status, duration_ms = str(state.status), state.active_ms
        if status == RunStatus.RUNNING and not live:
            status = str(RunStatus.PAUSED)
        workflow = str(first.data.get("workflow", ""))
        return RunSummary(run_id, workflow, status, first.ts, duration_ms, live, pid)
    except (JournalError, OSError, KeyError, ValueError, TypeError) as error:
        started = _mtime(journal)
        return RunSummary(run_id, "", "unknown", started, 0, live, pid, error=str(error))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _status_from_tail(tail: list[Event]) -> tuple[str | None, int]:
    for index in range(len(tail) - 1, -1, -1):
        event = tail[index]
        if event.type in (EventType.RUN_FINISHED, EventType.RUN_PAUSED):
            return str(event.data.get("status", "")), int(event.data.get("active_ms", 0))
        if event.type in (EventType.RUN_STARTED, EventType.RUN_RESUMED):
            # Running now (or its process died): earlier invocations plus this one so far.
            earlier = next(
                (
                    int(e.data.get("active_ms", 0))
                    for e in reversed(tail[:index])
                    if e.type in (EventType.RUN_FINISHED, EventType.RUN_PAUSED)
                ),
                None,
            )
            if earlier is None and event.type is EventType.RUN_RESUMED:
                return None, 0  # the earlier active time is before the tail
            so_far = round((tail[-1].ts - event.ts) * 1000)
            return str(RunStatus.RUNNING), (earlier or 0) + so_far
    return None, 0


def prune_runs(workspace: Path, keep: int) -> list[str]:
    """Delete finished runs beyond the `keep` newest finished ones. Returns the ids.

    Only finished runs (succeeded, failed, timed out, cancelled) are ever deleted: a paused
    or waiting run is work in progress that someone will continue (an agent's waiting
    `build` must survive fifty quick checks), and a live run is in use. The status is read
    again under the run's lock, so a run resumed meanwhile is not deleted.
    """
    finished = [summary for summary in list_runs(workspace) if summary.status in _FINISHED]
    removed = []
    for summary in finished[keep:]:
        if summary.live:
            continue
        directory = run_dir(workspace, summary.id)
        lock = RunLock(directory / LOCK_NAME)
        try:
            lock.acquire()  # also keeps a resume from starting while the files go
        except LockHeld:
            continue
        except OSError as error:
            logger.warning("cannot prune run %s: %s", summary.id, error)
            continue
        try:
            if summarize(directory / JOURNAL_NAME, summary.id).status not in _FINISHED:
                continue  # resumed (and paused) since it was listed
            if IS_WINDOWS:
                lock.release()  # Windows cannot delete a file that is open
            shutil.rmtree(directory)
        except OSError as error:
            logger.warning("cannot prune run %s: %s", summary.id, error)
        else:
            removed.append(summary.id)
        finally:
            lock.release()
    return removed


def reap_abandoned_runs(workspace: Path) -> dict[str, list[int]]:
    """Kill process groups left by owners that died: every run with groups recorded and
    nobody holding its lock. Never waits on a lock. Returns run id -> groups killed."""
    reaped: dict[str, list[int]] = {}
    root = runs_dir(workspace)
    if not root.is_dir():
        return reaped
    for directory in root.iterdir():
        if not RUN_ID.fullmatch(directory.name) or not (directory / GROUPS_DIR).is_dir():
            continue
        lock = RunLock(directory / LOCK_NAME)
        try:
            lock.acquire()
        except (LockHeld, OSError):
            continue  # a live owner sweeps its own groups
        try:
            killed = reap_orphans(directory)
        finally:
            lock.release()
        if killed:
            reaped[directory.name] = killed
    return reaped


def cancel_request_path(directory: Path) -> Path:
    return directory / CANCEL_REQUEST_NAME


def cancel_requested(directory: Path) -> bool:
    return cancel_request_path(directory).exists()


def clear_cancel_request(directory: Path) -> None:
    cancel_request_path(directory).unlink(missing_ok=True)


class CancelOutcome(StrEnum):
    REQUESTED = "requested"
    """A live run's owner was asked to stop; it will finish as cancelled (exit 4)."""
    CANCELLED = "cancelled"
    """A paused, waiting or orphaned run was marked cancelled in its journal."""


@dataclass(frozen=True)
class CancelResult:
    outcome: CancelOutcome
    owner_pid: int | None = None
    woken: bool = False
    """The owner was signalled; otherwise it notices at its next poll (about a second)."""


def request_cancel(
    workspace: Path, run_id: str, *, durability: Durability = Durability.STEP
) -> CancelResult:
    """Cancel a run. Raises RunIdError, RunNotFound, JournalError, or ResumeRefused for a
    run that has already finished."""
    journal = journal_of(workspace, run_id)
    directory = journal.parent
    lock = RunLock(directory / LOCK_NAME)
    try:
        lock.acquire()
    except LockHeld as held:
        # Request first, then wake: the owner looks for the request when woken.
        write_run_file(
            cancel_request_path(directory), f"{os.getpid()} {time.time():.3f}\n".encode()
        )
        woken = held.wakeable and held.pid is not None and send_wake(held.pid)
        return CancelResult(CancelOutcome.REQUESTED, held.pid, woken)
    try:
        reap_orphans(directory)  # a dead owner's steps may still be running
        state = replay(journal, run_id)
        if state.status in _FINISHED:
            raise ResumeRefused(f"run {run_id} already finished: {state.status}")
        _append_cancelled(journal, state, durability)
        clear_cancel_request(directory)
    finally:
        lock.release()
    return CancelResult(CancelOutcome.CANCELLED)


def _append_cancelled(journal: Path, state: RunState, durability: Durability) -> None:
    bus = EventBus(state.run_id, next_seq=state.last_seq + 1)
    bus.subscribe(state.apply)
    writer = JournalWriter(journal, durability)
    bus.subscribe(writer)
    try:
        for record in list(state.steps.values()):
            if record.status is StepStatus.RUNNING:  # its process died mid-step
                bus.publish(
                    EventType.STEP_FINISHED,
                    record.id,
                    status=StepStatus.CANCELLED,
                    reason="cancelled",
                    duration_ms=0,
                    attempts=record.attempts,
                )
        bus.publish(
            EventType.RUN_FINISHED,
            status=RunStatus.CANCELLED,
            reason="cancelled by tether cancel",
            active_ms=state.active_ms,
        )
    finally:
        writer.close()


def choose_waiting_step(state: RunState, step: str | None) -> str:
    """The step a `--result` is for: the named one, or the only one waiting."""
    waiting = [record.id for record in state.waiting_steps]
    if step is not None:
        if step not in waiting:
            listed = ", ".join(waiting) or "none"
            raise ResumeRefused(f"step {step!r} is not waiting for a result (waiting: {listed})")
        return step
    if not waiting:
        raise ResumeRefused(f"no step of run {state.run_id} is waiting for a result")
    if len(waiting) > 1:
        raise ResumeRefused(
            f"several steps are waiting for a result ({', '.join(waiting)}); choose one with --step"
        )
    return waiting[0]
