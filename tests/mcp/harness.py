"""The MCP SDK's own client talking to a real `tether mcp` process over stdio."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import CallToolResult

REPO = Path(__file__).resolve().parents[2]

# A workflow of two quick steps in a row: progress for each, done in well under a second.
TWO_STEPS = """
name = "two"
description = "two quick steps in a row"

[[steps]]
id = "first"
kind = "command"
run = ["echo", "one"]

[[steps]]
id = "second"
kind = "command"
run = ["echo", "two"]
needs = ["first"]
"""


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The server's environment: a private docs cache and no real Context7."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(REPO / "server") + os.pathsep + str(REPO),
        "TETHER_CACHE_DIR": str(tmp_path / "cache"),
        "CONTEXT7_API_URL": "http://127.0.0.1:9",  # nothing listens: must not be needed
        "CONTEXT7_API_KEY": "",
    }
    env.update(extra)
    return env


@asynccontextmanager
async def mcp_session(
    workspace: Path, env: dict[str, str], errlog: Path | None = None
) -> AsyncIterator[ClientSession]:
    """An initialised client session with `tether mcp -C workspace`; its stderr goes to
    `errlog` (the server's log)."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "tether", "mcp", "-C", str(workspace)], env=env
    )
    log = (errlog or workspace.parent / "mcp-server.log").open("a", encoding="utf-8")
    try:
        async with (
            stdio_client(params, errlog=log) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session
    finally:
        log.close()


def text_of(result: CallToolResult) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return dict(result.structured_content)


async def assert_each_refused_in_one_line(
    session: ClientSession, bad_calls: list[tuple[str, dict[str, Any], str]]
) -> None:
    """Each (tool, arguments, expected) call is an error result: one short line that says
    `expected`, no traceback."""
    for name, arguments, expected in bad_calls:
        result = await session.call_tool(name, arguments)
        text = text_of(result)
        assert result.is_error, (name, arguments, text)
        assert expected in text, (name, arguments, text)
        assert "\n" not in text and "Traceback" not in text, text
        assert len(text) < 400, text
