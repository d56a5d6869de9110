"""The entry `tether init --mcp` writes really starts the server: the SDK's client spawns
exactly the command and arguments from `.mcp.json`, in the project folder as Claude Code
does, and lists the tools."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.mcp.harness import server_env
from tether.cli.init_command import init


async def test_the_mcp_json_entry_starts_a_server_that_lists_tools(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    written = CliRunner().invoke(init, ["--mcp", "--claude", "-C", str(project)])
    assert written.exit_code == 0, written.output
    entry = json.loads((project / ".mcp.json").read_text())["mcpServers"]["tether"]
    params = StdioServerParameters(
        command=entry["command"], args=entry["args"], env=server_env(tmp_path), cwd=project
    )
    with (tmp_path / "server.log").open("w") as log:
        async with (
            stdio_client(params, errlog=log) as (read, write),
            ClientSession(read, write) as session,
        ):
            info = await session.initialize()
            tools = {tool.name for tool in (await session.list_tools()).tools}
    assert info.server_info.name == "tether"
    assert "list_workflows" in tools
