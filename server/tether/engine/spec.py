"""Workflow and step specifications: what a workflow file says, validated and typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.engine.retry import RetryPolicy


@dataclass(frozen=True)
class StepSpec:
    id: str
    """Unique within the workflow; names the step in events, needs and templates."""
    kind: str
    """Which step kind runs it: command, python, docs, agent, llm, workflow."""
    options: dict[str, Any]
    """Kind-specific fields as written (run, shell, call, inputs, ...), not yet templated."""
    needs: tuple[str, ...] = ()
    """Steps that must succeed before this one starts."""
    timeout: float | None = None
    """All attempts of this step, seconds."""
    attempt_timeout: float | None = None
    """One attempt, seconds; hitting it is retryable."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    """Attempts and backoff; one attempt unless the file asks for more."""
    heartbeat_timeout: float | None = None
    """No heartbeat or output for this long means hung: the attempt times out."""
    continue_on_error: bool = False
    """False: this step's failure cancels running siblings (fail-fast)."""
    kill_grace: float = 2.0
    """Seconds between SIGTERM and SIGKILL for a command's process group."""
    line: int | None = None
    """Line of the step's [[steps]] header in its file, for error messages."""
    definition_hash: str = ""
    """Hash of the step's own definition; resume compares it to detect edits."""


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    description: str
    steps: tuple[StepSpec, ...]
    timeout: float | None = None
    """Whole run, active time summed across resumes."""
    max_parallel: int = 4
    params: dict[str, Any] = field(default_factory=dict)
    """Declared parameters with their defaults."""
    required: tuple[str, ...] = ()
    """Parameters a run cannot start without (empty counts as missing)."""
    source: Path | None = None
    spec_hash: str = ""

    def step(self, step_id: str) -> StepSpec:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)
