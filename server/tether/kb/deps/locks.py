"""Resolved versions from lock files: uv.lock, poetry.lock, Pipfile.lock, package-lock.json.

uv.lock and poetry.lock are machine-written with every `[[package]]` header followed by
`name = "..."` and (usually) `version = "..."`, and they are large (100 KB is common): a
scan for the headers takes well under a millisecond where tomllib takes over 10 ms. The
scan is trusted only when every `[[package]]` header is followed by that shape; otherwise
the file is parsed in full, so a hand-edited lock is still read correctly (or reported).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from tether.kb.deps.json_source import load_json
from tether.kb.deps.model import DependencyProblem
from tether.kb.deps.pep508 import shorten
from tether.kb.deps.source_file import read_source

# What follows each `[[package]]` header: the name line, then a version line or (a package
# whose version is dynamic) straight on to its source.
_ENTRY_HEAD = re.compile(
    r"[ \t]*\r?\nname = \"([^\"\\\r\n]*)\"\r?\n"
    r"(?:version = \"([^\"\\\r\n]*)\"\r?(?:\n|$)|(?=source = ))"
)
_AT_LINE = re.compile(r"\(at line (\d+)")


@dataclass
class LockedVersions:
    """Name -> version from one lock file (canonical names for PyPI, install names for npm)."""

    versions: dict[str, str] = field(default_factory=dict)
    problems: list[DependencyProblem] = field(default_factory=list)

    def add(self, name: str, version: str) -> None:
        """Record a version; when a lock holds several (forked resolutions), keep the highest."""
        current = self.versions.get(name)
        if current is None:
            self.versions[name] = version
            return
        try:
            if Version(version) > Version(current):
                self.versions[name] = version
        except InvalidVersion:
            pass  # not comparable: the first one listed stays


def read_toml_lock(path: Path, workspace: Path) -> LockedVersions:
    """uv.lock or poetry.lock: `[[package]]` name and version."""
    locked = LockedVersions()
    source = read_source(path, workspace)
    if source.problem is not None or source.text is None:
        if source.problem is not None:
            locked.problems.append(source.problem)
        return locked
    entries = _scan_packages(source.text)
    if entries is not None:
        for entry_name, entry_version in entries:
            if entry_version:
                locked.add(canonicalize_name(entry_name), entry_version)
        return locked
    try:
        data = tomllib.loads(source.text)
    except tomllib.TOMLDecodeError as error:
        found = _AT_LINE.search(str(error))
        line = int(found.group(1)) if found else None
        reason = _AT_LINE.split(str(error), maxsplit=1)[0].strip()
        locked.problems.append(
            DependencyProblem(source.name, line, f"invalid TOML: {shorten(reason, 120)}")
        )
        return locked
    packages = data.get("package", [])
    if not isinstance(packages, list):
        locked.problems.append(DependencyProblem(source.name, None, "package must be an array"))
        return locked
    for package in packages:
        if isinstance(package, dict):
            name, version = package.get("name"), package.get("version")
            if isinstance(name, str) and isinstance(version, str):
                locked.add(canonicalize_name(name), version)
    return locked


def _scan_packages(text: str) -> list[tuple[str, str]] | None:
    """(name, version or "") per `[[package]]`, or None if any entry has another shape."""
    entries: list[tuple[str, str]] = []
    # str.split finds the headers far faster than a MULTILINE regex walking 100 KB.
    for chunk in ("\n" + text).split("\n[[package]]")[1:]:
        head = _ENTRY_HEAD.match(chunk)
        if head is None:
            return None
        entries.append((head.group(1), head.group(2) or ""))
    return entries


def _load_json_lock(path: Path, workspace: Path, locked: LockedVersions) -> dict[str, Any] | None:
    """The lock's JSON object, or None with the problem (if any) recorded in `locked`."""
    loaded = load_json(path, workspace)
    if loaded.problem is not None or loaded.data is None:
        if loaded.problem is not None:
            locked.problems.append(loaded.problem)
        return None
    return loaded.data


def read_pipfile_lock(path: Path, workspace: Path) -> LockedVersions:
    locked = LockedVersions()
    data = _load_json_lock(path, workspace, locked)
    if data is None:
        return locked
    for section in ("default", "develop"):
        entries = data.get(section, {})
        if not isinstance(entries, dict):
            continue
        for name, entry in entries.items():
            version = entry.get("version") if isinstance(entry, dict) else None
            if isinstance(version, str) and version.startswith("=="):
                locked.add(canonicalize_name(name), version[2:].strip())
    return locked


def read_package_lock(path: Path, workspace: Path) -> LockedVersions:
    """package-lock.json (or npm-shrinkwrap.json), lockfileVersion 1, 2 or 3.

    Only top-level installs count (`node_modules/NAME`): those are what the project's
    own imports resolve to. Keys are install names, so an alias maps to its real version.
    """
    locked = LockedVersions()
    data = _load_json_lock(path, workspace, locked)
    if data is None:
        return locked
    packages = data.get("packages")
    if isinstance(packages, dict):
        _read_packages_map(packages, locked)
    else:
        dependencies = data.get("dependencies")
        if isinstance(dependencies, dict):
            _read_v1_dependencies(dependencies, locked)
    return locked


def _read_packages_map(packages: dict[str, Any], locked: LockedVersions) -> None:
    prefix = "node_modules/"
    for key, entry in packages.items():
        if not key.startswith(prefix) or "/node_modules/" in key or not isinstance(entry, dict):
            continue
        if entry.get("link") is True and isinstance(entry.get("resolved"), str):
            target = packages.get(entry["resolved"])
            entry = target if isinstance(target, dict) else {}
        version = entry.get("version")
        if isinstance(version, str) and version:
            locked.versions[key[len(prefix) :].lower()] = version


def _read_v1_dependencies(dependencies: dict[str, Any], locked: LockedVersions) -> None:
    for name, entry in dependencies.items():
        version = entry.get("version") if isinstance(entry, dict) else None
        if not isinstance(version, str):
            continue
        if version.startswith("npm:"):  # an alias: npm:real-name@1.2.3
            version = version.rsplit("@", 1)[-1]
        if ":" in version or "/" in version:  # git, file or URL: no registry version
            continue
        locked.versions[name.lower()] = version
