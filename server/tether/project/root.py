"""The workspace root: found from any folder inside the project, the way git and ruff do.

Agents `cd` into subfolders all the time; a command run there must act on the project,
not on the subfolder (which would find no configuration, run nothing and go green).
"""

from __future__ import annotations

from pathlib import Path

TETHER_DIR = ".tether"
ROOT_MARKERS = ("pyproject.toml", "package.json", ".git")
"""Files or folders that mark a project's root, when no folder above has `.tether/`."""


def find_workspace_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding `.tether/`; else the nearest holding
    a root marker (pyproject.toml, package.json, .git); else `start` itself.

    A `.tether/` in the home folder is not a workspace for the folders below it: one made
    there by accident would otherwise capture every project of the user.
    """
    start = start.resolve()
    chain = [start, *start.parents]
    home = _home()
    for folder in chain:
        if (folder / TETHER_DIR).is_dir() and (folder != home or folder == start):
            return folder
    for folder in chain:
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return start


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError):  # no home folder known (HOME unset, no passwd entry)
        return None
