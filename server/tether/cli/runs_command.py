"""`tether runs`, `tether show RUN_ID` and `tether cancel RUN_ID`: the runs on disk."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tether.cli.errors import fail
from tether.cli.workspace import resolve_workspace

if TYPE_CHECKING:
    from tether.engine.state import RunState

_OUTPUT_CHARS = 500
_PARTIAL_ITEMS = 10

_workspace_option = click.option("-C", "directory", default=".", help="Workspace directory.")


def _checked_run_id(run_id: str) -> str:
    from tether.engine.errors import RunIdError
    from tether.engine.runids import validate_run_id

    try:
        return validate_run_id(run_id)  # before any path is formed from it
    except RunIdError as error:
        fail(str(error))


@click.command("runs")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
@_workspace_option
def runs(as_json: bool, directory: str) -> None:
    """List this workspace's runs, newest first."""
    import asyncio

    from tether.engine import run_operations as ops
    from tether.engine.durations import format_duration

    summaries = asyncio.run(ops.list_runs(resolve_workspace(directory)))
    now = time.time()
    if as_json:
        from tether.cli.output import print_json

        print_json([summary.to_json(now) for summary in summaries])
        return
    if not summaries:
        click.echo("no runs")
        return
    rows = [
        (
            summary.id,
            summary.workflow or "?",
            summary.status + (f" (pid {summary.owner_pid})" if summary.live else ""),
            format_duration(summary.age(now)) + " ago",
            format_duration(summary.duration_ms / 1000),
        )
        for summary in summaries
    ]
    header = ("RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    for summary in summaries:
        if summary.error:
            click.echo(f"{summary.id}: {summary.error}")


@click.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_workspace_option
def show(run_id: str, as_json: bool, directory: str) -> None:
    """Show one run: every step's status, attempts, duration, output and errors."""
    import asyncio

    from tether.engine import run_operations as ops

    run_id = _checked_run_id(run_id)
    workspace = resolve_workspace(directory)
    cwd = Path.cwd().resolve()
    try:
        view = asyncio.run(
            ops.show_run(
                workspace, run_id, command_workspace=None if workspace == cwd else workspace
            )
        )
    except (ops.RunNotFound, ops.JournalError) as error:
        fail(str(error))
    if as_json:
        from tether.cli.output import print_json

        print_json(view.state.to_json(view.continuation))
        return
    for line in _describe(view.state, view.owner.pid if view.owner else None):
        click.echo(line)
    if view.continuation:
        click.echo(view.continuation)


def _describe(state: RunState, owner_pid: int | None) -> list[str]:
    from tether.engine.durations import format_duration

    status = f"{state.status}" + (f" — {state.reason}" if state.reason else "")
    if owner_pid is not None:
        status += f" (live in process {owner_pid})"
    lines = [
        f"run {state.run_id}",
        f"  workflow: {state.workflow}",
        f"  status:   {status}",
        f"  active:   {format_duration(state.active_ms / 1000)}",
    ]
    if state.params:
        lines.append(f"  params:   {_short(state.params)}")
    for record in state.steps.values():
        took = format_duration((record.duration_ms or 0) / 1000)
        lines.append(f"  {record.id}: {record.status} ({took}, {record.attempts} attempt(s))")
        if record.reason:
            lines.append(f"    reason:  {record.reason}")
        if record.error:
            lines.append(f"    error:   {record.error}")
        if record.output is not None:
            lines.append(f"    output:  {_short(record.output)}")
        if record.partial:
            shown = record.partial[-_PARTIAL_ITEMS:]
            more = len(record.partial) - len(shown)
            lines.append(
                f"    partial: {len(record.partial)} item(s)"
                + (f", last {len(shown)}:" if more else ":")
            )
            lines.extend(f"      | {_short(item)}" for item in shown)
        if record.waiting is not None:
            lines.append(f"    waiting: {_short(record.waiting)}")
        lines.extend(f"    cleanup: {problem}" for problem in record.cleanup_errors)
    return lines


def _short(value: Any) -> str:
    import orjson

    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    text = text.replace("\n", "\\n")
    return text if len(text) <= _OUTPUT_CHARS else text[:_OUTPUT_CHARS] + "…"


@click.command("cancel")
@click.argument("run_id")
@_workspace_option
def cancel(run_id: str, directory: str) -> None:
    """Cancel RUN_ID: stop it if it runs in another process, or mark a paused run cancelled."""
    import asyncio

    from tether.engine import run_operations as ops
    from tether.engine.runs import CancelOutcome

    run_id = _checked_run_id(run_id)
    workspace = resolve_workspace(directory)
    try:
        result = asyncio.run(ops.cancel_run(workspace, run_id))
    except (ops.RunNotFound, ops.ResumeRefused, ops.JournalError) as error:
        fail(str(error))
    if result.outcome is CancelOutcome.CANCELLED:
        click.echo(f"run {run_id} cancelled")
        return
    owner = f"process {result.owner_pid}" if result.owner_pid else "its process"
    click.echo(f"cancel requested: {owner} is stopping run {run_id} (its cleanup runs first)")
