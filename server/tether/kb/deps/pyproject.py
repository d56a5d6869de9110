"""pyproject.toml: PEP 621, PEP 735 groups, uv and PDM dev dependencies, dynamic metadata.

Poetry's own tables are read by `poetry.py`. Dynamic dependencies are followed where
they are static in disguise (setuptools `file =`, the uv-dynamic-versioning hatch hook)
and otherwise only noted: nothing is built or executed.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from tether.kb.deps.model import DEV, MAIN, Detection, named_group, optional_group
from tether.kb.deps.pep508 import MAX_REQUIREMENT_CHARS
from tether.kb.deps.poetry import read_poetry
from tether.kb.deps.requirements import RequirementsReader
from tether.kb.deps.source_file import is_candidate, relative_name
from tether.kb.deps.toml_source import TomlSource, load_toml

_HATCH_HOOK = ("tool", "hatch", "metadata", "hooks", "uv-dynamic-versioning")
# `=={{ version }}`: the project's own version, filled in at build time.
_TEMPLATED_CLAUSE = re.compile(r"\s*(?:===|==|~=|!=|<=|>=|<|>)\s*\{\{[^}]*\}\}\s*,?")


def parse_pyproject(path: Path, workspace: Path) -> Detection:
    toml, detection = load_toml(path, workspace)
    if toml is None:
        return detection
    _read_project(toml)
    _read_dependency_groups(toml)
    uv = toml.table("tool", "uv")
    if "dev-dependencies" in uv:
        toml.add_requirements(
            uv["dev-dependencies"], table=("tool", "uv"), key="dev-dependencies", group=DEV
        )
    pdm_groups = toml.table("tool", "pdm", "dev-dependencies")
    for name, items in pdm_groups.items():
        toml.add_requirements(
            items, table=("tool", "pdm", "dev-dependencies"), key=name, group=named_group(name)
        )
    read_poetry(toml)
    _apply_uv_sources(toml)
    _drop_self_references(toml)
    return toml.detection


def _drop_self_references(toml: TomlSource) -> None:
    """`pdm[copier]` inside pdm's own extras names the project itself, not a dependency."""
    names = (toml.table("project").get("name"), toml.table("tool", "poetry").get("name"))
    own = {canonicalize_name(name) for name in names if isinstance(name, str)}
    if own:
        toml.detection.dependencies = [
            dependency for dependency in toml.detection.dependencies if dependency.name not in own
        ]


def _read_project(toml: TomlSource) -> None:
    project = toml.table("project")
    if "dependencies" in project:
        toml.add_requirements(
            project["dependencies"], table=("project",), key="dependencies", group=MAIN
        )
    optional = toml.table("project", "optional-dependencies")
    for extra, items in optional.items():
        toml.add_requirements(
            items,
            table=("project", "optional-dependencies"),
            key=extra,
            group=optional_group(extra),
        )
    dynamic = project.get("dynamic", [])
    if not isinstance(dynamic, list):
        toml.problem(toml.line_of_key(("project",), "dynamic"), "project.dynamic must be an array")
        return
    for field_name in ("dependencies", "optional-dependencies"):
        if field_name in dynamic:
            _read_dynamic(toml, field_name)


def _read_dynamic(toml: TomlSource, field_name: str) -> None:
    setuptools = toml.table("tool", "setuptools", "dynamic")
    hatch_hook = toml.table(*_HATCH_HOOK)
    if field_name in setuptools:
        _read_setuptools_dynamic(toml, field_name, setuptools[field_name])
    elif field_name in hatch_hook:
        hook_name = "[" + ".".join(_HATCH_HOOK) + "]"
        toml.note(f"{field_name} are dynamic (from {hook_name})")
        value = hatch_hook[field_name]
        if field_name == "dependencies":
            _add_templated(toml, value, _HATCH_HOOK, "dependencies", MAIN)
        elif isinstance(value, dict):
            for extra, items in value.items():
                _add_templated(
                    toml, items, (*_HATCH_HOOK, field_name), extra, optional_group(extra)
                )
    else:
        toml.note(f"{field_name} are dynamic (set by the build backend; not read)")


def _add_templated(
    toml: TomlSource, items: object, table: tuple[str, ...], key: str, group: str
) -> None:
    if not isinstance(items, list):
        where = ".".join((*table, key))
        toml.problem(toml.line_of_table(table, key), f"{where} must be an array of strings")
        return
    for item in items:
        if isinstance(item, str):
            # Bounded first: the clause regex is not linear on hostile text, and a longer
            # string is refused by parse_requirement anyway.
            too_long = len(item) > MAX_REQUIREMENT_CHARS
            cleaned = item if too_long else _TEMPLATED_CLAUSE.sub("", item).strip().rstrip(",")
            toml.add_requirement(item, table=table, key=key, group=group, requirement=cleaned)


def _read_setuptools_dynamic(toml: TomlSource, field_name: str, value: Any) -> None:
    table = ("tool", "setuptools", "dynamic")
    if field_name == "dependencies":
        _read_files(toml, value, MAIN, table, field_name)
    elif isinstance(value, dict):
        for extra, spec in value.items():
            _read_files(toml, spec, optional_group(extra), (*table, field_name), extra)


def _read_files(toml: TomlSource, spec: Any, group: str, table: tuple[str, ...], key: str) -> None:
    """Follow `{ file = "requirements.txt" }` (a string or a list of them)."""
    files = spec.get("file") if isinstance(spec, dict) else None
    if isinstance(files, str):
        files = [files]
    where = ".".join((*table, key))
    if not isinstance(files, list) or not all(isinstance(name, str) for name in files):
        toml.problem(toml.line_of_table(table, key), f"{where} must be {{ file = ... }}")
        return
    field_name = "dependencies" if group == MAIN else f"optional-dependencies {key}"
    shown = ", ".join(relative_name(toml.path.parent / name, toml.workspace) for name in files)
    toml.note(f"{field_name} are dynamic (from {shown})")
    reader = RequirementsReader(toml.workspace, detection=toml.detection)
    for name in files:
        target = toml.path.parent / name
        if not is_candidate(target):
            toml.problem(toml.line_of_table(table, key), f"{where}: file not found: {name}")
            continue
        reader.read(target, group=group)


def _read_dependency_groups(toml: TomlSource) -> None:
    """PEP 735 groups; `include-group` entries are checked (their members are listed
    under their own group already, so nothing is added twice)."""
    groups = toml.data.get("dependency-groups")
    if groups is None:
        return
    if not isinstance(groups, dict):
        toml.problem(
            toml.line_of_table((), "dependency-groups"), "dependency-groups must be a table"
        )
        return
    known = {canonicalize_name(name) for name in groups}
    includes: dict[str, list[str]] = {}
    for name, items in groups.items():
        table = ("dependency-groups",)
        if not isinstance(items, list):
            toml.problem(
                toml.line_of_table(table, name), f"dependency-groups.{name} must be an array"
            )
            continue
        includes[canonicalize_name(name)] = []
        for item in items:
            if isinstance(item, str):
                toml.add_requirement(item, table=table, key=name, group=named_group(name))
            elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
                target = item["include-group"]
                if canonicalize_name(target) not in known:
                    toml.problem(
                        toml.line_of_item(table, name, target),
                        f"dependency-groups.{name}: include-group {target!r} is not a group",
                    )
                else:
                    includes[canonicalize_name(name)].append(canonicalize_name(target))
            else:
                toml.problem(
                    toml.line_of_table(table, name),
                    f"dependency-groups.{name}: expected a string or {{ include-group = ... }}, "
                    f"got {item!r:.60}",
                )
    cycle = _find_cycle(includes)
    if cycle:
        toml.problem(
            toml.line_of_table(("dependency-groups",), None),
            "dependency-groups: include-group cycle: " + " -> ".join(cycle),
        )


def _find_cycle(edges: dict[str, list[str]]) -> list[str]:
    """The first cycle in a small graph, as a path that ends where it starts, or []."""
    done: set[str] = set()
    for start in edges:
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        while stack:
            node, index = stack[-1]
            targets = edges.get(node, [])
            if index >= len(targets):
                stack.pop()
                path.pop()
                done.add(node)
                continue
            stack[-1] = (node, index + 1)
            target = targets[index]
            if target in path:
                return [*path[path.index(target) :], target]
            if target not in done:
                stack.append((target, 0))
                path.append(target)
    return []


def _source_url(value: Any) -> str | None:
    """A uv source table as one URL-ish string (None for registry/workspace sources)."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("git"), str):
        url: str = value["git"]
        url = url if url.startswith("git+") else f"git+{url}"
        for pin in ("rev", "tag", "branch"):
            if isinstance(value.get(pin), str):
                return f"{url}@{value[pin]}"
        return url
    for key in ("url", "path"):
        if isinstance(value.get(key), str):
            return str(value[key])
    return None


def _apply_uv_sources(toml: TomlSource) -> None:
    sources = toml.table("tool", "uv", "sources")
    urls: dict[str, str] = {}
    for name, value in sources.items():
        first = value[0] if isinstance(value, list) and value else value
        url = _source_url(first)
        if url is not None:
            urls[canonicalize_name(name)] = url
    if not urls:
        return
    toml.detection.dependencies = [
        dataclasses.replace(dependency, direct_url=urls[dependency.name])
        if dependency.direct_url is None and dependency.name in urls
        else dependency
        for dependency in toml.detection.dependencies
    ]
