"""A parsed TOML dependency file plus what every TOML reader needs: lines and problems."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.kb.deps.line_finder import LineFinder
from tether.kb.deps.model import Dependency, DependencyProblem, Detection
from tether.kb.deps.pep508 import parse_requirement, shorten
from tether.kb.deps.reference import Skipped, parse_reference
from tether.kb.deps.source_file import read_source

_AT_LINE = re.compile(r"\(at line (\d+)")


@dataclass
class TomlSource:
    """One TOML file being read: its data, where things are in it, and what was found."""

    path: Path
    workspace: Path
    name: str
    data: dict[str, Any]
    finder: LineFinder
    detection: Detection = field(default_factory=Detection)
    _offsets: dict[tuple[tuple[str, ...], str | None], int] = field(default_factory=dict)

    def table(self, *keys: str) -> dict[str, Any]:
        """The nested table at `keys`, or {} (a non-table there is reported)."""
        node: Any = self.data
        for index, key in enumerate(keys):
            if not isinstance(node, dict):
                return {}
            node = node.get(key, {})
            if not isinstance(node, dict):
                where = ".".join(keys[: index + 1])
                self.problem(self.line_of_table(keys[:-1], keys[-1]), f"{where} must be a table")
                return {}
        result: dict[str, Any] = node
        return result

    def problem(self, line: int | None, reason: str) -> None:
        problem = DependencyProblem(self.name, line, reason)
        if problem not in self.detection.problems:  # a bad table is met by several readers
            self.detection.problems.append(problem)

    def note(self, text: str) -> None:
        self.detection.notes.append(f"{self.name}: {text}")

    def key_offset(self, table: tuple[str, ...], key: str | None) -> int:
        """Where `key` of `table` starts (its `key =` line or its own `[table.key]` header)."""
        cached = self._offsets.get((table, key))
        if cached is None:
            cached = self._offsets[(table, key)] = self._key_offset(table, key)
        return cached

    def _key_offset(self, table: tuple[str, ...], key: str | None) -> int:
        start = self.finder.table(*table)
        if key is None:
            return start
        own_header = self.finder.table(*table, key)
        if own_header:
            return own_header
        offset = self.finder.key(key, start)
        return start if offset is None else offset

    def line_of_table(self, table: tuple[str, ...], key: str | None) -> int | None:
        return self.finder.line_at(self.key_offset(table, key))

    def line_of_item(self, table: tuple[str, ...], key: str | None, item: str) -> int | None:
        """Line of a string `item` inside the array `key` of `table`."""
        start = self.key_offset(table, key)
        line = self.finder.find_any((f'"{item}"', f"'{item}'", item), start)
        if line is None:
            head = item.split(";", 1)[0].strip()
            line = self.finder.find(head, start)
        return line

    def line_of_key(self, table: tuple[str, ...], key: str) -> int | None:
        offset = self.finder.key(key, self.finder.table(*table))
        return None if offset is None else self.finder.line_at(offset)

    def add_requirements(
        self, items: object, *, table: tuple[str, ...], key: str, group: str
    ) -> list[Dependency]:
        """Parse an array of PEP 508 strings; anything else in it is reported."""
        where = ".".join((*table, key))
        if not isinstance(items, list):
            self.problem(self.line_of_table(table, key), f"{where} must be an array of strings")
            return []
        added: list[Dependency] = []
        for item in items:
            if not isinstance(item, str):
                line = self.line_of_table(table, key)
                self.problem(line, f"{where}: expected a requirement string, got {item!r:.60}")
                continue
            added.extend(self.add_requirement(item, table=table, key=key, group=group))
        return added

    def add_requirement(
        self,
        item: str,
        *,
        table: tuple[str, ...],
        key: str | None,
        group: str,
        requirement: str | None = None,
    ) -> list[Dependency]:
        """Parse `requirement` (default: `item`), located in the file by `item`."""
        line = self.line_of_item(table, key, item)
        text = item if requirement is None else requirement
        parsed: Dependency | DependencyProblem | Skipped
        if text.startswith("-e "):  # PDM writes editable local packages this way
            parsed = parse_reference(text[3:], source=self.name, line=line, group=group)
        else:
            parsed = parse_requirement(text, source=self.name, line=line, group=group)
        if isinstance(parsed, Dependency):
            self.detection.dependencies.append(parsed)
            return [parsed]
        if isinstance(parsed, DependencyProblem):
            self.detection.problems.append(parsed)
        else:
            self.detection.notes.append(parsed.note)
        return []


def load_toml(path: Path, workspace: Path) -> tuple[TomlSource | None, Detection]:
    """The file parsed, or None plus a Detection holding the one problem that stopped it."""
    source = read_source(path, workspace)
    failed = Detection()
    if source.problem is not None or source.text is None:
        if source.problem is not None:
            failed.problems.append(source.problem)
        return None, failed
    try:
        data = tomllib.loads(source.text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        found = _AT_LINE.search(message)
        line = int(found.group(1)) if found else None
        reason = _AT_LINE.split(message, maxsplit=1)[0].strip() or "invalid TOML"
        failed.problem(source.name, line, f"invalid TOML: {shorten(reason, 120)}")
        return None, failed
    except RecursionError:
        failed.problem(source.name, None, "invalid TOML: nested too deeply")
        return None, failed
    toml = TomlSource(path, workspace, source.name, data, LineFinder(source.text))
    return toml, toml.detection
