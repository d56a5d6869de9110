"""Runs one workflow invocation: the DAG under nested deadlines, retries and cleanup.

Everything the runner decides is published as an event; RunState (a subscriber) is the
only place statuses change. Each attempt runs as its own task, supervised from outside:
the supervisor, not the step, decides when time is up, so a step that ignores
cancellation is abandoned after a grace period and the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

from tether.engine.cleanup import CleanupStack
from tether.engine.context import StepContext
from tether.engine.deadlines import Deadline, Level
from tether.engine.errors import (
    StepFailed,
    StepSkipped,
    StepTimedOut,
    StepWaiting,
    TransientError,
)
from tether.engine.events import EventBus, EventType
from tether.engine.kinds import KindRegistry
from tether.engine.retry import next_retry_delay
from tether.engine.spec import StepSpec, WorkflowSpec
from tether.engine.state import RunState, RunStatus, StepStatus
from tether.engine.templating import TemplateError, render_options

logger = logging.getLogger(__name__)

# Heartbeats without details only prove liveness; journal at most one a second of those.
_BARE_HEARTBEAT_INTERVAL = 1.0


class StopReason(StrEnum):
    FAIL_FAST = "fail-fast"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    BUDGET = "budget"
    RUN_TIMEOUT = "run timeout"


# What a step still running (or waiting to start) becomes when the run stops for a reason.
_STOPPED_STEP_STATUS = {
    StopReason.FAIL_FAST: StepStatus.CANCELLED,
    StopReason.CANCELLED: StepStatus.CANCELLED,
    StopReason.INTERRUPTED: StepStatus.CANCELLED,
    StopReason.BUDGET: StepStatus.CANCELLED,
    StopReason.RUN_TIMEOUT: StepStatus.TIMED_OUT,
}
# Stops after which steps that never started stay pending: the run resumes them.
_PAUSING = frozenset({StopReason.BUDGET, StopReason.INTERRUPTED, StopReason.CANCELLED})


@dataclass
class RunOptions:
    workspace: Path
    run_dir: Path
    budget: float | None = None
    """This invocation's budget in seconds; at it the run pauses (resumable)."""
    cleanup_budget: float = 10.0
    """Seconds all cleanup callbacks of one attempt may take together."""
    rerun: Sequence[str] = ()
    """Succeeded steps to run again on resume (their definitions changed; --force)."""
    resume_results: Mapping[str, Any] = field(default_factory=dict)
    """Results for waiting agent steps, by step id (tether resume --result)."""


@dataclass
class _Outcome:
    status: StepStatus
    output: Any = None
    error: str | None = None
    reason: str | None = None
    retryable: bool = False
    waiting: Any = None


class _AttemptSink:
    """Receives a step's emits and heartbeats and turns them into events."""

    def __init__(self, bus: EventBus, step_id: str) -> None:
        self.bus = bus
        self.step_id = step_id
        self.last_beat = time.monotonic()
        self._last_bare_event = 0.0
        self.finished_at: float | None = None
        """When the step's code returned or raised (monotonic), set from inside its task."""

    def record_output(self, item: Any) -> None:
        self.last_beat = time.monotonic()
        self.bus.publish(EventType.STEP_OUTPUT, self.step_id, item=item)

    def record_heartbeat(self, details: Any) -> None:
        now = time.monotonic()
        self.last_beat = now
        if details is None and now - self._last_bare_event < _BARE_HEARTBEAT_INTERVAL:
            return
        if details is None:
            self._last_bare_event = now
        self.bus.publish(EventType.STEP_HEARTBEAT, self.step_id, details=details)


class Runner:
    def __init__(
        self,
        spec: WorkflowSpec,
        kinds: KindRegistry,
        bus: EventBus,
        state: RunState,
        options: RunOptions,
        params: Mapping[str, Any],
    ) -> None:
        self.spec = spec
        self.kinds = kinds
        self.bus = bus
        self.state = state
        self.options = options
        self.params = dict(params)
        self.abandoned: set[asyncio.Task[Any]] = set()
        """Attempts that ignored cancellation; they may still be running."""
        self._stop = asyncio.Event()
        self._stop_reason: StopReason | None = None
        self._done: dict[str, asyncio.Event] = {}
        self._run_deadline = Deadline.unbounded()
        self._outputs: dict[str, Any] = {}
        self._scope_steps: dict[str, dict[str, Any]] = {}
        self._run_facts = {
            "id": state.run_id,
            "dir": str(options.run_dir),
            "workspace": str(options.workspace),
        }

    @property
    def stop_reason(self) -> StopReason | None:
        return self._stop_reason

    def request_stop(self, reason: StopReason) -> None:
        """Stop the run in an orderly way; the first reason given wins."""
        if self._stop_reason is None:
            self._stop_reason = reason
            self._stop.set()

    async def run(self) -> RunState:
        invocation_start = time.monotonic()
        self._publish_start()
        for step_id, record in self.state.steps.items():
            if record.status is StepStatus.SUCCEEDED:
                self._record_output(step_id, record.output)
        used = self.state.active_ms / 1000
        timeout_left = None if self.spec.timeout is None else max(0.0, self.spec.timeout - used)
        deadline = Deadline.after(timeout_left, Level.RUN)
        self._run_deadline = deadline.earlier(Deadline.after(self.options.budget, Level.BUDGET))
        semaphore = asyncio.Semaphore(self.spec.max_parallel)
        watchdog = asyncio.create_task(self._watch_run_deadline())
        try:
            async with asyncio.TaskGroup() as group:
                for step in self.spec.steps:
                    self._done[step.id] = asyncio.Event()
                for step in self.spec.steps:
                    if self.state.steps[step.id].status is StepStatus.SUCCEEDED:
                        self._done[step.id].set()
                    else:
                        group.create_task(self._drive(step, semaphore), name=f"drive:{step.id}")
        finally:
            watchdog.cancel()
        self._publish_end(invocation_start)
        return self.state

    def _publish_start(self) -> None:
        step_hashes = {step.id: step.definition_hash for step in self.spec.steps}
        if self.state.last_seq == 0:
            self.bus.publish(
                EventType.RUN_STARTED,
                workflow=self.spec.name,
                params=self.params,
                spec_hash=self.spec.spec_hash,
                step_hashes=step_hashes,
                pid=os.getpid(),
                budget=self.options.budget,
            )
        else:
            self.bus.publish(
                EventType.RUN_RESUMED,
                spec_hash=self.spec.spec_hash,
                step_hashes=step_hashes,
                rerun=list(self.options.rerun),
                active_ms=self.state.active_ms,
                pid=os.getpid(),
                budget=self.options.budget,
            )

    def _publish_end(self, invocation_start: float) -> None:
        active_ms = self.state.active_ms + round((time.monotonic() - invocation_start) * 1000)
        status, reason = self._final_status()
        if status in (RunStatus.PAUSED, RunStatus.WAITING):
            self.bus.publish(
                EventType.RUN_PAUSED, status=status, reason=reason, active_ms=active_ms
            )
        else:
            self.bus.publish(
                EventType.RUN_FINISHED, status=status, reason=reason, active_ms=active_ms
            )

    def _final_status(self) -> tuple[RunStatus, str | None]:
        records = self.state.steps.values()
        stop = self._stop_reason
        if stop is StopReason.RUN_TIMEOUT:
            return RunStatus.TIMED_OUT, "the workflow's timeout was reached"
        if stop is StopReason.CANCELLED:
            return RunStatus.CANCELLED, "cancelled"
        unfinished = any(r.status in (StepStatus.PENDING, StepStatus.CANCELLED) for r in records)
        if stop in (StopReason.BUDGET, StopReason.INTERRUPTED) and unfinished:
            return RunStatus.PAUSED, str(stop)
        failed = [r.id for r in records if r.status in (StepStatus.FAILED, StepStatus.TIMED_OUT)]
        if failed:
            return RunStatus.FAILED, f"failed: {', '.join(failed)}"
        if self.state.waiting_steps:
            return RunStatus.WAITING, "waiting for: " + ", ".join(
                r.id for r in self.state.waiting_steps
            )
        if unfinished:
            return RunStatus.FAILED, "steps did not finish"
        return RunStatus.SUCCEEDED, None

    async def _watch_run_deadline(self) -> None:
        remaining = self._run_deadline.remaining()
        if remaining == math.inf:
            return
        await asyncio.sleep(remaining)
        level = self._run_deadline.level
        self.request_stop(StopReason.BUDGET if level is Level.BUDGET else StopReason.RUN_TIMEOUT)

    async def _until_stopped_or(self, awaitable: Any) -> bool:
        """Await `awaitable` unless the run stops first; True when it completed."""
        task = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if task.done():
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False

    async def _drive(self, step: StepSpec, semaphore: asyncio.Semaphore) -> None:
        try:
            for need in step.needs:
                if not await self._until_stopped_or(self._done[need].wait()):
                    self._never_started(step)
                    return
                need_status = self.state.steps[need].status
                if need_status is StepStatus.PENDING:
                    return  # the need waits (an agent step, or downstream of one): so do we
                if need_status is not StepStatus.SUCCEEDED:
                    self._skip(step, f"needs {need}, which {need_status}")
                    return
            acquire = asyncio.ensure_future(semaphore.acquire())
            if not await self._until_stopped_or(acquire):
                if acquire.done() and not acquire.cancelled():
                    semaphore.release()
                self._never_started(step)
                return
            try:
                await self._execute(step)
            finally:
                semaphore.release()
        finally:
            self._done[step.id].set()

    def _never_started(self, step: StepSpec) -> None:
        assert self._stop_reason is not None
        if self._stop_reason in _PAUSING:
            return  # stays pending: a resume runs it
        self._skip(step, f"not started: {self._stop_reason}")

    def _skip(self, step: StepSpec, reason: str) -> None:
        self.bus.publish(
            EventType.STEP_FINISHED,
            step.id,
            status=StepStatus.SKIPPED,
            reason=reason,
            duration_ms=0,
        )

    async def _execute(self, step: StepSpec) -> None:
        record = self.state.steps[step.id]
        step_deadline = self._run_deadline.child(step.timeout, Level.STEP)
        started = time.monotonic()
        cleanup_errors: list[str] = []
        attempt_in_invocation = 0
        while True:
            attempt_in_invocation += 1
            outcome = await self._attempt(step, record.attempts + 1, step_deadline, cleanup_errors)
            if outcome.waiting is not None:
                self.bus.publish(EventType.STEP_WAITING, step.id, request=outcome.waiting)
                return
            if not outcome.retryable or self._stop.is_set():
                break
            delay = next_retry_delay(step.retry, attempt_in_invocation, step_deadline.remaining())
            if delay is None:
                break
            self.bus.publish(
                EventType.STEP_RETRY,
                step.id,
                attempt=record.attempts,
                delay=round(delay, 3),
                error=outcome.error,
            )
            if not await self._until_stopped_or(asyncio.sleep(delay)):
                outcome = self._stopped_outcome(outcome.error)
                break
        self.bus.publish(
            EventType.STEP_FINISHED,
            step.id,
            status=outcome.status,
            output=outcome.output,
            error=outcome.error,
            reason=outcome.reason,
            duration_ms=round((time.monotonic() - started) * 1000),
            attempts=record.attempts,
            cleanup_errors=cleanup_errors,
        )
        if outcome.status is StepStatus.SUCCEEDED:
            self._record_output(step.id, outcome.output)
        failed = outcome.status in (StepStatus.FAILED, StepStatus.TIMED_OUT)
        if failed and not step.continue_on_error and not self._stop.is_set():
            self.request_stop(StopReason.FAIL_FAST)

    def _stopped_outcome(self, error: str | None = None) -> _Outcome:
        assert self._stop_reason is not None
        status = _STOPPED_STEP_STATUS[self._stop_reason]
        return _Outcome(status, error=error, reason=str(self._stop_reason))

    def _scope(self) -> dict[str, Any]:
        # Live views, updated as steps succeed: templating never copies every output.
        return {"params": self.params, "steps": self._scope_steps, "run": self._run_facts}

    def _record_output(self, step_id: str, output: Any) -> None:
        self._outputs[step_id] = output
        self._scope_steps[step_id] = {"output": output}

    async def _attempt(
        self, step: StepSpec, attempt: int, step_deadline: Deadline, cleanup_errors: list[str]
    ) -> _Outcome:
        deadline = step_deadline.child(step.attempt_timeout, Level.ATTEMPT)
        record = self.state.steps[step.id]
        self.bus.publish(EventType.STEP_STARTED, step.id, attempt=attempt)
        scope = self._scope()
        try:
            inputs = render_options(step.options, scope)
        except TemplateError as error:
            return _Outcome(StepStatus.FAILED, error=str(error))
        sink = _AttemptSink(self.bus, step.id)
        cleanups = CleanupStack()
        context = StepContext(
            step=step,
            run_id=self.state.run_id,
            attempt=attempt,
            options=inputs,
            params=self.params,
            results=MappingProxyType(self._outputs),
            workspace=self.options.workspace,
            run_dir=self.options.run_dir,
            deadline=deadline,
            last_heartbeat=record.last_heartbeat,
            sink=sink,
            cleanups=cleanups,
            resume_result=self.options.resume_results.get(step.id),
        )
        kind = self.kinds[step.kind]
        task = asyncio.create_task(
            _timed(kind.execute(context), sink), name=f"step:{step.id}#{attempt}"
        )
        try:
            outcome = await self._supervise(task, step, sink, deadline)
        finally:
            cleanup_errors.extend(await cleanups.run(self.options.cleanup_budget))
        return outcome

    async def _supervise(
        self, task: asyncio.Task[Any], step: StepSpec, sink: _AttemptSink, deadline: Deadline
    ) -> _Outcome:
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            while True:
                wake_at = deadline.at
                if step.heartbeat_timeout is not None:
                    wake_at = min(wake_at, sink.last_beat + step.heartbeat_timeout)
                timeout = None if wake_at == math.inf else max(0.0, wake_at - time.monotonic())
                done, _ = await asyncio.wait(
                    {task, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if task in done:
                    ended = sink.finished_at
                    if ended is not None and ended > deadline.at and not task.cancelled():
                        # It ended past its deadline without the supervisor getting a turn:
                        # its code kept the event loop busy. Its result arrived too late.
                        late = f"it ended {ended - deadline.at:.2f}s past it, blocking the"
                        late += ' event loop (isolation = "process" lets it be stopped)'
                        return await self._deadline_outcome(task, step, deadline.level, late)
                    return self._classify(task)
                if stopper in done:
                    error = await self._cancel(task, step)
                    return self._stopped_outcome(error)
                now = time.monotonic()
                if now >= deadline.at:
                    return await self._deadline_outcome(task, step, deadline.level)
                silence = step.heartbeat_timeout
                if silence is not None and now >= sink.last_beat + silence:
                    error = await self._cancel(task, step)
                    message = f"no heartbeat or output for {silence:g}s"
                    return _Outcome(
                        StepStatus.TIMED_OUT,
                        error=_join(message, error),
                        reason=str(Level.HEARTBEAT),
                        retryable=True,
                    )
        finally:
            stopper.cancel()

    async def _deadline_outcome(
        self, task: asyncio.Task[Any], step: StepSpec, level: Level, late: str | None = None
    ) -> _Outcome:
        error = late or await self._cancel(task, step)
        if level is Level.BUDGET:
            self.request_stop(StopReason.BUDGET)
            return self._stopped_outcome(error)
        if level is Level.RUN:
            self.request_stop(StopReason.RUN_TIMEOUT)
        message = f"{level} deadline reached"
        return _Outcome(
            StepStatus.TIMED_OUT,
            error=_join(message, error),
            reason=str(level),
            retryable=level is Level.ATTEMPT,
        )

    async def _cancel(self, task: asyncio.Task[Any], step: StepSpec) -> str | None:
        """Cancel an attempt; abandon it if it ignores cancellation past its grace."""
        if task.done():
            return None
        task.cancel()
        grace = self.kinds[step.kind].cancel_grace(step)
        done, _ = await asyncio.wait({task}, timeout=grace)
        if done:
            return None
        self.abandoned.add(task)
        task.add_done_callback(_forget_abandoned(self.abandoned))
        _exclude_from_loop_shutdown(task)
        logger.warning("step %s ignored cancellation for %.1fs; abandoned", step.id, grace)
        return f"ignored cancellation for {grace:g}s and was abandoned"

    def _classify(self, task: asyncio.Task[Any]) -> _Outcome:
        if task.cancelled():
            return _Outcome(StepStatus.FAILED, error="the step cancelled itself")
        error = task.exception()
        if error is None:
            output = task.result()
            try:
                orjson.dumps(output)
            except TypeError as problem:
                return _Outcome(
                    StepStatus.FAILED, error=f"output is not JSON-serialisable: {problem}"
                )
            return _Outcome(StepStatus.SUCCEEDED, output=output)
        if isinstance(error, StepSkipped):
            return _Outcome(StepStatus.SKIPPED, reason=str(error) or "skipped by the step")
        if isinstance(error, StepWaiting):
            return _Outcome(StepStatus.PENDING, waiting=error.request)
        if isinstance(error, StepTimedOut):
            return _Outcome(StepStatus.TIMED_OUT, error=str(error), reason=error.reason)
        if isinstance(error, StepFailed):
            return _Outcome(StepStatus.FAILED, error=str(error))
        message = _describe(error)
        if isinstance(error, TimeoutError):
            message += " (raised by the step itself, not an engine deadline)"
        return _Outcome(
            StepStatus.FAILED, error=message, retryable=isinstance(error, TransientError)
        )


async def _timed(work: Any, sink: _AttemptSink) -> Any:
    try:
        return await work
    finally:
        sink.finished_at = time.monotonic()


def _exclude_from_loop_shutdown(task: asyncio.Task[Any]) -> None:
    """Keep an abandoned task from holding its event loop's owner at exit.

    asyncio.run() (and hosts that copy it) cancels every task it knows and waits for them
    all; a step that swallows cancellation would make that wait endless, keeping a
    language server or a user's program alive. The engine has given up on the task, so
    it leaves the loop's registry (a private hook, present in CPython 3.7 to 3.14): the
    loop closes without it, and its coroutine is dropped.
    """
    unregister = getattr(asyncio.tasks, "_unregister_task", None)
    if unregister is not None:
        unregister(task)
        # Dropping it at loop close is the intent, not a bug worth a warning.
        with contextlib.suppress(AttributeError):
            task._log_destroy_pending = False  # type: ignore[attr-defined]


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _join(message: str, extra: str | None) -> str:
    return f"{message}; {extra}" if extra else message


def _forget_abandoned(tasks: set[asyncio.Task[Any]]) -> Any:
    def forget(task: asyncio.Task[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.info("abandoned step task %s ended with %r", task.get_name(), task.exception())

    return forget
