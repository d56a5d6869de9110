"""Progress and the summary as plain lines, for pipes and chat agents, within a fixed size.

Chat tools cut long command output. Claude Code (2.1.x) replaces any Bash output over
30,000 characters with a ~2 KB head and a file path, and keeps only ~5,000 characters at
each end of a failed command's output (any non-zero exit, so 1 and 3 too) once it passes
about 10,700; an agent would then miss the last line it must act on, or the instruction in
the middle. One invocation's output therefore stays within OUTPUT_LIMIT characters
whatever the workflow prints:
- the first line names the run and the continuation (when only a head survives, the
  agent still knows how to continue);
- progress lines stop after PROGRESS_LIMIT characters, with a note;
- the summary's step details and the instruction are cut to the room left, with notes
  naming `tether show` and the instruction file;
- the status line, the waiting lines and the closing lines are always printed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from tether.cli.summary import SummarySections, summary_sections
from tether.engine.durations import format_duration
from tether.engine.events import Event, EventType
from tether.engine.state import RunState

OUTPUT_LIMIT = 10_000
PROGRESS_LIMIT = 3_000
_NOTE_ROOM = 200
"""Characters kept back for each note that says what was cut."""


class PlainRenderer:
    """An event subscriber that prints progress lines, then `finish` prints the summary.

    `continuation(run_id)` gives the command that continues the run; it goes in the header
    line, printed once, at the first event or at `finish`.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        continuation: Callable[[str], str] | None = None,
        limit: int = OUTPUT_LIMIT,
        progress_limit: int = PROGRESS_LIMIT,
    ) -> None:
        self.stream = stream or sys.stdout
        self.started = time.monotonic()
        self.continuation = continuation
        self.limit = limit
        self.progress_limit = min(progress_limit, limit // 2)
        self.written = 0
        self.headed = False
        self.progress_cut = 0

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
        self.written += len(text) + 1

    def _continue_with(self, run_id: str) -> str:
        """The header's words: said once, on the first line that names the run."""
        if self.headed or self.continuation is None:
            return ""
        self.headed = True
        return f"; on exit 3 continue with: {self.continuation(run_id)}"

    def _header(self, run_id: str) -> None:
        words = self._continue_with(run_id)
        if words:
            self._write(f"run {run_id}{words}")

    def _line(self, text: str) -> None:
        line = f"[{time.monotonic() - self.started:6.1f}s] {text}"
        if self.progress_cut or self.written + len(line) + _NOTE_ROOM > self.progress_limit:
            if not self.progress_cut:
                self._write("[progress cut here to keep this output short]")
            self.progress_cut += 1
            return
        self._write(line)

    def __call__(self, event: Event) -> None:
        data = event.data
        if event.type not in (EventType.RUN_STARTED, EventType.RUN_RESUMED):
            self._header(event.run_id)
        match event.type:
            case EventType.RUN_STARTED:
                workflow = data.get("workflow")
                self._line(
                    f"run {event.run_id} started (workflow {workflow})"
                    + self._continue_with(event.run_id)
                )
            case EventType.RUN_RESUMED:
                self._line(f"run {event.run_id} resumed" + self._continue_with(event.run_id))
            case EventType.STEP_STARTED:
                attempt = data.get("attempt", 1)
                suffix = f" (attempt {attempt})" if attempt > 1 else ""
                self._line(f"{event.step}: started{suffix}")
            case EventType.STEP_RETRY:
                delay = data.get("delay", 0)
                self._line(f"{event.step}: retrying in {delay:.1f}s after: {data.get('error')}")
            case EventType.STEP_WAITING:
                self._line(f"{event.step}: waiting for a result")
            case EventType.STEP_FINISHED:
                status = data.get("status")
                took = format_duration((data.get("duration_ms") or 0) / 1000)
                detail = data.get("error") or data.get("reason")
                if isinstance(detail, str):
                    detail = detail.partition("\n")[0]  # the rest is in the summary
                self._line(f"{event.step}: {status} ({took})" + (f": {detail}" if detail else ""))
            case _:
                pass

    def finish(self, state: RunState, continuation: str | None) -> None:
        """The summary, cut to what is left of the limit; its closing lines always whole."""
        self._header(state.run_id)
        for line in bounded_summary(
            summary_sections(state, continuation), state.run_id, self.limit - self.written
        ):
            self._write(line)


def bounded_summary(sections: SummarySections, run_id: str, room: int) -> list[str]:
    """The summary's lines within `room` characters (newlines counted), cutting the step
    details and the instruction first; the status, waiting and closing lines stay whole."""
    fixed = [sections.status, *sections.waiting, *sections.closing]
    flexible = room - _size(fixed)
    steps, instruction = sections.steps, sections.instruction
    if _size(steps) + _size(instruction) > flexible:
        # Half the room each, and what one of them does not need goes to the other.
        half = max(0, flexible // 2)
        step_room = max(half, flexible - _size(instruction))
        steps = _cut(steps, step_room, f"  ... cut; `tether show {run_id}` has every step")
        where = sections.instruction_file or f"`tether show {run_id}`"
        instruction = _cut(
            instruction, flexible - _size(steps), f"... (instruction cut; read {where})"
        )
    return [sections.status, *steps, *sections.waiting, *instruction, *sections.closing]


def _cut(lines: list[str], room: int, note: str) -> list[str]:
    if _size(lines) <= room:
        return lines
    kept: list[str] = []
    used = len(note) + 1
    for line in lines:
        if used + len(line) + 1 > room:
            break
        kept.append(line)
        used += len(line) + 1
    return [*kept, note] if used <= room else []


def _size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)
