"""Live progress on a terminal: a table of steps that redraws in place (rich)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from tether.engine.durations import format_duration
from tether.engine.events import Event, EventType

_STYLE = {
    "pending": "dim",
    "running": "cyan",
    "succeeded": "green",
    "failed": "red",
    "timed_out": "red",
    "cancelled": "yellow",
    "skipped": "dim",
    "waiting": "magenta",
}


class RichRenderer:
    def __init__(self, title: str, step_ids: list[str]) -> None:
        self.console = Console()
        self.title = title
        self.rows: dict[str, dict[str, Any]] = {
            step: {"status": "pending", "started": None, "took": None, "last": ""}
            for step in step_ids
        }
        self.live = Live(self._table(), console=self.console, refresh_per_second=8, transient=False)

    def __enter__(self) -> RichRenderer:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(self._table())
        self.live.__exit__(None, None, None)

    def __call__(self, event: Event) -> None:
        if event.step is None or event.step not in self.rows:
            return
        row = self.rows[event.step]
        match event.type:
            case EventType.STEP_STARTED:
                row.update(status="running", started=time.monotonic(), took=None)
            case EventType.STEP_OUTPUT:
                row["last"] = str(event.data.get("item", ""))[-80:]
            case EventType.STEP_WAITING:
                row["status"] = "waiting"
            case EventType.STEP_FINISHED:
                row["status"] = event.data.get("status")
                row["took"] = (event.data.get("duration_ms") or 0) / 1000
                detail = event.data.get("error") or event.data.get("reason") or ""
                row["last"] = str(detail).partition("\n")[0]  # the rest is in the summary
            case _:
                return
        self.live.update(self._table())

    def _table(self) -> Table:
        table = Table(title=self.title, expand=False)
        table.add_column("step")
        table.add_column("status")
        table.add_column("time", justify="right")
        table.add_column("last output", overflow="ellipsis", max_width=80, no_wrap=True)
        for step, row in self.rows.items():
            took = row["took"]
            if took is None and row["started"] is not None:
                took = time.monotonic() - row["started"]
            status = str(row["status"])
            table.add_row(
                step,
                f"[{_STYLE.get(status, '')}]{status}[/]",
                format_duration(took) if took is not None else "",
                row["last"],
            )
        return table
