"""package.json: dependencies, devDependencies, peerDependencies, optionalDependencies.

Specs are kept as written (`^4.17.0`, `workspace:*`, `file:./x`); an `npm:` alias is
recorded under the real package name, with the alias as its display name (that is the
folder it is installed in).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tether.kb.deps.json_source import load_json
from tether.kb.deps.line_finder import LineFinder
from tether.kb.deps.model import DEV, MAIN, NPM, Dependency, Detection
from tether.kb.deps.pep508 import shorten

# npm's own rule (validate-npm-package-name), relaxed to allow legacy upper-case names.
_NPM_NAME = re.compile(r"^(?:@[a-z0-9~-][a-z0-9._~-]*/)?[a-z0-9~-][a-z0-9._~-]*$", re.IGNORECASE)
_MAX_NAME = 214
SECTIONS = (
    ("dependencies", MAIN),
    ("optionalDependencies", "optional:optionalDependencies"),
    ("peerDependencies", "group:peerDependencies"),
    ("devDependencies", DEV),
)
_LOCATION_PREFIXES = (
    "file:",
    "link:",
    "portal:",
    "patch:",
    "git:",
    "git+",
    "github:",
    "gitlab:",
    "bitbucket:",
    "gist:",
    "http:",
    "https:",
)
_GITHUB_SHORTHAND = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(#.*)?$")


@dataclass
class PackageJson:
    """What one package.json declares, plus its workspace globs."""

    detection: Detection = field(default_factory=Detection)
    workspaces: list[str] = field(default_factory=list)


def is_npm_name(name: str) -> bool:
    return len(name) <= _MAX_NAME and _NPM_NAME.match(name) is not None


def _alias_target(spec: str) -> tuple[str, str] | None:
    """`npm:slash@^3.0.0` -> ("slash", "^3.0.0"); `npm:@scope/x` -> ("@scope/x", "")."""
    target = spec[len("npm:") :]
    at = target.find("@", 1)
    name, version = (target, "") if at == -1 else (target[:at], target[at + 1 :])
    return (name, version) if is_npm_name(name) else None


def read_package_json(path: Path, workspace: Path) -> PackageJson:
    loaded = load_json(path, workspace)
    result = PackageJson()
    detection = result.detection
    if loaded.problem is not None or loaded.data is None:
        if loaded.problem is not None:
            detection.problems.append(loaded.problem)
        return result
    data = loaded.data
    finder = LineFinder(loaded.text)
    for section, group in SECTIONS:
        entries = data.get(section)
        if entries is None:
            continue
        section_offset = finder.key(section) or 0
        if not isinstance(entries, dict):
            section_line = finder.line_at(section_offset)
            detection.problem(loaded.name, section_line, f"{section} must be an object")
            continue
        for written, spec in entries.items():
            found = finder.key(written, section_offset)
            line = None if found is None else finder.line_at(found)
            dependency = _dependency(loaded.name, line, section, written, spec, group, detection)
            if dependency is not None:
                detection.dependencies.append(dependency)
    result.workspaces = _workspace_globs(data.get("workspaces"))
    return result


def _dependency(
    source: str,
    line: int | None,
    section: str,
    written: str,
    spec: object,
    group: str,
    detection: Detection,
) -> Dependency | None:
    if not is_npm_name(written):
        detection.problem(source, line, f"{section}: invalid package name {shorten(written)!r}")
        return None
    if not isinstance(spec, str):
        detection.problem(source, line, f"{section}.{written}: version must be a string")
        return None
    spec = spec.strip()
    name = written
    if spec.startswith("npm:"):
        alias = _alias_target(spec)
        if alias is None:
            detection.problem(source, line, f"{section}.{written}: invalid alias {shorten(spec)!r}")
            return None
        name, spec = alias
    direct_url = None
    if spec.startswith(_LOCATION_PREFIXES) or _GITHUB_SHORTHAND.match(spec):
        direct_url = spec
    return Dependency(
        name=name.lower(),
        display_name=written,
        ecosystem=NPM,
        spec=spec,
        version=None,
        group=group,
        source=source,
        line=line,
        direct_url=direct_url,
    )


def _workspace_globs(value: object) -> list[str]:
    """`"workspaces": [...]` (npm, yarn berry) or `{"packages": [...]}` (yarn classic)."""
    if isinstance(value, dict):
        value = value.get("packages")
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def parse_package_json(path: Path, workspace: Path) -> Detection:
    return read_package_json(path, workspace).detection
