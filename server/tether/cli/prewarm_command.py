"""`tether prewarm`: the built-in prewarm workflow, with the usual progress and exit codes."""

from __future__ import annotations

import click

from tether.cli.run_command import start_workflow


@click.command("prewarm")
@click.option("--budget", metavar="DURATION", help="Pause (resumably) after this long.")
@click.option("--libraries", default="", help="Comma-separated names; default: every dependency.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
@click.option("-C", "directory", default=".", help="Workspace directory.")
def prewarm(budget: str | None, libraries: str, as_json: bool, directory: str) -> None:
    """Fetch and cache docs for this workspace's dependencies (the prewarm workflow)."""
    start_workflow("prewarm", {"libraries": libraries}, budget, as_json, directory)
