"""`tether workflows`: what can run here, built-in and project workflows."""

from __future__ import annotations

import click

from tether.cli.errors import fail
from tether.cli.output import print_json
from tether.cli.settings import load_settings, step_kinds
from tether.cli.workspace import resolve_workspace


@click.command("workflows")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
@click.option("-C", "directory", default=".", help="Workspace directory.")
def workflows(as_json: bool, directory: str) -> None:
    """List the workflows available in this workspace."""
    from tether.engine.catalog import list_workflows

    workspace = resolve_workspace(directory)
    kinds = step_kinds(load_settings(workspace))
    rows = [entry.to_json() for entry in list_workflows(workspace, kinds)]
    if as_json:
        print_json(rows)
        return
    width = max((len(row["name"]) for row in rows), default=0)
    for row in rows:
        text = (row.get("error") and f"(invalid: {row['error']})") or row["description"]
        click.echo(f"{row['name']:<{width}}  {text}  [{row['source']}]")
    if not rows:
        fail("no workflows found", 1)
