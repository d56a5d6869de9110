"""Detecting a workspace's dependencies: which files to read, de-duplication, versions.

Read: pyproject.toml, setup.cfg, Pipfile, requirements files at the top level and in
`requirements/`, package.json and its workspace members. A pip-compile output
(`X.txt` beside `X.in`) is a lock: its pins give versions, its transitive entries are not
dependencies. Versions come from lock files first (uv.lock, poetry.lock, Pipfile.lock,
compiled requirements, package-lock.json), then from the caller's installed
distributions and node_modules.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import logging
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.utils import canonicalize_name

from tether.kb.deps.files import (
    NPM_LOCKS,
    REQUIREMENTS_DIRECTORY,
    REQUIREMENTS_NAME_PATTERNS,
    TOML_LOCKS,
    read_lock,
)
from tether.kb.deps.locks import LockedVersions
from tether.kb.deps.model import NPM, PYPI, Dependency, Detection, group_rank
from tether.kb.deps.npm_workspaces import expand_workspaces
from tether.kb.deps.package_json import read_package_json
from tether.kb.deps.pipfile import parse_pipfile
from tether.kb.deps.pyproject import parse_pyproject
from tether.kb.deps.requirements import RequirementsReader, parse_requirements_file
from tether.kb.deps.setup_cfg import parse_setup_cfg
from tether.kb.deps.source_file import is_candidate, is_folder, list_folder, relative_name

logger = logging.getLogger(__name__)

MAX_NODE_PACKAGE_JSON_BYTES = 1024 * 1024


def detect_dependencies(workspace: Path, installed: Mapping[str, str] | None = None) -> Detection:
    """Every dependency the workspace declares, once each, with versions where known.

    Never raises for bad input: unreadable or malformed files and lines become problems.
    `installed` maps canonical distribution names to installed versions.
    """
    workspace = Path(workspace)
    found = Detection()
    if not is_folder(workspace):
        found.problem(str(workspace), None, "workspace is not a folder")
        return found
    python_locks = _collect_python(workspace, found)
    npm_lock = _collect_npm(workspace, found)
    dependencies = _deduplicate(found.dependencies)
    installed_versions: dict[str, str] = {
        canonicalize_name(k): v for k, v in (installed or {}).items()
    }
    node_modules = _NodeModules(workspace)
    found.dependencies = [
        _with_version(dependency, python_locks, npm_lock, installed_versions, node_modules)
        for dependency in dependencies
    ]
    found.problems = list(dict.fromkeys(found.problems))
    found.notes = list(dict.fromkeys(found.notes))
    return found


def _collect_python(workspace: Path, found: Detection) -> list[LockedVersions]:
    for name, parse in (
        ("pyproject.toml", parse_pyproject),
        ("setup.cfg", parse_setup_cfg),
        ("Pipfile", parse_pipfile),
    ):
        if is_candidate(workspace / name):
            found.extend(parse(workspace / name, workspace))
    if is_candidate(workspace / "setup.py"):
        found.notes.append(
            "setup.py: never executed; dependencies declared only there are not read"
        )
    locks = [
        read_lock(workspace / name, workspace)
        for name in (*TOML_LOCKS, "Pipfile.lock")
        if is_candidate(workspace / name)
    ]
    reader = RequirementsReader(workspace, detection=found)
    for path in _requirements_files(workspace):
        source = path.with_suffix(".in")
        if path.suffix == ".txt" and is_candidate(source):
            locks.append(_compiled_pins(path, workspace, found))
            found.notes.append(
                f"{relative_name(path, workspace)}: compiled from "
                f"{relative_name(source, workspace)}; used for versions only"
            )
        else:
            reader.read(path)
    for lock in locks:
        found.problems.extend(lock.problems)
    return locks


def _requirements_files(workspace: Path) -> list[Path]:
    top = [
        path
        for path in list_folder(workspace)
        if any(fnmatch.fnmatchcase(path.name, p) for p in REQUIREMENTS_NAME_PATTERNS)
        and is_candidate(path)
    ]
    nested = [
        path
        for path in list_folder(workspace / REQUIREMENTS_DIRECTORY)
        if path.suffix in (".txt", ".in") and is_candidate(path)
    ]
    # .in before .txt so that a file's own declarations come before its compiled pins.
    return sorted(top, key=lambda p: (p.suffix != ".in", p.name)) + sorted(
        nested, key=lambda p: (p.suffix != ".in", p.name)
    )


def _compiled_pins(path: Path, workspace: Path, found: Detection) -> LockedVersions:
    """Exact pins of a pip-compile output, as a lock."""
    compiled = parse_requirements_file(path, workspace)
    found.problems.extend(compiled.problems)
    locked = LockedVersions(problems=[])
    for dependency in compiled.dependencies:
        spec = dependency.spec
        if spec.startswith("==") and "," not in spec and not spec.endswith(".*"):
            locked.add(dependency.name, spec[2:])
    return locked


def _collect_npm(workspace: Path, found: Detection) -> LockedVersions:
    root = workspace / "package.json"
    if is_candidate(root):
        package = read_package_json(root, workspace)
        found.extend(package.detection)
        if package.workspaces:
            members = expand_workspaces(workspace, package.workspaces)
            for rejected in members.rejected:
                found.problem("package.json", None, f"workspaces pattern {rejected}")
            for folder in members.folders:
                found.extend(read_package_json(folder / "package.json", workspace).detection)
    lock = LockedVersions()
    for name in NPM_LOCKS:
        if is_candidate(workspace / name):
            lock = read_lock(workspace / name, workspace)
            found.problems.extend(lock.problems)
            break
    return lock


def _deduplicate(dependencies: Iterable[Dependency]) -> list[Dependency]:
    """One entry per (ecosystem, name): the most direct group wins, then the first seen."""
    kept: dict[tuple[str, str], Dependency] = {}
    for dependency in dependencies:
        key = (dependency.ecosystem, dependency.name)
        current = kept.get(key)
        if current is None or group_rank(dependency.group) < group_rank(current.group):
            kept[key] = dependency
    return list(kept.values())


def _with_version(
    dependency: Dependency,
    python_locks: list[LockedVersions],
    npm_lock: LockedVersions,
    installed: Mapping[str, str],
    node_modules: _NodeModules,
) -> Dependency:
    version: str | None = None
    if dependency.ecosystem == PYPI:
        for lock in python_locks:
            version = lock.versions.get(dependency.name)
            if version is not None:
                break
        else:
            version = installed.get(dependency.name)
    elif dependency.ecosystem == NPM:
        install_name = dependency.display_name.lower()
        version = npm_lock.versions.get(install_name) or node_modules.version(dependency)
    return dependency if version is None else dataclasses.replace(dependency, version=version)


class _NodeModules:
    """Installed npm package versions, read from node_modules/<name>/package.json."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self._folders: dict[Path, Path | None] = {}

    def _folder(self, package_folder: Path) -> Path | None:
        # One stat per package folder, not one per dependency, when nothing is installed.
        if package_folder not in self._folders:
            candidate = package_folder / "node_modules"
            self._folders[package_folder] = candidate if is_folder(candidate) else None
        return self._folders[package_folder]

    def version(self, dependency: Dependency) -> str | None:
        """The version beside the declaring package.json, else at the workspace root."""
        declaring = (self.workspace / dependency.source).parent
        for package_folder in dict.fromkeys((declaring, self.workspace)):
            folder = self._folder(package_folder)
            if folder is not None:
                version = self._read(folder / dependency.display_name / "package.json")
                if version is not None:
                    return version
        return None

    @staticmethod
    def _read(manifest: Path) -> str | None:
        try:
            status = manifest.stat()
            if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_NODE_PACKAGE_JSON_BYTES:
                return None  # a FIFO would block; a huge file is not a real manifest
            data = json.loads(manifest.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError) as error:
            logger.debug("cannot read %s: %s", manifest, error)
            return None
        version = data.get("version") if isinstance(data, dict) else None
        return version if isinstance(version, str) and version else None
