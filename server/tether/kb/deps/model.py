"""The data that dependency detection produces: dependencies, problems and notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PYPI = "pypi"
NPM = "npm"

MAIN = "main"
DEV = "dev"
OPTIONAL_PREFIX = "optional:"
GROUP_PREFIX = "group:"


def optional_group(name: str) -> str:
    """The group label of an extra (`[project.optional-dependencies] NAME`)."""
    return f"{OPTIONAL_PREFIX}{name}"


def named_group(name: str) -> str:
    """The group label of a named group (PEP 735, Poetry, PDM); `dev` stays `dev`."""
    return DEV if name.strip().lower() == DEV else f"{GROUP_PREFIX}{name}"


def group_rank(group: str) -> int:
    """How direct a group is: lower wins when one package appears in several groups."""
    if group == MAIN:
        return 0
    if group.startswith(OPTIONAL_PREFIX):
        return 1
    if group.startswith(GROUP_PREFIX):
        return 2
    return 3


@dataclass(frozen=True)
class Dependency:
    """One declared dependency of the workspace."""

    name: str
    """Canonical name: `canonicalize_name` for PyPI; the lowercased package name for npm."""
    display_name: str
    """The name as written in the file (for an npm alias, the alias)."""
    ecosystem: str
    """`pypi` or `npm`."""
    spec: str
    """Version specifier as written (`""` if none); PEP 508 specs lose their whitespace."""
    version: str | None
    """Resolved version: from a lock file, else from installed metadata; None if unknown."""
    group: str
    """`main`, `dev`, `optional:NAME` or `group:NAME`."""
    source: str
    """The declaring file, relative to the workspace, with forward slashes."""
    line: int | None
    """1-based line in `source` where known."""
    extras: tuple[str, ...] = ()
    """Requested extras, as written."""
    marker: str | None = None
    """Environment marker, if any."""
    direct_url: str | None = None
    """VCS, URL or local path reference, if the dependency is not from a registry."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "ecosystem": self.ecosystem,
            "spec": self.spec,
            "version": self.version,
            "group": self.group,
            "source": self.source,
            "line": self.line,
            "extras": list(self.extras),
            "marker": self.marker,
            "direct_url": self.direct_url,
        }


@dataclass(frozen=True)
class DependencyProblem:
    """A malformed file or line that was skipped."""

    path: str
    """The file, relative to the workspace."""
    line: int | None
    """1-based line where known."""
    reason: str
    """One line saying what is wrong."""

    def __post_init__(self) -> None:
        # Reasons quote names from hostile files; a newline in one must not split the report.
        if not self.reason.isprintable() or "  " in self.reason:
            object.__setattr__(self, "reason", " ".join(self.reason.split()))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "reason": self.reason}


@dataclass
class Detection:
    """Everything found in one file or one workspace."""

    dependencies: list[Dependency] = field(default_factory=list)
    problems: list[DependencyProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Facts worth knowing that are not errors, e.g. dynamic dependencies."""

    def extend(self, other: Detection) -> None:
        self.dependencies.extend(other.dependencies)
        self.problems.extend(other.problems)
        self.notes.extend(other.notes)

    def problem(self, path: str, line: int | None, reason: str) -> None:
        self.problems.append(DependencyProblem(path, line, reason))

    def to_json(self) -> dict[str, Any]:
        return {
            "dependencies": [dependency.to_json() for dependency in self.dependencies],
            "problems": [problem.to_json() for problem in self.problems],
            "notes": list(self.notes),
        }
