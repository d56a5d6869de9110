"""The end of a run in plain words: status, failures with their first lines, resume line."""

from __future__ import annotations

from typing import Any

from tether.engine.durations import format_duration
from tether.engine.state import RunState, StepStatus

_FIRST_LINES = 6


def summary_lines(state: RunState, resume: str | None) -> list[str]:
    lines = [
        f"run {state.run_id} ({state.workflow}): {state.status}"
        + (f" — {state.reason}" if state.reason else "")
        + f" after {format_duration(state.active_ms / 1000)}"
    ]
    for record in state.steps.values():
        took = format_duration((record.duration_ms or 0) / 1000)
        line = f"  {record.status:<10} {record.id} ({took}, {record.attempts} attempt(s))"
        if record.status is StepStatus.SKIPPED and record.reason:
            line += f": {record.reason}"
        lines.append(line)
        if record.status in (StepStatus.FAILED, StepStatus.TIMED_OUT):
            lines.append(f"    error: {record.error}")
            lines.extend(f"    | {text}" for text in _first_lines(record.partial))
        for problem in record.cleanup_errors:
            lines.append(f"    cleanup: {problem}")
    for record in state.waiting_steps:
        request: Any = record.waiting
        where = request.get("instruction_file") if isinstance(request, dict) else None
        lines.append(
            f"  {record.id} is waiting for a result" + (f"; read {where}" if where else "")
        )
    if resume:
        lines.append(resume)
    return lines


def _first_lines(partial: list[Any]) -> list[str]:
    texts = [str(item) for item in partial if str(item).strip()]
    return [text[:200] for text in texts[:_FIRST_LINES]]
