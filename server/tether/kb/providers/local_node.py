"""Documentation for packages installed in the workspace's `node_modules`, read from disk.

package.json (version, repository), and the docs index of a package (see
tether.kb.docindex.node_source) built from its description, README and TypeScript
declarations, following the files they re-export from. Nothing is executed. Every path
is checked to stay inside the package directory (a hostile package.json can name any
file). All functions block; the local provider calls them from a worker thread.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.kb.providers.readme import clean_readme

if TYPE_CHECKING:
    from tether.kb.docindex.cache import IndexCache, LibraryIndex
    from tether.kb.docindex.records import Record

logger = logging.getLogger(__name__)

PACKAGE_JSON_LIMIT = 1_000_000
"""Bytes; a larger package.json is not a real one."""
DECLARATIONS_LIMIT = 400_000
"""Bytes of `.d.ts` read for exported names."""
README_BYTES_LIMIT = 400_000

_README_NAMES = ("README.md", "readme.md", "Readme.md", "README.markdown", "README", "README.txt")


class NodeModules:
    """Packages under `<workspace>/node_modules`, and under the `node_modules` of the
    JavaScript projects in the workspace's folders (two levels down: `editor-client/vscode`
    in a repository whose root is a Python project), the workspace's own first."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.root = workspace / "node_modules"
        self._roots: list[Path] | None = None

    def roots(self) -> list[Path]:
        if self._roots is None:
            found = [self.root] if self.root.is_dir() else []
            found += _nested_node_modules(self.workspace, NESTED_DEPTH)
            self._roots = found
        return self._roots

    def package_dir(self, library: str) -> Path | None:
        """The package's directory, only if it resolves inside its node_modules."""
        for root in self.roots():
            candidate = root.joinpath(*library.split("/"))
            try:
                resolved = candidate.resolve()
                resolved_root = root.resolve()
            except OSError:
                continue
            # pnpm links packages into node_modules/.pnpm; anything outside is refused.
            if resolved.is_relative_to(resolved_root) and (resolved / "package.json").is_file():
                return resolved
        return None

    def manifest(self, library: str) -> dict[str, Any] | None:
        directory = self.package_dir(library)
        if directory is None:
            return None
        return _read_manifest(directory / "package.json")

    def version(self, library: str) -> str | None:
        manifest = self.manifest(library)
        version = manifest.get("version") if manifest else None
        return version if isinstance(version, str) and version else None

    def repository_url(self, library: str) -> str | None:
        manifest = self.manifest(library)
        if not manifest:
            return None
        repository = manifest.get("repository")
        if isinstance(repository, dict):
            repository = repository.get("url")
        if isinstance(repository, str) and repository:
            return repository
        homepage = manifest.get("homepage")
        return homepage if isinstance(homepage, str) and "github.com" in homepage else None

    def library_index(self, library: str, cache: IndexCache) -> LibraryIndex | None:
        """The searchable index of `library` at its installed version, built on first use."""
        from tether.kb.docindex.cache import IndexKey
        from tether.kb.docindex.node_source import package_records

        directory = self.package_dir(library)
        if directory is None:
            return None
        manifest = _read_manifest(directory / "package.json")
        if manifest is None:
            return None
        version = manifest.get("version") if isinstance(manifest.get("version"), str) else ""
        key = IndexKey("npm", library, str(version), str(directory))

        def build() -> list[Record]:
            description = manifest.get("description")
            readme = _read_readme(directory)
            declarations = _declarations_file(directory, manifest)
            text = _declarations_text(declarations, directory) if declarations else None
            return package_records(
                library,
                description.strip() if isinstance(description, str) else "",
                clean_readme(readme, "text/markdown") if readme else "",
                text or "",
            )

        return cache.get(
            key, build, {"name": library, "version": str(version), "source": str(directory)}
        )


NESTED_DEPTH = 2
_NOT_PROJECTS = frozenset({"node_modules", ".git", ".venv", "venv", "dist", "build", "out"})


def _nested_node_modules(workspace: Path, depth: int) -> list[Path]:
    """`node_modules` folders beside a package.json in the workspace's subfolders."""
    found: list[Path] = []
    level = [workspace]
    for _ in range(depth):
        deeper: list[Path] = []
        for directory in level:
            try:
                children = sorted(entry for entry in directory.iterdir() if entry.is_dir())
            except OSError:
                continue
            for child in children:
                if child.name in _NOT_PROJECTS or child.name.startswith("."):
                    continue
                if (child / "package.json").is_file() and (child / "node_modules").is_dir():
                    found.append(child / "node_modules")
                deeper.append(child)
        level = deeper
    return found


_REEXPORT = re.compile(
    r"^[ \t]*export[ \t]+(?:type[ \t]+)?(?:\*(?:[ \t]+as[ \t]+[\w$]+)?|\{[^{}]{0,5000}\})"
    r"[ \t]*from[ \t]*['\"](\.{1,2}/[^'\"]{1,300})['\"]",
    re.MULTILINE,
)
DECLARATION_FILES_MAX = 60


def _declarations_text(entry: Path, directory: Path) -> str:
    """The entry `.d.ts` and the files it re-exports from (`export * from './x.js'`,
    `export { a } from './y'`), transitively, within the package and within bounds."""
    texts: list[str] = []
    pending = [entry]
    seen: set[Path] = set()
    budget = DECLARATIONS_LIMIT * 4
    while pending and len(seen) < DECLARATION_FILES_MAX and budget > 0:
        path = pending.pop(0)
        if path in seen:
            continue
        seen.add(path)
        text = _read_text(path, min(DECLARATIONS_LIMIT, budget)) or ""
        budget -= len(text)
        texts.append(text)
        for target in _REEXPORT.findall(text):
            resolved = _declaration_for(path.parent / target, directory)
            if resolved is not None and resolved not in seen:
                pending.append(resolved)
    return "\n".join(texts)


def _declaration_for(target: Path, directory: Path) -> Path | None:
    """'./glob.js' -> './glob.d.ts' (or .d.mts/.d.cts, or a directory's index.d.ts)."""
    name = target.name
    stem = name
    for suffix in (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            break
    stem = stem.removesuffix(".d")
    candidates = [target.with_name(stem + ending) for ending in (".d.ts", ".d.mts", ".d.cts")]
    candidates.append(target / "index.d.ts")
    for candidate in candidates:
        if candidate.is_file() and _inside(candidate, directory):
            return candidate.resolve()
    return None


def _read_manifest(path: Path) -> dict[str, Any] | None:
    text = _read_text(path, PACKAGE_JSON_LIMIT)
    if text is None:
        return None
    try:
        manifest = json.loads(text)
    except ValueError as error:
        logger.warning("%s: not valid JSON: %s", path, error)
        return None
    return manifest if isinstance(manifest, dict) else None


def _read_readme(directory: Path) -> str | None:
    for name in _README_NAMES:
        path = directory / name
        if path.is_file() and _inside(path, directory):
            return _read_text(path, README_BYTES_LIMIT)
    return None


def _declarations_file(directory: Path, manifest: dict[str, Any]) -> Path | None:
    candidates: list[str] = []
    for key in ("types", "typings"):
        value = manifest.get(key)
        if isinstance(value, str):
            candidates.append(value)
    exports = manifest.get("exports")
    if isinstance(exports, dict):
        root_export = exports.get(".")
        if isinstance(root_export, dict):
            for condition in (root_export, root_export.get("require"), root_export.get("import")):
                if isinstance(condition, dict) and isinstance(condition.get("types"), str):
                    candidates.append(condition["types"])
    candidates.append("index.d.ts")
    for candidate in candidates:
        path = directory / candidate
        if path.is_dir():
            path = path / "index.d.ts"
        if path.suffix != ".ts" and not path.name.endswith((".d.ts", ".d.mts", ".d.cts")):
            continue
        if path.is_file() and _inside(path, directory):
            return path.resolve()
    return None


def _inside(path: Path, directory: Path) -> bool:
    try:
        return path.resolve().is_relative_to(directory.resolve())
    except OSError:
        return False


def _read_text(path: Path, limit: int) -> str | None:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit)
    except OSError as error:
        logger.warning("%s: unreadable: %s", path, error)
        return None
    return data.decode("utf-8", errors="replace")
