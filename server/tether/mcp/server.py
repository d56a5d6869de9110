"""The MCP server: tether's tools over stdio, built on the official SDK's `MCPServer`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import ValidationError

from tether import __version__
from tether.mcp.catalog_tools import CatalogTools
from tether.mcp.run_tools import RunTools
from tether.mcp.tool_errors import describe_invalid, unknown_arguments
from tether.mcp.workspace import ToolWorkspace

INSTRUCTIONS = (
    "tether runs the project's named workflows (checks, builds, reviews) and answers "
    "questions about the project's dependencies from their documentation. Use "
    "list_workflows to see what can run, run_workflow to run one, lookup_docs before "
    "coding against a library. A run tool call returns within its budget; when the run "
    "is still going or waits for a result, the result's `next` is the call that "
    "continues it (resume_run): the run is never lost to a timeout."
)


class TetherMCPServer(MCPServer[Any]):
    """MCPServer whose argument errors are one line and whose tools refuse arguments
    their schemas do not declare."""

    def __init__(self, tools: list[Tool]) -> None:
        super().__init__(
            "tether",
            version=__version__,
            instructions=INSTRUCTIONS,
            tools=tools,
            log_level="WARNING",
        )
        self._schemas = {tool.name: tool.parameters for tool in tools}

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        schema = self._schemas.get(name)
        problem = None if schema is None else unknown_arguments(arguments, schema)
        if problem is not None:
            raise ToolError(f"Error executing tool {name}: {problem}")
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as error:
            if isinstance(error.__cause__, ValidationError):
                line = describe_invalid(error.__cause__)
                raise ToolError(f"Error executing tool {name}: {line}") from error.__cause__
            raise


def build_server(workspace: ToolWorkspace) -> TetherMCPServer:
    return TetherMCPServer(RunTools(workspace).tools() + CatalogTools(workspace).tools())


def configure_logging(level: str) -> None:
    """Log lines go to stderr (stdout carries the protocol), one line each."""
    logging.basicConfig(
        stream=sys.stderr,
        level=level.upper(),
        format="tether mcp: %(levelname)s %(name)s: %(message)s",
    )


async def serve(root: Path) -> None:
    """Serve on stdin/stdout until the client closes them."""
    workspace = ToolWorkspace(root)
    configure_logging(workspace.settings().log_level)
    server = build_server(workspace)
    try:
        await server.run_stdio_async()
    finally:
        await workspace.aclose()
