"""How a tether tool is declared: an SDK `Tool` whose input schema is closed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations


def closed_tool(
    fn: Callable[..., Any], *, name: str, description: str, annotations: ToolAnnotations
) -> Tool:
    """A tool from `fn`'s signature whose schema admits no other argument: a misspelt
    argument is an error, never silently its default."""
    tool = Tool.from_function(fn, name=name, description=description, annotations=annotations)
    tool.parameters["additionalProperties"] = False
    return tool
