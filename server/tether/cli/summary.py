"""The end of a run in plain words: status, failures with their first lines, and a closing
line that says what to do next.

A run waiting for an agent also prints the agent's instruction (a chat agent reads it
right here, no second command needed), and its last line is the exact command that hands
the result in: the continuation with `--result-file`. A failed run (exit 1) ends with
what to do instead of a continuation: resuming it would only repeat the failures.

`summary_sections` keeps the parts apart so that a bounded printer (render_plain.py) can
cut the long middle (step details, the instruction) and never the closing lines.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.engine.durations import format_duration
from tether.engine.state import RunState, RunStatus, StepRecord, StepStatus

_FIRST_LINES = 6
_DETAIL_LINES = 12
"""Lines of a step's own multi-line error (failing tests, lint findings) printed."""
_INSTRUCTION_CHARS = 20_000
_LINE_CHARS = 1_000
"""Longest error, reason or cleanup text printed on one line (`tether show` has all)."""
_HAND_IN_LINES = 20
"""Hand-in commands listed for parallel waiting steps; `tether show` has the rest."""


@dataclass
class SummarySections:
    status: str
    steps: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    instruction: list[str] = field(default_factory=list)
    instruction_file: str | None = None
    closing: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [self.status, *self.steps, *self.waiting, *self.instruction, *self.closing]


def summary_lines(state: RunState, continuation: str | None) -> list[str]:
    return summary_sections(state, continuation).lines()


def summary_sections(state: RunState, continuation: str | None) -> SummarySections:
    sections = SummarySections(
        f"run {state.run_id} ({state.workflow}): {state.status}"
        + (f" — {_clip(state.reason)}" if state.reason else "")
        + f" after {format_duration(state.active_ms / 1000)}"
    )
    if state.nothing_ran:
        reasons = "; ".join(f"{r.id}: {r.reason or 'skipped'}" for r in state.steps.values())
        sections.status = _clip(f"nothing to {state.workflow} here: {reasons}")
    for record in state.steps.values():
        took = format_duration((record.duration_ms or 0) / 1000)
        line = f"  {record.status:<10} {record.id} ({took}, {record.attempts} attempt(s))"
        if record.status is StepStatus.SKIPPED and record.reason:
            line += f": {_clip(record.reason)}"
        if record.status is StepStatus.SUCCEEDED and _output_summary(record.output):
            line += f": {_output_summary(record.output)}"
        sections.steps.append(line)
        if record.status in (StepStatus.FAILED, StepStatus.TIMED_OUT):
            # A multi-line error is the step's own account (first line, then its findings,
            # e.g. failing tests); otherwise the first lines of its output are the hint.
            story, *details = str(record.error).splitlines() or [""]
            sections.steps.append(f"    error: {_clip(story)}")
            details = details[:_DETAIL_LINES] or _first_lines(record.partial)
            sections.steps.extend(f"    | {_clip(text)}" for text in details)
        for problem in record.cleanup_errors:
            sections.steps.append(f"    cleanup: {_clip(str(problem))}")
    waiting = state.waiting_steps
    for record in waiting[:_HAND_IN_LINES]:
        where = _request(record).get("instruction_file")
        sections.waiting.append(
            f"  {record.id} is waiting for a result" + (f"; read {where}" if where else "")
        )
    if len(waiting) > _HAND_IN_LINES:
        sections.waiting.append(f"  ... and {len(waiting) - _HAND_IN_LINES} more waiting steps")
    if len(waiting) == 1:
        where = _request(waiting[0]).get("instruction_file")
        sections.instruction_file = where if isinstance(where, str) else None
        sections.instruction = _instruction_lines(_request(waiting[0]))
    sections.closing = _closing_lines(state, continuation, waiting)
    return sections


def _closing_lines(
    state: RunState, continuation: str | None, waiting: list[StepRecord]
) -> list[str]:
    if state.status is RunStatus.SUCCEEDED:
        return []
    if state.status in (RunStatus.FAILED, RunStatus.TIMED_OUT):
        return [
            f"  {state.status}: fix the failures above, then start a new run; "
            f"`tether show {state.run_id}` has every step's output"
        ]
    if continuation is None:
        return []
    if not waiting:
        return [continuation]
    own = _request(waiting[0]).get("resume")
    if len(waiting) == 1 and isinstance(own, str):
        return [own]  # the step's own command, verbatim: the instruction ends with it too
    commands = [_hand_in_command(continuation, record, len(waiting) > 1) for record in waiting]
    lines = [
        f"  to hand in {record.id}'s result: {command}"
        for record, command in zip(waiting[:-1], commands[:-1], strict=True)
    ]
    if len(lines) > _HAND_IN_LINES:
        left = len(lines) - _HAND_IN_LINES
        more = f"  ... {left} more waiting steps; `tether show {state.run_id} --json` lists them"
        lines = [*lines[:_HAND_IN_LINES], more]
    return [*lines, commands[-1]]


def _output_summary(output: Any) -> str:
    """A step's own one-line account of a success (`summary` in its output), if any."""
    summary = output.get("summary") if isinstance(output, dict) else None
    return _clip(summary.splitlines()[0]) if isinstance(summary, str) and summary else ""


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


def _clip(text: str) -> str:
    return text if len(text) <= _LINE_CHARS else text[:_LINE_CHARS] + " ... (cut)"
