"""Pipfile: `[packages]`, `[dev-packages]` and custom pipenv categories."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.utils import canonicalize_name

from tether.kb.deps.model import DEV, MAIN, PYPI, Dependency, Detection, named_group
from tether.kb.deps.toml_source import TomlSource, load_toml

_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
# Tables of a Pipfile that are settings, not package categories.
_NOT_CATEGORIES = frozenset({"source", "requires", "scripts", "pipenv", "packages", "dev-packages"})
# Pipfile lets these marker variables be written as keys: `sys_platform = "== 'linux'"`.
_MARKER_KEYS = (
    "os_name",
    "sys_platform",
    "platform_machine",
    "platform_python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_version",
    "python_full_version",
    "implementation_name",
    "implementation_version",
)


def parse_pipfile(path: Path, workspace: Path) -> Detection:
    toml, detection = load_toml(path, workspace)
    if toml is None:
        return detection
    categories = [("packages", MAIN), ("dev-packages", DEV)]
    categories += [
        (name, named_group(name))
        for name, value in toml.data.items()
        if name not in _NOT_CATEGORIES and isinstance(value, dict)
    ]
    for category, group in categories:
        for name, value in toml.table(category).items():
            dependency = _dependency(toml, category, name, value, group)
            if dependency is not None:
                toml.detection.dependencies.append(dependency)
    return toml.detection


def _dependency(
    toml: TomlSource, category: str, name: str, value: Any, group: str
) -> Dependency | None:
    line = toml.line_of_key((category,), name)
    if not _VALID_NAME.match(name):
        toml.problem(line, f"[{category}]: invalid package name {name!r:.60}")
        return None
    spec = ""
    extras: tuple[str, ...] = ()
    markers: list[str] = []
    direct_url: str | None = None
    if isinstance(value, str):
        spec = value.strip()
    elif isinstance(value, dict):
        if isinstance(value.get("version"), str):
            spec = value["version"].strip()
        wanted = value.get("extras", [])
        if isinstance(wanted, list):
            extras = tuple(e for e in wanted if isinstance(e, str))
        if isinstance(value.get("markers"), str):
            markers.append(value["markers"])
        markers += [
            f"{key} {value[key]}" for key in _MARKER_KEYS if isinstance(value.get(key), str)
        ]
        direct_url = _direct_url(value)
    else:
        toml.problem(line, f"[{category}] {name}: expected a version string or a table")
        return None
    marker = None
    if markers:
        joined = " and ".join(f"({m})" for m in markers) if len(markers) > 1 else markers[0]
        try:
            marker = str(Marker(joined))
        except (InvalidMarker, RecursionError):
            toml.problem(line, f"[{category}] {name}: invalid markers {joined!r:.60}")
            return None
    return Dependency(
        name=canonicalize_name(name),
        display_name=name,
        ecosystem=PYPI,
        spec="" if spec == "*" else spec,
        version=None,
        group=group,
        source=toml.name,
        line=line,
        extras=extras,
        marker=marker,
        direct_url=direct_url,
    )


def _direct_url(value: dict[str, Any]) -> str | None:
    git = value.get("git")
    if isinstance(git, str):
        url = git if git.startswith("git+") else f"git+{git}"
        return f"{url}@{value['ref']}" if isinstance(value.get("ref"), str) else url
    for key in ("file", "path"):
        if isinstance(value.get(key), str):
            return str(value[key])
    return None
