"""Expanding package.json `workspaces` globs into member folders, without entering
node_modules or hidden folders (a `**` pattern must not walk an installed tree)."""

from __future__ import annotations

import fnmatch
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from tether.kb.deps.source_file import is_candidate, is_folder

logger = logging.getLogger(__name__)

MAX_MEMBERS = 1000
_SKIPPED_DIRECTORIES = frozenset({"node_modules"})


@dataclass
class WorkspaceMembers:
    folders: list[Path] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    """Patterns that were not followed, with the reason."""


def _subfolders(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return sorted(
                Path(entry.path)
                for entry in entries
                if entry.is_dir(follow_symlinks=False)
                and entry.name not in _SKIPPED_DIRECTORIES
                and not entry.name.startswith(".")
            )
    except OSError as error:
        logger.debug("cannot list %s: %s", folder, error)
        return []


def _expand(root: Path, parts: list[str]) -> list[Path]:
    matches = [root]
    for part in parts:
        following: list[Path] = []
        for folder in matches:
            if part == "**":
                following.extend(_descendants(folder))
            elif any(char in part for char in "*?["):
                following.extend(
                    f for f in _subfolders(folder) if fnmatch.fnmatchcase(f.name, part)
                )
            elif is_folder(folder / part):
                following.append(folder / part)
            if len(following) > MAX_MEMBERS:
                return following[:MAX_MEMBERS]
        matches = following
    return matches


def _descendants(folder: Path) -> list[Path]:
    found = [folder]
    index = 0
    while index < len(found) and len(found) <= MAX_MEMBERS:
        found.extend(_subfolders(found[index]))
        index += 1
    return found[: MAX_MEMBERS + 1]


def expand_workspaces(root: Path, patterns: list[str]) -> WorkspaceMembers:
    members = WorkspaceMembers()
    included: dict[Path, None] = {}
    excluded: set[Path] = set()
    for pattern in patterns:
        negated = pattern.startswith("!")
        cleaned = pattern.lstrip("!").strip().removeprefix("./").rstrip("/")
        parts = [part for part in cleaned.split("/") if part not in ("", ".")]
        if not parts or cleaned.startswith("/") or ".." in parts:
            members.rejected.append(f"{pattern!r}: not a folder inside the workspace")
            continue
        for folder in _expand(root, parts):
            if negated:
                excluded.add(folder)
            elif folder != root:
                included[folder] = None
    members.folders = [
        folder
        for folder in included
        if folder not in excluded and is_candidate(folder / "package.json")
    ][:MAX_MEMBERS]
    return members
