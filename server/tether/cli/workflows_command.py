"""`tether workflows`: what can run here, built-in and project workflows."""

from __future__ import annotations

from pathlib import Path

import click

from tether.cli.errors import fail
from tether.cli.output import print_json
from tether.cli.settings import load_settings, step_kinds


@click.command("workflows")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
@click.option("-C", "directory", default=".", type=click.Path(file_okay=False), help="Workspace.")
def workflows(as_json: bool, directory: str) -> None:
    """List the workflows available in this workspace."""
    from tether.engine.errors import WorkflowError
    from tether.engine.loader import BUILTIN_DIR, find_workflows, load_workflow

    workspace = Path(directory).resolve()
    kinds = step_kinds(load_settings(workspace))
    rows = []
    for name, path in sorted(find_workflows(workspace).items()):
        source = "builtin" if path.parent == BUILTIN_DIR else str(path.relative_to(workspace))
        try:
            spec = load_workflow(path, kinds)
            rows.append({"name": name, "description": spec.description, "source": source})
        except WorkflowError as error:
            rows.append({"name": name, "description": "", "source": source, "error": str(error)})
    if as_json:
        print_json(rows)
        return
    width = max((len(row["name"]) for row in rows), default=0)
    for row in rows:
        text = (row.get("error") and f"(invalid: {row['error']})") or row["description"]
        click.echo(f"{row['name']:<{width}}  {text}  [{row['source']}]")
    if not rows:
        fail("no workflows found", 1)
