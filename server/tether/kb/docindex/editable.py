"""Where an editable install's code lives, and whether it has changed.

`direct_url.json` says an install is editable and names the project directory; the
installer's `.pth` file (or setuptools' `__editable__` finder) says which directories hold
its packages. The fingerprint changes whenever a source file is added, removed or edited,
so the index of an editable install follows the tree rather than the (unchanging) version.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

DOC_SUFFIXES = (".md", ".rst", ".markdown", ".txt")
DOC_FILES_MAX = 200
TREE_FILES_MAX = 5_000
_SKIPPED_DIRS = frozenset(
    {".git", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".mypy_cache", "build"}
    | {"dist", ".pytest_cache", ".ruff_cache", "site-packages"}
)
_FINDER_MAPPING = re.compile(r"MAPPING\s*(?::[^=]*)?=\s*(\{[^}]*\})", re.S)
_CHANGELOG_FILE = re.compile(
    r"(change|history|news|release|whatsnew|what-s-new|upgrad|migrat|authors|contributors"
    r"|license|licence|copying|notice|code.of.conduct|security)",
    re.IGNORECASE,
)


def is_changelog_file(relative: str) -> bool:
    """True for a file whose name says it is a changelog, licence or the like."""
    name = relative.replace("\\", "/").rsplit("/", 1)[-1]
    return bool(_CHANGELOG_FILE.search(name))


@dataclass(frozen=True, slots=True)
class SourceTree:
    """Where an editable install's code lives."""

    project: Path
    """The project directory direct_url.json names."""
    packages: dict[str, Path]
    """Top-level package or module name -> its directory or file."""


def editable_tree(metadata_dir: Path, site_dir: Path, dist_name: str) -> SourceTree | None:
    """The source tree of an editable install, or None for a regular one."""
    try:
        direct = json.loads((metadata_dir / "direct_url.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(direct, dict):
        return None
    dir_info = direct.get("dir_info")
    url = direct.get("url")
    if not (isinstance(dir_info, dict) and dir_info.get("editable")) or not isinstance(url, str):
        return None
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    project = Path(unquote(parsed.path))
    if not project.is_dir():
        return None
    wanted = _top_level_names(metadata_dir, dist_name)
    packages: dict[str, Path] = {}
    for root in _editable_roots(metadata_dir, site_dir, project):
        for name, path in _packages_in(root).items():
            if name in wanted:
                packages.setdefault(name, path)
    packages.update(_finder_mapping(site_dir, wanted))
    return SourceTree(project, packages)


def _top_level_names(metadata_dir: Path, dist_name: str) -> set[str]:
    names = {dist_name.replace("-", "_").replace(".", "_").lower()}
    try:
        listed = (metadata_dir / "top_level.txt").read_text("utf-8").split()
    except OSError:
        listed = []
    names.update(name.strip() for name in listed if name.strip().isidentifier())
    return names


def _editable_roots(metadata_dir: Path, site_dir: Path, project: Path) -> list[Path]:
    """Directories put on sys.path by the install's .pth files, then the usual layouts."""
    roots: list[Path] = []
    for record_line in record_lines(metadata_dir):
        if not record_line.endswith(".pth"):
            continue
        try:
            lines = (site_dir / record_line).read_text("utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            line = line.strip()
            if line and not line.startswith(("#", "import ")) and Path(line).is_dir():
                roots.append(Path(line))
    return [*roots, project / "src", project]


def _finder_mapping(site_dir: Path, wanted: set[str]) -> dict[str, Path]:
    """setuptools' `__editable___NAME_finder.py` holds MAPPING = {'pkg': '/path/to/pkg'}."""
    found: dict[str, Path] = {}
    for finder in site_dir.glob("__editable___*_finder.py"):
        try:
            match = _FINDER_MAPPING.search(finder.read_text("utf-8")[:200_000])
        except OSError:
            continue
        if match is None:
            continue
        try:
            import ast

            mapping = ast.literal_eval(match.group(1))
        except (ValueError, SyntaxError):
            continue
        if isinstance(mapping, dict):
            for name, path in mapping.items():
                if isinstance(name, str) and isinstance(path, str) and name in wanted:
                    found[name] = Path(path)
    return found


def _packages_in(root: Path) -> dict[str, Path]:
    packages: dict[str, Path] = {}
    try:
        entries = list(os.scandir(root))
    except OSError:
        return packages
    for entry in entries:
        if entry.is_dir() and (Path(entry.path) / "__init__.py").is_file():
            packages[entry.name.lower()] = Path(entry.path)
        elif entry.name.endswith(".py") and entry.is_file():
            packages[entry.name[:-3].lower()] = Path(entry.path)
    return packages


def record_lines(metadata_dir: Path) -> list[str]:
    try:
        text = (metadata_dir / "RECORD").read_text("utf-8")
    except OSError:
        return []
    return [line.split(",", 1)[0] for line in text.splitlines() if line.strip()]


def tree_fingerprint(tree: SourceTree) -> str:
    """Changes whenever a source file of the tree is added, removed or modified."""
    digest = hashlib.sha256()
    for _relative, path in sorted(tree_files(tree)):
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"{path}\0{stat.st_mtime_ns}\0{stat.st_size}\n".encode())
    for doc in tree_doc_files(tree):
        try:
            digest.update(f"{doc}\0{doc.stat().st_mtime_ns}\n".encode())
        except OSError:
            continue
    return digest.hexdigest()[:16]


def tree_files(tree: SourceTree) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    for name, path in tree.packages.items():
        if path.is_file():
            files.append((path.name, path))
            continue
        for directory, subdirs, names in os.walk(path):
            subdirs[:] = [d for d in subdirs if d not in _SKIPPED_DIRS and not d.startswith(".")]
            for file_name in names:
                if file_name.endswith((".py", ".pyi")):
                    full = Path(directory) / file_name
                    files.append((f"{name}/{full.relative_to(path).as_posix()}", full))
                    if len(files) >= TREE_FILES_MAX:
                        return files
    return files


def tree_doc_files(tree: SourceTree) -> list[Path]:
    found: list[Path] = []
    docs = tree.project / "docs"
    if docs.is_dir():
        for directory, subdirs, names in os.walk(docs):
            subdirs[:] = [d for d in subdirs if d not in _SKIPPED_DIRS and not d.startswith(".")]
            for file_name in sorted(names):
                if file_name.endswith(DOC_SUFFIXES) and not is_changelog_file(file_name):
                    found.append(Path(directory) / file_name)
                    if len(found) >= DOC_FILES_MAX:
                        return found
    return found
