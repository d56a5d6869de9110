"""`tether mcp`: serve tether's tools to an MCP client (Claude Code, Cursor) over stdio."""

from __future__ import annotations

import click

from tether.cli.workspace import resolve_workspace


@click.command("mcp")
@click.option("-C", "--directory", default=".", metavar="DIR", help="Workspace folder.")
def mcp(directory: str) -> None:
    """Serve tether's tools over the Model Context Protocol on stdin/stdout.

    Started by an MCP client from its configuration (`tether init --mcp` writes it);
    log lines go to stderr.
    """
    import anyio

    from tether.mcp.server import serve

    workspace = resolve_workspace(directory)
    anyio.run(serve, workspace)
