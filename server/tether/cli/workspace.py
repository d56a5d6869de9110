"""The workspace a command works in, found the same way by every command.

`-C DIR` (default: the current folder) is where the search starts; the workspace is the
project root above it (tether.project.root), as git and ruff find theirs.
"""

from __future__ import annotations

from pathlib import Path

from tether.cli.errors import EXIT_USAGE, fail


def resolve_workspace(directory: str) -> Path:
    """The project root at or above DIR, or a usage error (exit 2) naming DIR when it is not
    a directory."""
    from tether.project.root import find_workspace_root

    start = Path(directory).expanduser()
    if not start.is_dir():
        fail(f"-C {directory}: not a directory", EXIT_USAGE)
    return find_workspace_root(start)


def require_readable_project_files(workspace: Path) -> None:
    """Exit 2 naming file, line and cause when pyproject.toml or package.json is unreadable:
    commands that act on the project's configuration must not read a broken one as none."""
    from tether.project.files import ProjectFileError, check_project_files

    try:
        check_project_files(workspace)
    except ProjectFileError as error:
        fail(str(error), EXIT_USAGE)
