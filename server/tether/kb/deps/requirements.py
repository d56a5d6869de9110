"""pip requirements files (requirements*.txt, requirements/*.in, ...), includes followed.

Follows pip's own reading order: backslash continuations are joined first (a line that
is a comment never continues), then comments (`#` at the start or after whitespace) are
cut, then each line is either an option (`-r`, `-c`, `-e`, index options) or a
requirement with optional per-requirement options (`--hash=...`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tether.kb.deps.model import DEV, MAIN, Dependency, DependencyProblem, Detection
from tether.kb.deps.pep508 import parse_requirement, shorten
from tether.kb.deps.reference import Skipped, is_reference, parse_reference
from tether.kb.deps.source_file import (
    MAX_LINE_CHARS,
    is_candidate,
    read_source,
    relative_name,
    resolve_path,
    strip_comment,
)

_OPTION = re.compile(r"^(--[A-Za-z][A-Za-z0-9-]*|-[A-Za-z])(?:\s*=\s*|\s*)(.*)$")
_WORD_SPLIT = re.compile(r"[-_.\s]+")

# Words in a requirements file name that mark it as a development-only file.
_DEV_WORDS = frozenset(
    [
        "dev",
        "develop",
        "development",
        "test",
        "tests",
        "testing",
        "lint",
        "linting",
        "docs",
        "doc",
        "documentation",
        "ci",
        "typing",
        "types",
        "mypy",
        "style",
        "qa",
        "check",
        "checks",
        "bench",
        "benchmark",
        "benchmarks",
        "format",
        "tox",
        "coverage",
        "debug",
    ]
)
_INCLUDE_OPTIONS = frozenset({"-r", "--requirement"})
_CONSTRAINT_OPTIONS = frozenset({"-c", "--constraint"})
_EDITABLE_OPTIONS = frozenset({"-e", "--editable"})
# Options that apply to the whole file and do not declare anything.
_GLOBAL_OPTIONS = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "--no-index",
        "-f",
        "--find-links",
        "--no-binary",
        "--only-binary",
        "--prefer-binary",
        "--require-hashes",
        "--pre",
        "--trusted-host",
        "--use-feature",
        "-Z",
        "--always-unzip",
        "--config-settings",
        "--global-option",
        "--install-option",
    }
)
_PER_REQUIREMENT_OPTIONS = frozenset(
    {"--hash", "--global-option", "--install-option", "--config-settings"}
)
MAX_INCLUDE_DEPTH = 32


def requirements_group(path: Path) -> str:
    """`dev` for files named for development (requirements-tests.txt, requirements/docs.in)."""
    words = set(_WORD_SPLIT.split(path.stem.lower()))
    return DEV if words & _DEV_WORDS else MAIN


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first physical line number, joined line) with pip's continuation rules."""
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), start=1):
        is_comment = line.lstrip().startswith("#")
        if line.endswith("\\") and not is_comment:
            if not pending:
                first = number
            pending.append(line[:-1])
            continue
        if pending:
            pending.append(" " + line if is_comment else line)
            yield first, "".join(pending)
            pending = []
        else:
            yield number, line
    if pending:
        yield first, "".join(pending)


def _split_options(line: str) -> tuple[str, list[str]]:
    """A requirement and the per-requirement options that follow it."""
    tokens = line.split()
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]), tokens[index:]
    return " ".join(tokens), []


@dataclass
class RequirementsReader:
    """Reads requirements files into one Detection, each file at most once."""

    workspace: Path
    detection: Detection = field(default_factory=Detection)
    visited: set[Path] = field(default_factory=set)

    def read(self, path: Path, *, group: str | None = None) -> None:
        """Read `path` and everything it includes; `group` overrides the file-name rule."""
        self._read(path, chain=(), group=group)

    def _read(self, path: Path, *, chain: tuple[Path, ...], group: str | None) -> None:
        resolved = resolve_path(path)
        if resolved in self.visited:
            return
        self.visited.add(resolved)
        source = read_source(path, self.workspace)
        if source.problem is not None or source.text is None:
            if source.problem is not None:
                self.detection.problems.append(source.problem)
            return
        file_group = group or requirements_group(path)
        for number, raw in logical_lines(source.text):
            if len(raw) > MAX_LINE_CHARS:
                self.detection.problem(
                    source.name, number, f"line longer than {MAX_LINE_CHARS} characters; skipped"
                )
                continue
            line = strip_comment(raw).strip()
            if not line:
                continue
            if line.startswith("-"):
                self._option(path, source.name, number, line, (*chain, resolved), group)
            else:
                self._requirement(source.name, number, line, file_group)

    def _requirement(self, name: str, number: int, line: str, group: str) -> None:
        requirement, options = _split_options(line)
        for option in options:
            option_name = option.split("=", 1)[0]
            if option_name not in _PER_REQUIREMENT_OPTIONS:
                self.detection.problem(
                    name, number, f"unknown option {shorten(option_name, 40)!r}; line skipped"
                )
                return
        if not requirement:
            self.detection.problem(name, number, "options without a requirement")
            return
        self._add(name, number, requirement, group)

    def _add(self, name: str, number: int, requirement: str, group: str) -> None:
        parsed: Dependency | DependencyProblem | Skipped
        if is_reference(requirement):
            parsed = parse_reference(requirement, source=name, line=number, group=group)
        else:
            parsed = parse_requirement(requirement, source=name, line=number, group=group)
        if isinstance(parsed, Dependency):
            self.detection.dependencies.append(parsed)
        elif isinstance(parsed, DependencyProblem):
            self.detection.problems.append(parsed)
        else:
            self.detection.notes.append(parsed.note)

    def _option(
        self,
        path: Path,
        name: str,
        number: int,
        line: str,
        chain: tuple[Path, ...],
        group: str | None,
    ) -> None:
        match = _OPTION.match(line)
        if match is None:
            self.detection.problem(name, number, f"malformed option {shorten(line)!r}")
            return
        option, value = match.group(1), match.group(2).strip()
        if option in _EDITABLE_OPTIONS:
            requirement, _options = _split_options(value)
            if not requirement:
                self.detection.problem(name, number, f"{option} needs a path or URL")
                return
            self._add(name, number, requirement, group or requirements_group(path))
        elif option in _INCLUDE_OPTIONS:
            self._include(path, name, number, value, chain, group)
        elif option in _CONSTRAINT_OPTIONS:
            self._check_constraints(path, name, number, value)
        elif option not in _GLOBAL_OPTIONS:
            self.detection.problem(name, number, f"unknown option {shorten(option, 40)!r}")

    def _include(
        self,
        path: Path,
        name: str,
        number: int,
        value: str,
        chain: tuple[Path, ...],
        group: str | None,
    ) -> None:
        value = value.strip("\"'")
        if not value:
            self.detection.problem(name, number, "-r needs a file name")
            return
        if "://" in value:
            self.detection.notes.append(f"{name}:{number}: remote include {value} not followed")
            return
        target = path.parent / value
        resolved = resolve_path(target)
        if resolved in chain:
            root = resolve_path(self.workspace)  # chain entries are resolved paths too
            cycle = [relative_name(step, root) for step in (*chain, resolved)]
            start = cycle.index(relative_name(resolved, root))
            self.detection.problem(name, number, "include cycle: " + " -> ".join(cycle[start:]))
            return
        if len(chain) >= MAX_INCLUDE_DEPTH:
            self.detection.problem(name, number, f"includes nested deeper than {len(chain)}")
            return
        if not is_candidate(target):
            self.detection.problem(
                name, number, f"included file not found: {self._shown(value, target)}"
            )
            return
        self._read(target, chain=chain, group=group)

    def _check_constraints(self, path: Path, name: str, number: int, value: str) -> None:
        # Constraints pin versions of whatever else gets installed; they declare nothing.
        value = value.strip("\"'")
        if not value or "://" in value:
            return
        target = path.parent / value
        if not is_candidate(target):
            shown = self._shown(value, target)
            self.detection.problem(name, number, f"constraints file not found: {shown}")

    def _shown(self, value: str, target: Path) -> str:
        """The include as written, plus where that is when it differs."""
        where = relative_name(target, self.workspace)
        return value if where == value else f"{value} ({where})"


def parse_requirements_file(path: Path, workspace: Path, *, group: str | None = None) -> Detection:
    reader = RequirementsReader(workspace)
    reader.read(path, group=group)
    return reader.detection
