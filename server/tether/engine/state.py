"""Run state as a fold over events: the live run and a replayed journal share one reducer.

The runner never mutates state directly; it publishes events, and RunState.apply is the
only code that turns them into statuses, outputs and partial output. Resume therefore
sees exactly what the journal says, by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tether.engine.events import Event, EventType
from tether.engine.output_bound import expand_tail


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    PAUSED = "paused"
    WAITING = "waiting"


RESUMABLE = frozenset(
    {
        RunStatus.PAUSED,
        RunStatus.WAITING,
        RunStatus.CANCELLED,
        RunStatus.FAILED,
        RunStatus.TIMED_OUT,
    }
)


@dataclass
class StepRecord:
    id: str
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    duration_ms: int | None = None
    output: Any = None
    partial: list[Any] = field(default_factory=list)
    error: str | None = None
    reason: str | None = None
    """Why it ended as it did when that is not obvious: the deadline level, 'fail-fast'."""
    last_heartbeat: Any = None
    waiting: Any = None
    """Set while an agent step waits for a result: what it asked for."""
    cleanup_errors: list[str] = field(default_factory=list)
    definition_hash: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": str(self.status),
            "attempts": self.attempts,
            "duration_ms": self.duration_ms,
            "output": self.output,
            "partial": self.partial,
            "error": self.error,
        }


@dataclass
class RunState:
    run_id: str
    workflow: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    spec_hash: str = ""
    status: RunStatus = RunStatus.RUNNING
    reason: str | None = None
    steps: dict[str, StepRecord] = field(default_factory=dict)
    active_ms: int = 0
    """Active time summed over every invocation that has paused or finished."""
    started_ts: float | None = None
    updated_ts: float | None = None
    last_seq: int = 0

    @property
    def nothing_ran(self) -> bool:
        """Succeeded with every step skipped: nothing was checked, built or tested, and
        front ends must not report that as a pass (the CLI exits 5)."""
        return (
            self.status is RunStatus.SUCCEEDED
            and bool(self.steps)
            and all(record.status is StepStatus.SKIPPED for record in self.steps.values())
        )

    def apply(self, event: Event) -> None:
        self.last_seq = event.seq
        self.updated_ts = event.ts
        data = event.data
        match event.type:
            case EventType.RUN_STARTED:
                self.workflow = str(data.get("workflow", ""))
                self.params = dict(data.get("params", {}))
                self.spec_hash = str(data.get("spec_hash", ""))
                self.started_ts = event.ts
                self.status = RunStatus.RUNNING
                for step_id, digest in dict(data.get("step_hashes", {})).items():
                    self.steps[step_id] = StepRecord(step_id, definition_hash=str(digest))
            case EventType.RUN_RESUMED:
                self.status = RunStatus.RUNNING
                self.reason = None
                self.spec_hash = str(data.get("spec_hash", self.spec_hash))
                self.active_ms = int(data.get("active_ms", self.active_ms))
                for step_id, digest in dict(data.get("step_hashes", {})).items():
                    record = self.steps.setdefault(step_id, StepRecord(step_id))
                    if record.status is not StepStatus.SUCCEEDED:
                        record.status = StepStatus.PENDING
                        record.error = None
                        record.reason = None
                    record.definition_hash = str(digest)
                for step_id in data.get("rerun", []):
                    record = self.steps[step_id]
                    record.status = StepStatus.PENDING
                    record.output = None
            case EventType.STEP_STARTED:
                record = self._step(event)
                record.status = StepStatus.RUNNING
                record.attempts = int(data.get("attempt", record.attempts + 1))
                record.waiting = None
            case EventType.STEP_OUTPUT:
                self._step(event).partial.append(data.get("item"))
            case EventType.STEP_HEARTBEAT:
                self._step(event).last_heartbeat = data.get("details")
            case EventType.STEP_RETRY:
                self._step(event).error = data.get("error")
            case EventType.STEP_WAITING:
                record = self._step(event)
                record.status = StepStatus.PENDING
                record.waiting = data.get("request")
            case EventType.STEP_FINISHED:
                record = self._step(event)
                record.status = StepStatus(data["status"])
                record.duration_ms = data.get("duration_ms")
                record.output = data.get("output")
                record.error = data.get("error")
                record.reason = data.get("reason")
                record.cleanup_errors = list(data.get("cleanup_errors", []))
                # Journaled output past the head comes back as a marker and the tail.
                record.partial.extend(expand_tail(data))
            case EventType.RUN_PAUSED:
                self.status = RunStatus(data.get("status", RunStatus.PAUSED))
                self.reason = data.get("reason")
                self.active_ms = int(data.get("active_ms", self.active_ms))
            case EventType.RUN_FINISHED:
                self.status = RunStatus(data["status"])
                self.reason = data.get("reason")
                self.active_ms = int(data.get("active_ms", self.active_ms))

    def _step(self, event: Event) -> StepRecord:
        assert event.step is not None, f"{event.type} without a step"
        return self.steps.setdefault(event.step, StepRecord(event.step))

    @property
    def resumable(self) -> bool:
        return self.status in RESUMABLE

    @property
    def waiting_steps(self) -> list[StepRecord]:
        return [record for record in self.steps.values() if record.waiting is not None]

    def to_json(self, resume_command: str | None) -> dict[str, Any]:
        """The brief's run object: run_id, workflow, status, resume_command, steps."""
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "status": str(self.status),
            "resume_command": resume_command,
            "steps": [record.to_json() for record in self.steps.values()],
        }
