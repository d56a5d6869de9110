"""`tether run` and `tether resume`: drive one invocation with progress and exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tether.cli.errors import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOTHING_RAN,
    EXIT_OK,
    EXIT_RESUMABLE,
    fail,
)
from tether.cli.settings import load_settings, step_kinds
from tether.cli.workspace import require_readable_project_files, resolve_workspace

if TYPE_CHECKING:
    from tether.engine.execution import Execution
    from tether.engine.state import RunState


def parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"-p expects KEY=VALUE, got {pair!r}")
        params[key.strip()] = value
    return params


def parse_budget(text: str | None) -> float | None:
    if text is None:
        return None
    from tether.engine.durations import parse_duration

    try:
        budget = parse_duration(text)
    except ValueError as error:
        fail(f"--budget: {error}")
    if budget <= 0:
        fail("--budget must be greater than zero")
    return budget


def exit_code_for(state: RunState) -> int:
    from tether.engine.state import RunStatus

    if state.nothing_ran:
        return EXIT_NOTHING_RAN
    if state.status is RunStatus.SUCCEEDED:
        return EXIT_OK
    if state.status is RunStatus.PAUSED and state.reason == "interrupted":
        return EXIT_INTERRUPTED
    if state.status in (RunStatus.PAUSED, RunStatus.WAITING):
        return EXIT_RESUMABLE
    if state.status is RunStatus.CANCELLED:
        return EXIT_CANCELLED
    return EXIT_FAILED


def drive(execution: Execution, *, as_json: bool, budget: float | None, workspace: Path) -> None:
    """Run to the end or a pause, render progress, print the outcome, exit with its code."""
    from tether.cli.render_plain import PlainRenderer
    from tether.cli.summary import summary_lines
    from tether.engine.runids import resume_command
    from tether.engine.runner import StopReason

    cwd = Path.cwd().resolve()
    command_workspace = None if workspace == cwd else workspace

    def continuation_for(run_id: str) -> str:
        return resume_command(run_id, budget=budget, workspace=command_workspace)

    live = None
    plain = None
    if not as_json:
        if sys.stdout.isatty():
            from tether.cli.render_rich import RichRenderer

            live = RichRenderer(
                f"{execution.spec.name} · {execution.run_id}", [s.id for s in execution.spec.steps]
            )
            execution.bus.subscribe(live)
        else:
            plain = PlainRenderer(continuation=lambda run_id: continuation_for(run_id))
            execution.bus.subscribe(plain)

    interrupts = 0

    def on_signal(_signal: int) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            os._exit(EXIT_INTERRUPTED)  # a second Ctrl-C means now
        execution.stop(StopReason.INTERRUPTED)

    def on_wake() -> None:
        execution.check_cancel_request()

    async def main() -> RunState:
        from tether.engine.platform import install_stop_signals, install_wake_signal
        from tether.steps.worktree import prune_stale_worktrees

        # Snapshots left by crashed runs go before this one starts (or resumes).
        await prune_stale_worktrees(workspace, current_run=execution.run_id)
        restore = install_stop_signals(on_signal)
        restore_wake = install_wake_signal(on_wake)
        execution.enable_wake()  # `tether cancel` may now signal us rather than wait a poll
        try:
            return await execution.run()
        finally:
            restore_wake()
            restore()

    with live if live is not None else contextlib.nullcontext():
        state = _run_loop(main())
    resume = continuation_for(state.run_id) if state.resumable else None
    if as_json:
        from tether.cli.output import print_json

        print_json(state.to_json(resume))
    elif plain is not None:
        plain.finish(state, resume)
    else:
        click.echo("\n".join(summary_lines(state, resume)))
    code = exit_code_for(state)
    if execution.runner.abandoned:
        # Abandoned step code cannot be stopped; exiting hard is the only way not to wait
        # for it (the interpreter would join its threads and tasks).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _run_loop(coroutine: object) -> RunState:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)  # type: ignore[arg-type]
    finally:
        # Deliberately no cancel-and-gather of leftover tasks (asyncio.run would): an
        # abandoned step that ignores cancellation would make that wait forever.
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        if not pending:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


@click.command("run")
@click.argument("workflow")
@click.option("-p", "params", multiple=True, metavar="KEY=VALUE", help="Set a parameter.")
@click.option("--budget", metavar="DURATION", help="Pause (resumably) after this long, e.g. 50s.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
@click.option("-C", "directory", default=".", help="Workspace directory.")
def run(
    workflow: str, params: tuple[str, ...], budget: str | None, as_json: bool, directory: str
) -> None:
    """Run WORKFLOW in the workspace."""
    start_workflow(workflow, parse_params(params), budget, as_json, directory)


def start_workflow(
    workflow: str, overrides: dict[str, str], budget: str | None, as_json: bool, directory: str
) -> None:
    """Load WORKFLOW, start a new run of it and drive it to its end or a pause."""
    from tether.engine.errors import WorkflowError
    from tether.engine.execution import Execution
    from tether.engine.journal import Durability
    from tether.engine.loader import apply_params, resolve_workflow
    from tether.engine.runs import prune_runs, reap_abandoned_runs

    workspace = resolve_workspace(directory)
    require_readable_project_files(workspace)
    budget_seconds = parse_budget(budget)
    config = load_settings(workspace)
    kinds = step_kinds(config)
    try:
        spec = resolve_workflow(workflow, workspace, kinds)
        values = apply_params(spec, overrides)
    except WorkflowError as error:
        fail(str(error))
    prune_runs(workspace, config.runs.keep)
    reap_abandoned_runs(workspace)
    execution = Execution.new(
        spec,
        values,
        workspace,
        kinds,
        budget=budget_seconds,
        durability=Durability(config.runs.durability),
    )
    drive(execution, as_json=as_json, budget=budget_seconds, workspace=workspace)


@click.command("resume")
@click.argument("run_id")
@click.option("--budget", metavar="DURATION", help="Pause (resumably) after this long, e.g. 50s.")
@click.option("--result", "result_text", metavar="TEXT", help="Result for the waiting step.")
@click.option(
    "--result-file",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Read the waiting step's result from FILE.",
)
@click.option("--step", "step_id", metavar="ID", help="Which waiting step the result is for.")
@click.option("--force", is_flag=True, help="Run finished steps whose definition changed again.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
@click.option("-C", "directory", default=".", help="Workspace directory.")
def resume(
    run_id: str,
    budget: str | None,
    result_text: str | None,
    result_file: str | None,
    step_id: str | None,
    force: bool,
    as_json: bool,
    directory: str,
) -> None:
    """Continue RUN_ID where it stopped; finished steps never run again."""
    from tether.engine.errors import RunIdError
    from tether.engine.execution import Execution
    from tether.engine.journal import Durability, JournalError
    from tether.engine.platform import LockHeld
    from tether.engine.runids import validate_run_id
    from tether.engine.runs import ResumeRefused, RunNotFound

    try:
        validate_run_id(run_id)  # before any path is formed from it
    except RunIdError as error:
        fail(str(error))
    workspace = resolve_workspace(directory)
    if result_text is not None and result_file is not None:
        fail("give --result or --result-file, not both")
    if step_id is not None and result_text is None and result_file is None:
        fail("--step names the step a --result is for; give --result or --result-file")
    result = result_text
    if result_file is not None:
        try:
            result = Path(result_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            fail(f"--result-file {result_file}: {error}")
    budget_seconds = parse_budget(budget)
    config = load_settings(workspace)
    try:
        execution = Execution.resume(
            workspace,
            run_id,
            step_kinds(config),
            budget=budget_seconds,
            force=force,
            durability=Durability(config.runs.durability),
        )
    except LockHeld as held:
        owner = f"process {held.pid}" if held.pid else "another process"
        fail(f"run {run_id} is running in {owner}; not resuming it twice")
    except (RunNotFound, ResumeRefused, JournalError) as error:
        fail(str(error))
    try:
        if result is not None:
            execution.hand_result(result, step_id)
    except ResumeRefused as error:
        execution.close()
        fail(str(error))
    if execution.already_succeeded:
        execution.close()
        if as_json:
            from tether.cli.output import print_json

            print_json(execution.state.to_json(None))
        else:
            click.echo(f"run {run_id} already succeeded; nothing to run")
        sys.exit(EXIT_OK)
    drive(execution, as_json=as_json, budget=budget_seconds, workspace=workspace)
