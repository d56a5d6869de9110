"""Which of the workspace's dependencies a prompt concerns, for its context pack.

In order: dependencies named in the prompt; dependencies imported by the files the prompt
names (or the `files` input lists); when neither finds any, every direct dependency. The
list is capped. Files are read statically (ast for Python, a regex for JS/TS imports) and
only inside the workspace; project code is never imported.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from tether.engine.context import StepContext
from tether.kb.deps import Dependency, detect_dependencies
from tether.kb.deps.model import MAIN

DEFAULT_LIMIT = 8
MAX_FILE_BYTES = 512 * 1024
_WORD = re.compile(r"[@A-Za-z0-9_][@A-Za-z0-9_.\-/]*")
_PATH = re.compile(r"[\w.\-/]+\.(?:py|pyi|js|jsx|mjs|cjs|ts|tsx)\b")
_JS_IMPORT = re.compile(r"""(?:\bfrom\s+|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"'\s]+)["']""")
_PYTHON = (".py", ".pyi")
# Import names that differ from their distribution's name, for the common cases.
_IMPORT_ALIASES = {
    "yaml": "pyyaml",
    "pil": "pillow",
    "bs4": "beautifulsoup4",
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "jwt": "pyjwt",
    "attr": "attrs",
    "magic": "python-magic",
}


@dataclass
class Choice:
    libraries: list[str] = field(default_factory=list)
    mentioned: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "libraries": self.libraries,
            "mentioned": self.mentioned,
            "imported": self.imported,
            "files": self.files,
            "reason": self.reason,
        }


def pick_libraries(ctx: StepContext) -> dict[str, Any]:
    """Python step (sync: runs in a worker thread). Inputs: prompt, files, limit."""
    inputs = ctx.inputs
    limit = limit_of(inputs.get("limit", DEFAULT_LIMIT))
    files = file_list(inputs.get("files", []))
    return choose_libraries(ctx.workspace, str(inputs.get("prompt", "")), files, limit).to_json()


def choose_libraries(workspace: Path, prompt: str, files: list[str], limit: int) -> Choice:
    dependencies = detect_dependencies(workspace).dependencies
    lookup = _lookup_table(dependencies)
    choice = Choice()
    for word in _WORD.findall(prompt):
        found = _match(word, lookup)
        if found and found not in choice.mentioned:
            choice.mentioned.append(found)
    named = [*files, *_PATH.findall(prompt)]
    for relative in dict.fromkeys(named):
        path = _inside(workspace, relative)
        if path is None:
            continue
        choice.files.append(relative)
        for module in _imports(path):
            found = _match(module, lookup)
            if found and found not in choice.imported:
                choice.imported.append(found)
    chosen = list(dict.fromkeys([*choice.mentioned, *choice.imported]))
    if chosen:
        choice.reason = "named in the prompt or imported by the files it names"
    else:
        # Only direct ones, unless there are none: an empty list would make the docs
        # kind look up every dependency, uncapped.
        chosen = [dep.name for dep in dependencies if dep.group == MAIN] or [
            dep.name for dep in dependencies
        ]
        choice.reason = "nothing named or imported: every direct dependency"
    if len(chosen) > limit:
        choice.reason += f" (first {limit} of {len(chosen)})"
    choice.libraries = chosen[:limit]
    return choice


def limit_of(value: Any) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return DEFAULT_LIMIT


def file_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(item) for item in value if str(item).strip()]
    return []


def _lookup_table(dependencies: Iterable[Dependency]) -> dict[str, str]:
    """Every spelling a prompt or an import may use -> the dependency's name."""
    table: dict[str, str] = {}
    for dep in dependencies:
        keys = {dep.name, dep.display_name.lower()}
        if dep.ecosystem == "pypi":
            keys.add(dep.name.replace("-", "_"))
            if dep.name.startswith("python-"):
                keys.add(dep.name.removeprefix("python-"))
        for key in keys:
            table.setdefault(key.lower(), dep.name)
    for alias, name in _IMPORT_ALIASES.items():
        if name in table.values():
            table.setdefault(alias, name)
    return table


def _match(word: str, table: dict[str, str]) -> str | None:
    word = word.strip(".-/").lower()
    if not word:
        return None
    if word.startswith("@"):  # npm scope: @scope/name
        return table.get("/".join(word.split("/")[:2]))
    head = re.split(r"[./]", word, maxsplit=1)[0]
    for candidate in (word, head, str(canonicalize_name(head))):
        if candidate in table:
            return table[candidate]
    return None


def _inside(workspace: Path, relative: str) -> Path | None:
    """The named file if it is a regular file inside the workspace; else None."""
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts:
        return None
    try:
        path = (workspace / candidate).resolve()
        path.relative_to(workspace.resolve())
    except (OSError, ValueError):
        return None
    return path if path.is_file() else None


def _imports(path: Path) -> list[str]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return []
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    if path.suffix in _PYTHON:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            return []
        modules: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.append(node.module)
        return modules
    return [name for name in _JS_IMPORT.findall(text) if not name.startswith(".")]
