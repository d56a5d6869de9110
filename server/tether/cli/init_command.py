"""`tether init`: install the skill pack (Claude Code skills, Cursor rules and commands, an
AGENTS.md section) or, with --mcp, the MCP server entries into a workspace, saying what it
did to each file. Either way `.tether/runs/` is added to the workspace's `.gitignore`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tether.cli.errors import EXIT_FAILED, EXIT_OK, fail
from tether.cli.workspace import resolve_workspace

if TYPE_CHECKING:
    from tether.pack.install import InstallReport

_ACTION_WIDTH = 12


@click.command("init")
@click.option("--claude", is_flag=True, help="Install the Claude Code skills (.claude/skills/).")
@click.option(
    "--cursor", is_flag=True, help="Install the Cursor rule and commands (.cursor/) and AGENTS.md."
)
@click.option(
    "--mcp",
    is_flag=True,
    help="Instead of the skill pack, add tether's MCP server to .mcp.json (Claude Code) "
    "and .cursor/mcp.json (Cursor).",
)
@click.option("--force", is_flag=True, help="Replace files you changed with the pack's version.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("-C", "directory", default=".", metavar="DIR", help="Workspace directory.")
def init(claude: bool, cursor: bool, mcp: bool, force: bool, as_json: bool, directory: str) -> None:
    """Install tether's skill pack into the workspace (both editors when no flag is given),
    or with --mcp its MCP server entry in each editor's MCP configuration.

    Safe to run again: files that already match are left alone, and files you changed are
    kept unless --force is given.
    """
    from tether.pack.gitignore import ensure_local_state_ignored
    from tether.pack.source import EDITORS

    workspace = resolve_workspace(directory)
    chosen = [name for name, flag in (("claude", claude), ("cursor", cursor)) if flag]
    if mcp:
        from tether.pack.mcp_config import install_mcp_config

        report = install_mcp_config(workspace, chosen or list(EDITORS), force=force)
    else:
        report = _install_pack(workspace, chosen or list(EDITORS), force)
    report.outcomes.append(ensure_local_state_ignored(workspace))
    if as_json:
        from tether.cli.output import print_json

        print_json(report.to_json())
    else:
        click.echo("\n".join(report_lines(report)))
    sys.exit(EXIT_FAILED if report.failed else EXIT_OK)


def _install_pack(workspace: Path, editors: list[str], force: bool) -> InstallReport:
    from tether.pack.install import install_pack
    from tether.pack.source import PackNotFound

    try:
        return install_pack(workspace, editors, force=force)
    except PackNotFound as error:
        fail(str(error), EXIT_FAILED)


def report_lines(report: InstallReport) -> list[str]:
    """One line per file, then notes, then a one-line verdict."""
    from tether.pack.install import CREATED, KEPT, MANIFEST_PATH, OVERWRITTEN, UNCHANGED, UPDATED

    lines = []
    for outcome in report.outcomes:
        label = "kept" if outcome.action == KEPT else outcome.action
        line = f"{label:<{_ACTION_WIDTH}}{outcome.path}"
        if outcome.action == KEPT:
            line += f" (user-modified: {outcome.detail})"
        elif outcome.detail:
            line += f" ({outcome.detail})"
        lines.append(line)
    lines += [f"note: {note}" for note in report.notes]
    if report.manifest_written and not report.wrote:
        lines.append(f"note: recorded the installed files in {MANIFEST_PATH}")
    counts = [
        f"{report.count(action)} {action}"
        for action in (CREATED, UPDATED, OVERWRITTEN, UNCHANGED, KEPT, "failed")
        if report.count(action)
    ]
    if report.failed:
        verdict = f"tether init: some files could not be installed ({', '.join(counts)})"
    elif report.wrote:
        verdict = f"tether init: {', '.join(counts)} in {report.workspace}"
    elif report.count(KEPT):
        verdict = (
            f"tether init: nothing written; {report.count(KEPT)} file(s) you changed were kept "
            "(--force replaces them)"
        )
    else:
        verdict = (
            f"tether init: nothing to write, the pack is already installed ({', '.join(counts)})"
        )
    lines.append(verdict)
    return lines
