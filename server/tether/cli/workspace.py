"""The workspace a command works in: `-C DIR`, checked the same way by every command."""

from __future__ import annotations

from pathlib import Path

from tether.cli.errors import EXIT_USAGE, fail


def resolve_workspace(directory: str) -> Path:
    """DIR resolved, or a usage error (exit 2) naming it when it is not a directory."""
    workspace = Path(directory).expanduser()
    if not workspace.is_dir():
        fail(f"-C {directory}: not a directory", EXIT_USAGE)
    return workspace.resolve()
