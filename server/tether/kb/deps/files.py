"""Which files are dependency files, and parsing any one of them by its name."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from tether.kb.deps.locks import (
    LockedVersions,
    read_package_lock,
    read_pipfile_lock,
    read_toml_lock,
)
from tether.kb.deps.model import Detection
from tether.kb.deps.package_json import parse_package_json
from tether.kb.deps.pipfile import parse_pipfile
from tether.kb.deps.pyproject import parse_pyproject
from tether.kb.deps.requirements import parse_requirements_file
from tether.kb.deps.setup_cfg import parse_setup_cfg
from tether.kb.deps.source_file import relative_name

DEPENDENCY_FILE_GLOBS: tuple[str, ...] = (
    "**/pyproject.toml",
    "**/setup.cfg",
    "**/setup.py",
    "**/Pipfile",
    "**/Pipfile.lock",
    "**/*requirements*.txt",
    "**/*requirements*.in",
    "**/requirements/*.txt",
    "**/requirements/*.in",
    "**/package.json",
    "**/package-lock.json",
    "**/npm-shrinkwrap.json",
    "**/uv.lock",
    "**/poetry.lock",
)
"""Every file whose change can change detection (editors register watchers with these)."""

REQUIREMENTS_NAME_PATTERNS = ("*requirements*.txt", "*requirements*.in")
REQUIREMENTS_DIRECTORY = "requirements"
TOML_LOCKS = ("uv.lock", "poetry.lock")
NPM_LOCKS = ("package-lock.json", "npm-shrinkwrap.json")
_FIXED_NAMES = frozenset(
    {"pyproject.toml", "setup.cfg", "setup.py", "Pipfile", "Pipfile.lock", "package.json"}
    | set(TOML_LOCKS)
    | set(NPM_LOCKS)
)


def is_requirements_name(path: Path) -> bool:
    """requirements*.txt and friends, or any .txt/.in file in a `requirements/` folder."""
    if any(fnmatch.fnmatchcase(path.name, pattern) for pattern in REQUIREMENTS_NAME_PATTERNS):
        return True
    return path.parent.name == REQUIREMENTS_DIRECTORY and path.suffix in (".txt", ".in")


def is_dependency_file(path: Path) -> bool:
    """True for any file matched by DEPENDENCY_FILE_GLOBS."""
    return path.name in _FIXED_NAMES or is_requirements_name(path)


def read_lock(path: Path, workspace: Path) -> LockedVersions:
    if path.name in TOML_LOCKS:
        return read_toml_lock(path, workspace)
    if path.name == "Pipfile.lock":
        return read_pipfile_lock(path, workspace)
    return read_package_lock(path, workspace)


def parse_dependency_file(path: Path, workspace: Path) -> Detection:
    """The dependencies one file declares (following its includes), by its file name.

    A lock file declares nothing: its result holds only a note and any problems.
    Any other `.txt` or `.in` file is read as a requirements file.
    """
    path, workspace = Path(path), Path(workspace)
    name = path.name
    if name == "pyproject.toml":
        return parse_pyproject(path, workspace)
    if name == "setup.cfg":
        return parse_setup_cfg(path, workspace)
    if name == "Pipfile":
        return parse_pipfile(path, workspace)
    if name == "package.json":
        return parse_package_json(path, workspace)
    shown = relative_name(path, workspace)
    if name in {*TOML_LOCKS, *NPM_LOCKS, "Pipfile.lock"}:
        locked = read_lock(path, workspace)
        detection = Detection(problems=list(locked.problems))
        detection.notes.append(
            f"{shown}: lock file with versions of {len(locked.versions)} packages"
        )
        return detection
    if is_requirements_name(path) or path.suffix in (".txt", ".in"):
        return parse_requirements_file(path, workspace)
    if name == "setup.py":
        return Detection(notes=[f"{shown}: setup.py is never executed; not read"])
    detection = Detection()
    detection.problem(shown, None, "not a dependency file this reader knows")
    return detection
