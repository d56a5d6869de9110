"""setup.cfg: `[options] install_requires`, `tests_require`, `[options.extras_require]`.

Read with configparser (no interpolation, so `%%` in URLs is harmless); setup.py is never
run. A value of `file: requirements.txt` is followed like setuptools does.
"""

from __future__ import annotations

import configparser
from pathlib import Path

from tether.kb.deps.line_finder import LineFinder
from tether.kb.deps.model import DEV, MAIN, Dependency, DependencyProblem, Detection, optional_group
from tether.kb.deps.pep508 import parse_requirement, shorten
from tether.kb.deps.requirements import RequirementsReader
from tether.kb.deps.source_file import (
    MAX_LINE_CHARS,
    first_long_line,
    is_candidate,
    read_source,
    strip_comment,
)


def parse_setup_cfg(path: Path, workspace: Path) -> Detection:
    source = read_source(path, workspace)
    detection = Detection()
    if source.problem is not None or source.text is None:
        if source.problem is not None:
            detection.problems.append(source.problem)
        return detection
    long_line = first_long_line(source.text)
    if long_line is not None:
        # configparser's option regex is quadratic on a long line without `=`: refuse first.
        detection.problem(
            source.name, long_line, f"line longer than {MAX_LINE_CHARS} characters; not read"
        )
        return detection
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(source.text, source=source.name)
    except configparser.Error as error:
        line = getattr(error, "lineno", None)
        errors = getattr(error, "errors", None)
        if line is None and errors:
            line = errors[0][0]
        reason = str(error).splitlines()[0]
        detection.problem(source.name, line, f"invalid setup.cfg: {shorten(reason, 120)}")
        return detection
    finder = LineFinder(source.text)
    reader = _SetupCfgReader(path, workspace, source.name, finder, detection)
    if parser.has_section("options"):
        options = parser["options"]
        for key, group in (("install_requires", MAIN), ("tests_require", DEV)):
            if key in options:
                reader.add_value(options[key], section="options", key=key, group=group)
    if parser.has_section("options.extras_require"):
        for extra, value in parser["options.extras_require"].items():
            if extra in parser.defaults():
                continue
            reader.add_value(
                value, section="options.extras_require", key=extra, group=optional_group(extra)
            )
    return detection


class _SetupCfgReader:
    def __init__(
        self, path: Path, workspace: Path, name: str, finder: LineFinder, detection: Detection
    ) -> None:
        self.path = path
        self.workspace = workspace
        self.name = name
        self.finder = finder
        self.detection = detection

    def add_value(self, value: str, *, section: str, key: str, group: str) -> None:
        start = self.finder.table(section)
        key_offset = self.finder.key(key, start)
        start = start if key_offset is None else key_offset
        if value.strip().startswith("file:"):
            self._follow_files(value.strip()[len("file:") :], start, group)
            return
        for raw in value.splitlines():
            text = strip_comment(raw).strip()
            if not text or text.startswith("#"):
                continue
            line = self.finder.find(text, start)
            parsed = parse_requirement(text, source=self.name, line=line, group=group)
            if isinstance(parsed, Dependency):
                self.detection.dependencies.append(parsed)
            elif isinstance(parsed, DependencyProblem):
                self.detection.problems.append(parsed)

    def _follow_files(self, names: str, start: int, group: str) -> None:
        reader = RequirementsReader(self.workspace, detection=self.detection)
        for name in (n.strip() for n in names.split(",")):
            if not name:
                continue
            target = self.path.parent / name
            if not is_candidate(target):
                line = self.finder.line_at(start)
                self.detection.problem(self.name, line, f"file: {name} not found")
                continue
            reader.read(target, group=group)
