"""`tether prewarm`: the built-in prewarm workflow, with the usual progress and exit codes."""

from __future__ import annotations

from pathlib import Path

import click

from tether.cli.errors import fail
from tether.cli.run_command import drive, parse_budget
from tether.cli.settings import load_settings, step_kinds


@click.command("prewarm")
@click.option("--budget", metavar="DURATION", help="Pause (resumably) after this long.")
@click.option("--libraries", default="", help="Comma-separated names; default: every dependency.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
@click.option("-C", "directory", default=".", help="Workspace directory.")
def prewarm(budget: str | None, libraries: str, as_json: bool, directory: str) -> None:
    """Fetch and cache docs for this workspace's dependencies."""
    from tether.engine.errors import WorkflowError
    from tether.engine.execution import Execution
    from tether.engine.journal import Durability
    from tether.engine.loader import apply_params, resolve_workflow

    workspace = Path(directory).resolve()
    if not workspace.is_dir():
        fail(f"-C {directory}: not a directory")
    budget_seconds = parse_budget(budget)
    config = load_settings(workspace)
    kinds = step_kinds(config)
    try:
        spec = resolve_workflow("prewarm", workspace, kinds)
        params = apply_params(spec, {"libraries": libraries})
    except WorkflowError as error:
        fail(str(error))
    execution = Execution.new(
        spec,
        params,
        workspace,
        kinds,
        budget=budget_seconds,
        durability=Durability(config.runs.durability),
    )
    drive(execution, as_json=as_json, budget=budget_seconds, workspace=workspace)
