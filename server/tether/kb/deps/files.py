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
    if path.name.endswith(TOML_LOCKS):
        return read_toml_lock(path, workspace)
    if path.name.endswith("Pipfile.lock"):
        return read_pipfile_lock(path, workspace)
    return read_package_lock(path, workspace)


def _kind(name: str) -> str | None:
    """The known file name that `name` is or ends with (`x__pyproject.toml` counts too)."""
    for known in sorted(_FIXED_NAMES, key=len, reverse=True):
        if name == known or name.endswith(known):
            return known
    return None


def parse_dependency_file(path: Path, workspace: Path) -> Detection:
    """The dependencies one file declares (following its includes), by its file name.

    A name that ends with a known one (`backup-pyproject.toml`) is read as that kind; any
    other `.txt` or `.in` file is read as a requirements file. A lock file declares
    nothing: its result holds only a note and any problems.
    """
    path, workspace = Path(path), Path(workspace)
    kind = _kind(path.name)
    if kind == "pyproject.toml":
        return parse_pyproject(path, workspace)
    if kind == "setup.cfg":
        return parse_setup_cfg(path, workspace)
    if kind == "Pipfile":
        return parse_pipfile(path, workspace)
    if kind == "package.json":
        return parse_package_json(path, workspace)
    shown = relative_name(path, workspace)
    if kind in {*TOML_LOCKS, *NPM_LOCKS, "Pipfile.lock"}:
        locked = read_lock(path, workspace)
        detection = Detection(problems=list(locked.problems))
        detection.notes.append(
            f"{shown}: lock file with versions of {len(locked.versions)} packages"
        )
        return detection
    if kind == "setup.py":
        return Detection(notes=[f"{shown}: setup.py is never executed; not read"])
    if is_requirements_name(path) or path.suffix in (".txt", ".in"):
        return parse_requirements_file(path, workspace)
    detection = Detection()
    detection.problem(shown, None, "not a dependency file this reader knows")
    return detection
