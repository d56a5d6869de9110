"""Progress as plain lines, for pipes and chat agents: one line per step transition."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tether.engine.durations import format_duration
from tether.engine.events import Event, EventType


class PlainRenderer:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.started = time.monotonic()

    def _line(self, text: str) -> None:
        self.stream.write(f"[{time.monotonic() - self.started:6.1f}s] {text}\n")
        self.stream.flush()

    def __call__(self, event: Event) -> None:
        data = event.data
        match event.type:
            case EventType.RUN_STARTED:
                self._line(f"run {event.run_id} started (workflow {data.get('workflow')})")
            case EventType.RUN_RESUMED:
                self._line(f"run {event.run_id} resumed")
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
                self._line(f"{event.step}: {status} ({took})" + (f": {detail}" if detail else ""))
            case _:
                pass
