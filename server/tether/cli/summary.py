"""The end of a run in plain words: status, failures with their first lines, resume line.

A run waiting for an agent also prints the agent's instruction (a chat agent reads it
right here, no second command needed), and its last line is the exact command that hands
the result in: the resume command with `--result-file`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from tether.engine.durations import format_duration
from tether.engine.state import RunState, StepRecord, StepStatus

_FIRST_LINES = 6
_INSTRUCTION_CHARS = 20_000


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
    waiting = state.waiting_steps
    for record in waiting:
        where = _request(record).get("instruction_file")
        lines.append(
            f"  {record.id} is waiting for a result" + (f"; read {where}" if where else "")
        )
    if len(waiting) == 1:
        lines += _instruction_lines(_request(waiting[0]))
    if resume and waiting:
        commands = [_hand_in_command(resume, record, len(waiting) > 1) for record in waiting]
        for record, command in zip(waiting[:-1], commands[:-1], strict=True):
            lines.append(f"  to hand in {record.id}'s result: {command}")
        resume = commands[-1]
    if resume:
        lines.append(resume)
    return lines


def _request(record: StepRecord) -> dict[str, Any]:
    return record.waiting if isinstance(record.waiting, dict) else {}


def _hand_in_command(resume: str, record: StepRecord, name_step: bool) -> str:
    result_file = _request(record).get("result_file")
    if not isinstance(result_file, str):
        return resume
    step = f" --step {shlex.quote(record.id)}" if name_step else ""
    return f"{resume}{step} --result-file {shlex.quote(result_file)}"


def _instruction_lines(request: dict[str, Any]) -> list[str]:
    path = request.get("instruction_file")
    if not isinstance(path, str):
        return []
    try:
        with Path(path).open(encoding="utf-8", errors="replace") as handle:
            text = handle.read(_INSTRUCTION_CHARS + 1)
    except OSError as error:
        return [f"  (cannot read the instruction {path}: {error.strerror or error})"]
    if len(text) > _INSTRUCTION_CHARS:
        text = text[:_INSTRUCTION_CHARS] + f"\n... (cut; read {path} for the rest)"
    return ["", *text.rstrip().splitlines(), ""]


def _first_lines(partial: list[Any]) -> list[str]:
    texts = [str(item) for item in partial if str(item).strip()]
    return [text[:200] for text in texts[:_FIRST_LINES]]
