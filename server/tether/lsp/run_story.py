"""What a run's events mean to a person watching: one short message per transition.

Pure and synchronous, so progress, log lines and status notifications all tell the same
story, for runs of this server and for CLI runs followed through their journals alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tether.engine.events import Event, EventType

_TERMINAL_STEP = frozenset({"succeeded", "failed", "timed_out", "cancelled", "skipped"})


@dataclass
class Transition:
    message: str
    step: str | None = None
    ended: bool = False
    """The run finished or paused: this is the last message."""
    status: str | None = None
    """The run's status when `ended`."""


@dataclass
class RunStory:
    run_id: str
    workflow: str = ""
    total: int = 0
    finished: set[str] = field(default_factory=set)
    running: dict[str, float] = field(default_factory=dict)
    item_progress: tuple[int, int] | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def percentage(self) -> int:
        if self.item_progress is not None:
            index, total = self.item_progress
            return min(100, round(100 * index / total)) if total else 0
        return min(100, round(100 * len(self.finished) / self.total)) if self.total else 0

    def apply(self, event: Event) -> Transition | None:
        """The message for `event`, or None when it is not a transition worth reporting."""
        data = event.data
        step = event.step
        match event.type:
            case EventType.RUN_STARTED | EventType.RUN_RESUMED:
                self.workflow = str(data.get("workflow") or self.workflow)
                hashes = data.get("step_hashes")
                if isinstance(hashes, dict):
                    self.total = len(hashes)
                verb = "started" if event.type is EventType.RUN_STARTED else "resumed"
                return Transition(f"{verb} ({self.total} steps)")
            case EventType.STEP_STARTED:
                self.running[str(step)] = time.monotonic()
                attempt = int(data.get("attempt", 1) or 1)
                suffix = f" (attempt {attempt})" if attempt > 1 else ""
                return Transition(f"{step} started{suffix}", step)
            case EventType.STEP_RETRY:
                return Transition(
                    f"{step} retrying in {data.get('delay')}s: {_short(data.get('error'))}", step
                )
            case EventType.STEP_WAITING:
                self.running.pop(str(step), None)
                return Transition(f"{step} waiting for a result", step)
            case EventType.STEP_OUTPUT:
                return self._item(data.get("item"), step)
            case EventType.STEP_FINISHED:
                self.running.pop(str(step), None)
                status = str(data.get("status", ""))
                if status in _TERMINAL_STEP:
                    self.finished.add(str(step))
                text = f"{step} {status.replace('_', ' ')}"
                if data.get("duration_ms") is not None and status != "skipped":
                    text += f" in {_seconds(data['duration_ms'])}"
                if data.get("error") and status != "succeeded":
                    text += f": {_short(data.get('error'))}"
                return Transition(text, step)
            case EventType.RUN_PAUSED | EventType.RUN_FINISHED:
                status = str(data.get("status", "failed"))
                text = status.replace("_", " ")
                if data.get("reason") and data.get("reason") != status:
                    text += f": {_short(data.get('reason'))}"
                return Transition(text, ended=True, status=status)
        return None

    def _item(self, item: Any, step: str | None) -> Transition | None:
        # Partial output items that count through a list (the docs step's per-library
        # items) are progress in their own right: "3/12 httpx".
        if not isinstance(item, dict):
            return None
        index, total = item.get("index"), item.get("total")
        if not isinstance(index, int) or not isinstance(total, int):
            return None
        self.item_progress = (index, total)
        label = item.get("library") or item.get("name") or ""
        status = item.get("status")
        text = f"{index}/{total} {label}".rstrip()
        if status and status not in ("fetched", "fresh"):
            text += f" ({status})"
        return Transition(text, step)

    def heartbeat(self) -> str:
        """The periodic report while nothing transitions."""
        elapsed = _seconds(1000 * (time.monotonic() - self.started))
        if self.running:
            return f"running {', '.join(sorted(self.running))} · {elapsed}"
        return f"working · {elapsed}"


def _seconds(milliseconds: Any) -> str:
    value = float(milliseconds) / 1000
    if value < 1:
        return f"{round(value * 1000)}ms"
    return f"{value:.1f}s" if value < 60 else f"{int(value // 60)}m{int(value % 60):02d}s"


def _short(text: Any, limit: int = 120) -> str:
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
