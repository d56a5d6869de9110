"""Poetry's tables in pyproject.toml: dependencies, dev-dependencies, groups, extras."""

from __future__ import annotations

import re
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.utils import canonicalize_name

from tether.kb.deps.model import (
    DEV,
    MAIN,
    PYPI,
    Dependency,
    named_group,
    optional_group,
)
from tether.kb.deps.toml_source import TomlSource

_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_POETRY = ("tool", "poetry")


def read_poetry(toml: TomlSource) -> None:
    poetry = toml.table(*_POETRY)
    if not poetry:
        return
    extras = _extras_by_package(toml)
    _read_table(toml, (*_POETRY, "dependencies"), MAIN, extras)
    _read_table(toml, (*_POETRY, "dev-dependencies"), DEV, {})
    for group_name in toml.table(*_POETRY, "group"):
        table = (*_POETRY, "group", group_name, "dependencies")
        _read_table(toml, table, named_group(group_name), {})


def _extras_by_package(toml: TomlSource) -> dict[str, str]:
    """Canonical package name -> the first `[tool.poetry.extras]` entry that lists it."""
    found: dict[str, str] = {}
    for extra, names in toml.table(*_POETRY, "extras").items():
        if isinstance(names, list):
            for name in names:
                if isinstance(name, str):
                    found.setdefault(canonicalize_name(name), extra)
    return found


def _read_table(
    toml: TomlSource, table: tuple[str, ...], group: str, extras: dict[str, str]
) -> None:
    for name, value in toml.table(*table).items():
        if canonicalize_name(name) == "python":  # the interpreter constraint, not a package
            continue
        line = toml.line_of_key(table, name)
        if not _VALID_NAME.match(name):
            toml.problem(line, f"{'.'.join(table)}: invalid package name {name!r:.60}")
            continue
        dependency = _dependency(toml, table, name, value, group, line, extras)
        if dependency is not None:
            toml.detection.dependencies.append(dependency)


def _dependency(
    toml: TomlSource,
    table: tuple[str, ...],
    name: str,
    value: Any,
    group: str,
    line: int | None,
    extras_of: dict[str, str],
) -> Dependency | None:
    # A list holds alternative constraints (per Python version or platform).
    constraints = value if isinstance(value, list) else [value]
    specs: list[str] = []
    extras: list[str] = []
    markers: list[str] = []
    direct_url: str | None = None
    optional = False
    for constraint in constraints:
        if isinstance(constraint, str):
            specs.append(_spec(constraint))
        elif isinstance(constraint, dict):
            if isinstance(constraint.get("version"), str):
                specs.append(_spec(constraint["version"]))
            wanted = constraint.get("extras", [])
            if isinstance(wanted, list):
                extras.extend(e for e in wanted if isinstance(e, str))
            if isinstance(constraint.get("markers"), str):
                markers.append(constraint["markers"])
            optional = optional or constraint.get("optional") is True
            direct_url = direct_url or _direct_url(constraint)
        else:
            toml.problem(
                line,
                f"{'.'.join(table)}.{name}: expected a version string or a table, "
                f"got {constraint!r:.60}",
            )
            return None
    marker = None
    if markers:
        joined = " or ".join(f"({m})" for m in markers) if len(markers) > 1 else markers[0]
        try:
            marker = str(Marker(joined))
        except (InvalidMarker, RecursionError):
            toml.problem(line, f"{'.'.join(table)}.{name}: invalid markers {joined!r:.60}")
            return None
    canonical = canonicalize_name(name)
    if group == MAIN and optional:
        group = optional_group(extras_of.get(canonical, name))
    return Dependency(
        name=canonical,
        display_name=name,
        ecosystem=PYPI,
        spec=" || ".join(dict.fromkeys(s for s in specs if s)),
        version=None,
        group=group,
        source=toml.name,
        line=line,
        extras=tuple(dict.fromkeys(extras)),
        marker=marker,
        direct_url=direct_url,
    )


def _spec(written: str) -> str:
    """The constraint as written; `*` (any version) is no constraint at all."""
    spec = written.strip()
    return "" if spec == "*" else spec


def _direct_url(constraint: dict[str, Any]) -> str | None:
    git = constraint.get("git")
    if isinstance(git, str):
        url = git if git.startswith("git+") else f"git+{git}"
        for pin in ("rev", "tag", "branch"):
            if isinstance(constraint.get(pin), str):
                return f"{url}@{constraint[pin]}"
        return url
    for key in ("url", "path", "file"):
        if isinstance(constraint.get(key), str):
            return str(constraint[key])
    return None
