"""`tether run` and `tether resume`: one invocation with progress and exit codes.

With `--budget` (or `--detach`) the run lives in a detached owner process and this
invocation only follows it: at the budget it exits 3 with the run still running and the
continuation (`tether resume RUN_ID --budget 50s`) as its last line. Without them the run
runs here, in the foreground, as it always did; `--on-budget pause` keeps the old budget
(the run itself pauses at the budget, resumably).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    from tether.engine.events import Event
    from tether.engine.execution import Execution
    from tether.engine.run_operations import Outcome
    from tether.engine.state import RunState

ON_BUDGET = ("continue", "pause")


def parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"-p expects KEY=VALUE, got {pair!r}")
        params[key.strip()] = value
    return params


EXIT_RESERVE = 0.2
"""Seconds of the budget kept for printing the outcome and exiting."""


def budget_left(budget: float | None) -> float | None:
    """What is left of the invocation's budget: start-up, starting the run, and printing
    the outcome at the end all count, so the invocation returns within its budget."""
    if budget is None:
        return None
    from tether.cli.main import STARTED

    return max(0.0, budget - (time.monotonic() - STARTED) - EXIT_RESERVE)


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
    from tether.engine.runner import StopReason

    continuation_for = continuation_with(budget, workspace)
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


def command_workspace(workspace: Path) -> Path | None:
    """The `-C` a printed command needs: none when the workspace is the current directory."""
    return None if workspace == Path.cwd().resolve() else workspace


def continuation_with(budget: float | None, workspace: Path) -> Callable[[str], str]:
    """run id -> the continuation this invocation prints (its budget, its -C)."""
    from tether.engine.run_operations import continuation

    return lambda run_id: continuation(
        run_id, budget=budget, workspace=command_workspace(workspace)
    )


@dataclass
class Waiting:
    """What a following invocation knows about the run it follows."""

    run_id: str | None = None
    started_here: bool = False
    """This invocation started the run's current owner (Ctrl-C may then stop the run)."""


Operation = Callable[["Callable[[Event], None]", Waiting], Awaitable["Outcome"]]


def follow_detached(
    workspace: Path,
    operation: Operation,
    waiting: Waiting,
    *,
    title: str,
    step_ids: list[str],
    as_json: bool,
    continuation: Callable[[str], str],
) -> None:
    """Follow a run that a detached owner runs, until it ends or the budget is spent;
    print the outcome with the continuation as the last line; exit with its code.

    Ctrl-C at a terminal, when this invocation started the owner, stops the run as in the
    foreground (it pauses, resumably; exit 130). Otherwise Ctrl-C only stops the waiting
    (exit 130): the run goes on, and the printed continuation picks it up.
    """
    from tether.engine import run_operations as ops

    renderer = _renderer(title, step_ids, as_json, continuation)
    interrupts = 0

    async def main() -> Outcome | None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(operation(renderer or _ignore, waiting))

        def on_interrupt() -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts > 1:
                os._exit(EXIT_INTERRUPTED)  # a second Ctrl-C means now
            stop_run = waiting.started_here and sys.stdin.isatty()
            if not (stop_run and waiting.run_id and ops.interrupt_run(workspace, waiting.run_id)):
                task.cancel()

        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        try:
            return await task
        except asyncio.CancelledError:
            return None
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    try:
        with renderer if hasattr(renderer, "__enter__") else contextlib.nullcontext():
            outcome = _run_loop(main())
    except ops.OwnerStartError as error:
        fail(str(error))
    except (ops.ResumeRefused, ops.RunNotFound, ops.JournalError) as error:
        fail(str(error))
    if outcome is None:  # Ctrl-C while only waiting: the run goes on
        assert waiting.run_id is not None
        click.echo(f"stopped waiting; run {waiting.run_id} goes on", err=True)
        click.echo(continuation(waiting.run_id))
        sys.exit(EXIT_INTERRUPTED)
    _report(outcome, renderer, as_json)
    code = outcome.exit_code
    if interrupts and outcome.kind is ops.OutcomeKind.STOPPED:
        code = EXIT_INTERRUPTED
    sys.exit(code)


def _ignore(_event: Event) -> None:
    return None


def _renderer(title: str, step_ids: list[str], as_json: bool, continuation: Any) -> Any:
    """The progress subscriber: rich on a terminal, plain lines otherwise, none for JSON."""
    if as_json:
        return None
    if sys.stdout.isatty():
        from tether.cli.render_rich import RichRenderer

        return RichRenderer(title, step_ids)
    from tether.cli.render_plain import PlainRenderer

    return PlainRenderer(continuation=continuation)


def _report(outcome: Outcome, renderer: Any, as_json: bool) -> None:
    if as_json:
        from tether.cli.output import print_json

        print_json(outcome.to_json())
        return
    from tether.cli.render_plain import PlainRenderer

    if isinstance(renderer, PlainRenderer):
        renderer.finish(outcome.state, outcome.continuation)  # bounded for chat tools
        return
    from tether.cli.summary import summary_lines

    click.echo("\n".join(summary_lines(outcome.state, outcome.continuation)))


def _run_loop(coroutine: Any) -> Any:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        # Deliberately no cancel-and-gather of leftover tasks (asyncio.run would): an
        # abandoned step that ignores cancellation would make that wait forever.
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        if not pending:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


_budget_option = click.option(
    "--budget",
    metavar="DURATION",
    help="Wait at most this long, e.g. 50s; the run goes on in the background (exit 3).",
)
_on_budget_option = click.option(
    "--on-budget",
    type=click.Choice(ON_BUDGET),
    default="continue",
    show_default=True,
    help="At the budget: keep the run going in the background, or pause it (resumable).",
)
_detach_option = click.option(
    "--detach", is_flag=True, help="Run in the background even without --budget."
)


@click.command("run")
@click.argument("workflow")
@click.option("-p", "params", multiple=True, metavar="KEY=VALUE", help="Set a parameter.")
@_budget_option
@_on_budget_option
@_detach_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
@click.option("-C", "directory", default=".", help="Workspace directory.")
def run(
    workflow: str,
    params: tuple[str, ...],
    budget: str | None,
    on_budget: str,
    detach: bool,
    as_json: bool,
    directory: str,
) -> None:
    """Run WORKFLOW in the workspace."""
    start_workflow(
        workflow,
        parse_params(params),
        budget,
        as_json,
        directory,
        detach=detach,
        on_budget=on_budget,
    )


def start_workflow(
    workflow: str,
    overrides: dict[str, str],
    budget: str | None,
    as_json: bool,
    directory: str,
    *,
    detach: bool = False,
    on_budget: str = "continue",
) -> None:
    """Load WORKFLOW and start a new run of it: in the foreground (no budget, or
    `--on-budget pause`) driven to its end or a pause; otherwise in a detached owner,
    followed for at most the budget."""
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
    pause = on_budget == "pause" and budget_seconds is not None
    if (budget_seconds is not None or detach) and not pause:
        prepared = (spec, values, kinds, Durability(config.runs.durability))
        _start_detached(
            workspace,
            workflow,
            overrides,
            spec.name,
            [s.id for s in spec.steps],
            budget_seconds,
            as_json=as_json,
            prepared=prepared,
        )
        return
    execution = Execution.new(
        spec,
        values,
        workspace,
        kinds,
        budget=budget_seconds,
        durability=Durability(config.runs.durability),
    )
    drive(execution, as_json=as_json, budget=budget_seconds, workspace=workspace)


def _start_detached(
    workspace: Path,
    workflow: str,
    overrides: dict[str, str],
    name: str,
    step_ids: list[str],
    budget: float | None,
    *,
    as_json: bool,
    prepared: Any,
) -> None:
    from tether.engine import run_operations as ops

    try:
        # Before any event loop or thread exists: the owner is forked, not spawned.
        run_id = ops.begin_detached(workspace, workflow, overrides, name=name, prepared=prepared)
    except ops.OwnerStartError as error:
        fail(str(error))
    waiting = Waiting(run_id, started_here=True)
    if budget is None:  # --detach alone: say where the run is, and go
        command = ops.continuation(run_id, workspace=command_workspace(workspace))
        if as_json:
            from tether.cli.output import print_json

            print_json({"run_id": run_id, "status": "running", "resume_command": command})
        else:
            click.echo(f"run {run_id} started in the background")
            click.echo(command)
        sys.exit(EXIT_RESUMABLE)

    async def operation(on_event: Callable[[Event], None], waiting: Waiting) -> Outcome:
        return await ops.wait_run(
            workspace,
            run_id,
            budget=budget_left(budget),
            continuation_budget=budget,
            after_seq=0,
            on_event=on_event,
            command_workspace=command_workspace(workspace),
        )

    follow_detached(
        workspace,
        operation,
        waiting,
        title=f"{name} · {run_id}",
        step_ids=step_ids,
        as_json=as_json,
        continuation=continuation_with(budget, workspace),
    )


@click.command("resume")
@click.argument("run_id")
@_budget_option
@_on_budget_option
@_detach_option
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
    on_budget: str,
    detach: bool,
    result_text: str | None,
    result_file: str | None,
    step_id: str | None,
    force: bool,
    as_json: bool,
    directory: str,
) -> None:
    """Continue RUN_ID: wait on it while it runs, resume it where it stopped, or hand a
    waiting step its result. Finished steps never run again."""
    from tether.engine.errors import RunIdError
    from tether.engine.journal import JournalError
    from tether.engine.runids import validate_run_id
    from tether.engine.runs import RunNotFound, load_run

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
    from tether.engine.platform import lock_owner
    from tether.engine.runids import run_dir
    from tether.engine.runs import LOCK_NAME
    from tether.engine.state import RunState

    owner = lock_owner(run_dir(workspace, run_id) / LOCK_NAME)
    try:
        state, owner = load_run(workspace, run_id)
    except JournalError as error:
        if owner is None:
            fail(str(error))
        state = RunState(run_id)  # live, its first line not written yet: attach anyway
    except RunNotFound as error:
        fail(str(error))
    pause = on_budget == "pause" and budget_seconds is not None
    if owner is not None or ((budget_seconds is not None or detach) and not pause):
        _continue_detached(
            workspace,
            run_id,
            list(state.steps),
            state.workflow,
            budget_seconds,
            result=result,
            step_id=step_id,
            force=force,
            as_json=as_json,
        )
        return
    _resume_here(workspace, run_id, config, budget_seconds, result, step_id, force, as_json)


def _continue_detached(
    workspace: Path,
    run_id: str,
    step_ids: list[str],
    workflow: str,
    budget: float | None,
    *,
    result: str | None,
    step_id: str | None,
    force: bool,
    as_json: bool,
) -> None:
    from tether.engine import run_operations as ops

    waiting = Waiting(run_id)

    async def operation(on_event: Callable[[Event], None], waiting: Waiting) -> Outcome:
        def started(_request: ops.OwnerRequest) -> None:
            waiting.started_here = True

        extra: dict[str, Any] = {} if result is None else {"result": result, "step": step_id}
        return await ops.resume_run(
            workspace,
            run_id,
            budget=budget_left(budget),
            continuation_budget=budget,
            force=force,
            on_event=on_event,
            on_started=started,
            command_workspace=command_workspace(workspace),
            **extra,
        )

    follow_detached(
        workspace,
        operation,
        waiting,
        title=f"{workflow} · {run_id}",
        step_ids=step_ids,
        as_json=as_json,
        continuation=continuation_with(budget, workspace),
    )


def _resume_here(
    workspace: Path,
    run_id: str,
    config: Any,
    budget: float | None,
    result: str | None,
    step_id: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Resume a stopped run in this process (no budget, or `--on-budget pause`)."""
    from tether.engine.journal import Durability, JournalError
    from tether.engine.platform import LockHeld
    from tether.engine.run_operations import OwnerRequest, open_execution
    from tether.engine.runs import ResumeRefused, RunNotFound

    try:
        execution = open_execution(
            workspace,
            OwnerRequest(str(workspace), run_id, force=force, budget=budget),
            kinds=step_kinds(config),
            durability=Durability(config.runs.durability),
        )
    except LockHeld:
        # Taken by another process since we looked: wait on it, as on any live run.
        _continue_detached(
            workspace,
            run_id,
            [],
            "",
            None,
            result=result,
            step_id=step_id,
            force=force,
            as_json=as_json,
        )
        return
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
    drive(execution, as_json=as_json, budget=budget, workspace=workspace)
