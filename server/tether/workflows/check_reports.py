"""What each check tool reported, read from its machine-readable output.

An agent acts on `path:line: code message` and on failing test ids with their assertion
message, not on progress dots or the last line of a traceback. Only errors count: a
warning or a note never stands in for an error.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TSC_LINE = re.compile(r"^(?P<path>.+?)\((?P<line>\d+),\d+\): error (?P<code>TS\d+): (?P<msg>.*)$")
_ERROR_WORDS = re.compile(r"\b(error|errors|fail|failed|failing|failure|not ok)\b", re.I)
_MESSAGE_CHARS = 300


@dataclass
class ToolReport:
    """Errors found (each one line, most useful first) and counts for the one-line story."""

    errors: list[str] = field(default_factory=list)
    passed: int | None = None
    """Tests that passed (pytest); None for tools that do not count."""
    total_errors: int = 0


def _one_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return (lines[0] if lines else "")[:_MESSAGE_CHARS]


def _relative(path: str, workspace: Path) -> str:
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            return str(candidate.relative_to(workspace))
        except ValueError:
            return path
    return path


def read_junit(path: Path) -> ToolReport | None:
    """pytest's junit XML (xunit1 family: testcases carry `file` and `line`); None when the
    file is missing or unreadable (pytest stopped before writing it)."""
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError):
        return None
    report = ToolReport(passed=0)
    for case in root.iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            if case.find("skipped") is None:
                report.passed = (report.passed or 0) + 1
            continue
        report.total_errors += 1
        message = _one_line(problem.get("message")) or _one_line(problem.text)
        report.errors.append(f"{_test_id(case)}: {message}" if message else _test_id(case))
    return report


def _test_id(case: ElementTree.Element) -> str:
    """pytest's node id, `tests/test_x.py::TestClass::test_name[param]`, from a testcase."""
    name = case.get("name", "")
    classname = case.get("classname", "")
    file = case.get("file")
    if not file:
        return f"{classname}::{name}" if classname else name
    module = file.removesuffix(".py").replace("/", ".").replace("\\", ".")
    classes = classname.removeprefix(module).strip(".")
    return "::".join(part for part in (file, classes, name) if part)


def read_ruff_json(text: str, workspace: Path) -> ToolReport | None:
    """`ruff check --output-format json`: a list of violations."""
    try:
        violations = json.loads(text)
    except ValueError:
        return None
    if not isinstance(violations, list):
        return None
    report = ToolReport()
    for item in violations:
        if not isinstance(item, dict):
            continue
        location = item.get("location") or {}
        where = _relative(str(item.get("filename", "?")), workspace)
        code = item.get("code") or "syntax-error"
        message = _one_line(str(item.get("message", "")))
        report.errors.append(f"{where}:{location.get('row', '?')}: {code} {message}")
    report.total_errors = len(report.errors)
    return report


def read_mypy_json(text: str, workspace: Path) -> ToolReport:
    """`mypy --output json`: one JSON object a line; notes are context, not errors."""
    report = ToolReport()
    for line in text.splitlines():
        try:
            item: Any = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict) or item.get("severity") != "error":
            continue
        where = _relative(str(item.get("file", "?")), workspace)
        code = item.get("code") or "error"
        message = _one_line(str(item.get("message", "")))
        report.errors.append(f"{where}:{item.get('line', '?')}: {code} {message}")
    report.total_errors = len(report.errors)
    return report


def read_tsc(text: str) -> ToolReport:
    """`tsc --noEmit --pretty false`: `path(line,col): error TSnnnn: message` lines."""
    report = ToolReport()
    for line in text.splitlines():
        found = _TSC_LINE.match(line.strip())
        if found:
            report.errors.append(
                f"{found['path']}:{found['line']}: {found['code']} {found['msg'][:_MESSAGE_CHARS]}"
            )
    report.total_errors = len(report.errors)
    return report


def first_error_lines(text: str, limit: int) -> list[str]:
    """The first lines of free-form output (npm test) that say error or failure."""
    found = [
        line.strip()[:_MESSAGE_CHARS] for line in text.splitlines() if _ERROR_WORDS.search(line)
    ]
    return found[:limit]
