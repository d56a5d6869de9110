"""The MCP client configuration `tether init --mcp` writes: one `tether` entry in Claude
Code's `.mcp.json` and in Cursor's `.cursor/mcp.json`, next to whatever servers the
file already names.

The file is merged, never replaced: other servers and keys are kept as they are. An entry
the user changed is kept unless `force`; a file that is not a JSON object is reported and
left untouched.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import orjson

from tether.pack.install import (
    CREATED,
    FAILED,
    KEPT,
    OVERWRITTEN,
    UNCHANGED,
    UPDATED,
    InstallReport,
    Outcome,
    _write_atomically,
)

SERVER_NAME = "tether"
CONFIG_FILES = {"claude": ".mcp.json", "cursor": ".cursor/mcp.json"}
"""Where each editor reads a project's MCP servers from, relative to the workspace."""


def server_command() -> list[str]:
    """How a client starts this tether: `tether` when that name on PATH is this very
    program (the portable form, fit to commit), else this program's absolute path, else
    this interpreter with `-m tether`."""
    program = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if program is not None and program.name == "tether" and os.access(program, os.X_OK):
        found = shutil.which("tether")
        if found is not None and Path(found).resolve() == program:
            return ["tether"]
        return [str(program)]
    return [sys.executable, "-m", "tether"]


def server_entry(editor: str, command: list[str]) -> dict[str, Any]:
    """The `mcpServers.tether` entry for `editor`. Claude Code starts project servers in
    the project folder; Cursor does not promise that, so it is told the folder."""
    if editor == "claude":
        return {"type": "stdio", "command": command[0], "args": [*command[1:], "mcp"]}
    return {
        "type": "stdio",
        "command": command[0],
        "args": [*command[1:], "mcp", "-C", "${workspaceFolder}"],
    }


def install_mcp_config(
    workspace: Path, editors: list[str], *, force: bool = False, command: list[str] | None = None
) -> InstallReport:
    report = InstallReport(workspace)
    chosen = command or server_command()
    for editor in editors:
        target = CONFIG_FILES[editor]
        report.outcomes.append(
            _merge_entry(workspace / target, target, editor, server_entry(editor, chosen), force)
        )
    return report


def _merge_entry(
    path: Path, target: str, editor: str, entry: dict[str, Any], force: bool
) -> Outcome:
    def outcome(action: str, detail: str = "") -> Outcome:
        return Outcome(target, action, editor, detail)

    try:
        raw = path.read_bytes() if path.exists() else None
    except OSError as error:
        return outcome(FAILED, f"cannot read: {error.strerror or error}")
    document: Any = {}
    if raw is not None and raw.strip():
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            return outcome(FAILED, f"not valid JSON ({error}); fix it, then run init again")
    servers = document.get("mcpServers", {}) if isinstance(document, dict) else None
    if not isinstance(servers, dict):
        return outcome(FAILED, "expected a JSON object with an `mcpServers` object; left as is")
    current = servers.get(SERVER_NAME)
    if current == entry:
        return outcome(UNCHANGED)
    if current is None:
        action, detail = (CREATED, "") if raw is None else (UPDATED, "tether server added")
    elif force:
        action, detail = OVERWRITTEN, "tether server"
    else:
        return outcome(KEPT, "the tether server entry differs; --force replaces it")
    document["mcpServers"] = {**servers, SERVER_NAME: entry}
    try:
        _write_atomically(path, orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    except OSError as error:
        return outcome(FAILED, f"cannot write: {error.strerror or error}")
    return outcome(action, detail)
