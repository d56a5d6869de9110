"""`tether deps`: the workspace's detected dependencies, with versions where known."""

from __future__ import annotations

import click

from tether.cli.output import print_json
from tether.cli.settings import load_settings
from tether.cli.workspace import resolve_workspace


@click.command("deps")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "-C",
    "--directory",
    "directory",
    default=".",
    metavar="DIR",
    help="Workspace folder (default: the current one).",
)
def deps(as_json: bool, directory: str) -> None:
    """List the dependencies declared in this workspace's dependency files.

    Problems in those files are printed on stderr as `path:line: reason`, then notes
    (such as dynamic dependencies that were not read) as `note: ...`; neither changes
    the exit status. A workspace that declares no dependencies (and has no problems or
    notes to explain why) says so on stdout.
    """
    from tether.kb.deps import detect_dependencies
    from tether.project.environment import find_site_packages, installed_versions

    workspace = resolve_workspace(directory)
    config = load_settings(workspace)
    installed = installed_versions(find_site_packages(workspace, config.interpreter))
    detection = detect_dependencies(workspace, installed)
    if as_json:
        print_json(detection.to_json())
        return
    rows = [
        (
            dependency.name,
            dependency.spec or "-",
            dependency.version or "-",
            dependency.group,
            dependency.source
            if dependency.line is None
            else f"{dependency.source}:{dependency.line}",
        )
        for dependency in detection.dependencies
    ]
    if not rows and not detection.problems and not detection.notes:
        # Said outright: empty output reads as "something went wrong" (problems and notes,
        # such as dynamic dependencies, explain an empty list themselves).
        click.echo(
            f"no dependencies declared in {workspace} (read: pyproject.toml, setup.cfg, "
            "Pipfile, requirements*.txt, requirements/, package.json)"
        )
    widths = [max((len(row[column]) for row in rows), default=0) for column in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        click.echo("  ".join([*cells, row[4]]))
    for problem in detection.problems:
        click.echo(str(problem), err=True)
    for note in detection.notes:
        click.echo(f"note: {note}", err=True)
