"""Tools that read the workspace: its workflows, its dependencies, their documentation.

Each calls what the CLI's `workflows`, `deps` and `docs` commands call, off the event
loop where it reads files.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from tether.kb.providers.base import MAX_LIBRARY_NAME
from tether.mcp.registry import closed_tool
from tether.mcp.results import fit_list, json_result
from tether.mcp.workspace import ToolWorkspace

MAX_DOCS_TOKENS = 4000
"""Largest docs answer a tool returns, whatever the configuration says (see results.py)."""

_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

Library = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_LIBRARY_NAME,
        description="A PyPI or npm package name, e.g. `httpx` or `@types/node`.",
    ),
]
Query = Annotated[
    str,
    Field(
        max_length=500,
        description="What you want to know, e.g. `retry on timeout`; empty for an overview.",
    ),
]
MaxTokens = Annotated[
    int | None,
    Field(
        ge=100,
        le=MAX_DOCS_TOKENS,
        description="Size of the answer in tokens (characters / 4); default from settings.",
    ),
]


class CatalogTools:
    def __init__(self, workspace: ToolWorkspace) -> None:
        self.workspace = workspace

    def tools(self) -> list[Tool]:
        return [
            closed_tool(
                self.list_workflows,
                name="list_workflows",
                description=(
                    "List the workflows you can run in this project (built-in and the "
                    "project's own .tether/workflows), each with its description. Call this "
                    "before run_workflow when you do not know the workflow's exact name."
                ),
                annotations=_READ_ONLY,
            ),
            closed_tool(
                self.lookup_docs,
                name="lookup_docs",
                description=(
                    "Documentation for one of the project's dependencies, for the version it "
                    "uses, ranked for your query. Call this before writing code against a "
                    "library's API you are not sure of."
                ),
                annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True),
            ),
            closed_tool(
                self.list_dependencies,
                name="list_dependencies",
                description=(
                    "List the dependencies the project declares (pyproject, requirements, "
                    "package.json, lock files), with the installed version where known. Call "
                    "this to learn which libraries and versions the code may use."
                ),
                annotations=_READ_ONLY,
            ),
        ]

    async def list_workflows(self) -> CallToolResult:
        from tether.engine.catalog import list_workflows

        config = self.workspace.settings()
        entries = await asyncio.to_thread(
            list_workflows, self.workspace.root, self.workspace.kinds(config)
        )
        return json_result(
            fit_list({"workflows": [entry.to_json() for entry in entries]}, "workflows")
        )

    async def lookup_docs(
        self, library: Library, query: Query = "", max_tokens: MaxTokens = None
    ) -> CallToolResult:
        from tether.kb.providers.base import InvalidLibraryName

        config = self.workspace.settings()
        try:
            service = await self.workspace.docs_service(config)
        except ValueError as error:
            raise ToolError(f"docs settings: {error}") from error
        try:
            result = await service.lookup(
                library,
                query,
                max_tokens=max_tokens or min(config.docs.max_tokens, MAX_DOCS_TOKENS),
                offline=config.docs.offline,
            )
        except InvalidLibraryName as error:
            raise ToolError(str(error)) from error
        return json_result(result.to_json(), text=result.render_markdown())

    async def list_dependencies(self) -> CallToolResult:
        from tether.kb.deps import detect_dependencies
        from tether.project.environment import find_site_packages, installed_versions

        config = self.workspace.settings()
        root = self.workspace.root

        def detect() -> dict[str, object]:
            installed = installed_versions(find_site_packages(root, config.interpreter))
            return detect_dependencies(root, installed).to_json()

        return json_result(fit_list(await asyncio.to_thread(detect), "dependencies"))
