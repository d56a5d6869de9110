"""The project's own configuration files, read once and strictly.

A configuration file that cannot be read is an error, never "no configuration": a broken
pyproject.toml must not turn every tool into "not used here" and a run into a green one.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


class ProjectFileError(Exception):
    """A project file that exists but cannot be read: `path:line: cause`."""

    def __init__(self, path: Path, line: int | None, cause: str) -> None:
        self.path = path
        self.line = line
        self.cause = cause
        super().__init__(path, line, cause)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.cause}"


def read_pyproject(workspace: Path) -> dict[str, Any]:
    """The parsed `pyproject.toml` of `workspace`, `{}` when there is none.

    Raises ProjectFileError when it exists but is not readable TOML.
    """
    path = workspace / "pyproject.toml"
    text = _read_text(path)
    if text is None:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _TOML_POSITION.search(message)
        line = int(position.group(1)) if position else None
        cause = _TOML_POSITION.sub("", message) if position else message
        if position:
            cause += f" (column {position.group(2)})"
        raise ProjectFileError(path, line, f"not valid TOML: {cause}") from None


def read_package_json(workspace: Path) -> dict[str, Any]:
    """The parsed `package.json` of `workspace`, `{}` when there is none.

    Raises ProjectFileError when it exists but is not a readable JSON object.
    """
    path = workspace / "package.json"
    text = _read_text(path)
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProjectFileError(path, error.lineno, f"not valid JSON: {error.msg}") from None
    if not isinstance(data, dict):
        raise ProjectFileError(path, 1, "not a JSON object")
    return data


def tool_table(pyproject: dict[str, Any], name: str) -> dict[str, Any] | None:
    """`[tool.NAME]` of a parsed pyproject.toml, or None when absent or not a table."""
    tools = pyproject.get("tool")
    table = tools.get(name) if isinstance(tools, dict) else None
    return table if isinstance(table, dict) else None


def check_project_files(workspace: Path) -> None:
    """Raise ProjectFileError for the first project configuration file that is unreadable."""
    read_pyproject(workspace)
    read_package_json(workspace)


def _read_text(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ProjectFileError(path, None, f"not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise ProjectFileError(path, None, f"cannot be read: {error.strerror or error}") from None
