"""Writing dependency files into a test workspace and parsing them back, for the deps tests."""

from __future__ import annotations

from pathlib import Path

from tether.kb.deps import Dependency, Detection, parse_dependency_file


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def parse_file(root: Path, name: str, text: str) -> Detection:
    return parse_dependency_file(write(root, name, text), root)


def by_name(detection: Detection) -> dict[str, Dependency]:
    return {dependency.name: dependency for dependency in detection.dependencies}
