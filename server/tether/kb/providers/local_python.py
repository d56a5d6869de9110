"""Documentation for the project's installed Python distributions, read from disk.

Which distributions are installed and at which versions, their metadata, and the docs
index of each (see tether.kb.docindex), built from the metadata, the long description (the
README as uploaded to PyPI) and the source read with `ast`. Nothing here imports the
distributions. All functions block; the local provider calls them from a worker thread.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tether.project.package_names import canonicalize_name

if TYPE_CHECKING:
    from email.message import Message

    from tether.kb.docindex.cache import IndexCache, LibraryIndex
    from tether.kb.docindex.editable import SourceTree
    from tether.kb.docindex.records import Record

logger = logging.getLogger(__name__)

_METADATA_SUFFIXES = (".dist-info", ".egg-info")
_REPOSITORY_LABELS = ("source", "source code", "repository", "code", "github", "homepage")


@dataclass(frozen=True, slots=True)
class InstalledDistribution:
    name: str
    """Canonical name."""
    metadata_dir: Path
    site_dir: Path


class PythonPackages:
    """The distributions installed in `site_dirs`, indexed by canonical name.

    The index is one directory listing per site directory, rebuilt when a directory's
    modification time changes (a package was installed or removed), so a long-running
    language server sees new installs without a restart.
    """

    def __init__(self, site_dirs: Sequence[Path]) -> None:
        self.site_dirs = list(site_dirs)
        self._lock = threading.Lock()
        self._index: dict[str, InstalledDistribution] = {}
        self._stamps: tuple[int, ...] | None = None
        self._import_names: dict[str, InstalledDistribution] | None = None
        """Top-level import name (lowercased) -> distribution, built on first need."""

    def find(self, library: str) -> InstalledDistribution | None:
        """By distribution name, else by the name it is imported as (`jwt` for PyJWT, `yaml`
        for PyYAML, `PIL` for Pillow): agents ask for what they import."""
        index = self._current_index()
        found = index.get(canonicalize_name(library))
        if found is None and library.isidentifier():
            with self._lock:
                if self._import_names is None:
                    self._import_names = _import_names(index.values())
                found = self._import_names.get(library.lower())
        return found

    def names(self) -> list[str]:
        return sorted(self._current_index())

    def version(self, library: str) -> str | None:
        found = self.find(library)
        if found is None:
            return None
        # Wheel installs name the directory NAME-VERSION.dist-info with both parts escaped
        # (no "-" inside either): the version is there without reading METADATA.
        stem = found.metadata_dir.name.removesuffix(".dist-info")
        if found.metadata_dir.suffix == ".dist-info" and stem.count("-") == 1:
            return stem.split("-", 1)[1] or None
        from importlib import metadata

        try:
            return metadata.PathDistribution(found.metadata_dir).version or None
        except (OSError, ValueError) as error:
            logger.warning("%s: unreadable metadata: %s", found.metadata_dir, error)
            return None

    def repository_url(self, library: str) -> str | None:
        """The first Project-URL that points at a code host, else the Home-page."""
        found = self.find(library)
        if found is None:
            return None
        meta = _read_metadata(found)
        if meta is None:
            return None
        urls = _project_urls(meta)
        for label in _REPOSITORY_LABELS:
            for name, url in urls:
                if name.lower() == label and "github.com" in url.lower():
                    return url
        for _name, url in urls:
            if "github.com/" in url.lower():
                return url
        home = meta.get("Home-page")
        return home if home and "github.com/" in home.lower() else None

    def library_index(self, library: str, cache: IndexCache) -> LibraryIndex | None:
        """The searchable index of `library` at its installed version, built on first use.

        Once built, finding it costs a directory listing and a stat or two: the metadata
        is parsed only to build it."""
        from tether.kb.docindex.cache import IndexKey
        from tether.kb.docindex.editable import editable_tree, tree_fingerprint

        found = self.find(library)
        if found is None:
            return None
        version = self.version(library) or ""
        tree = editable_tree(found.metadata_dir, found.site_dir, found.name)
        fingerprint = str(found.metadata_dir.resolve())
        if tree is not None:
            fingerprint += "\0" + tree_fingerprint(tree)
        key = IndexKey("pypi", found.name, version, fingerprint)
        source = str(tree.project if tree is not None else found.site_dir)
        built_meta = {"name": found.name, "version": version, "source": source}
        return cache.get(key, lambda: self._index_records(found, tree, built_meta), built_meta)

    def _index_records(
        self, found: InstalledDistribution, tree: SourceTree | None, built_meta: dict[str, str]
    ) -> list[Record]:
        from tether.kb.docindex.python_source import distribution_records
        from tether.kb.providers.readme import clean_readme

        meta = _read_metadata(found)
        if meta is None:
            return []
        built_meta["name"] = str(meta.get("Name") or found.name)  # as the project spells it
        readme = _long_description(meta)
        cleaned = clean_readme(readme, meta.get("Description-Content-Type")) if readme else ""
        return distribution_records(found.metadata_dir, found.site_dir, meta, cleaned, tree)

    def _current_index(self) -> dict[str, InstalledDistribution]:
        stamps = tuple(_mtime_ns(directory) for directory in self.site_dirs)
        with self._lock:
            if stamps != self._stamps:
                self._index = _build_index(self.site_dirs)
                self._stamps = stamps
                self._import_names = None
            return self._index


def _build_index(site_dirs: Sequence[Path]) -> dict[str, InstalledDistribution]:
    index: dict[str, InstalledDistribution] = {}
    for site_dir in site_dirs:
        try:
            entries = list(os.scandir(site_dir))
        except OSError as error:
            logger.warning("%s: cannot list site-packages: %s", site_dir, error)
            continue
        for entry in entries:
            if not entry.name.endswith(_METADATA_SUFFIXES) or not entry.is_dir():
                continue
            stem = entry.name.rsplit(".", 1)[0]
            raw_name = stem.split("-", 1)[0]
            if not raw_name:
                continue
            # The first directory wins, as it would on sys.path.
            index.setdefault(
                canonicalize_name(raw_name),
                InstalledDistribution(canonicalize_name(raw_name), Path(entry.path), site_dir),
            )
    return index


def _import_names(
    distributions: Iterable[InstalledDistribution],
) -> dict[str, InstalledDistribution]:
    """Each top-level module or package name that exactly one distribution provides (a
    name several provide, such as a namespace package, names none of them)."""
    providers: dict[str, set[InstalledDistribution]] = {}
    for found in distributions:
        for name in _top_level_names(found.metadata_dir):
            providers.setdefault(name.lower(), set()).add(found)
    return {name: next(iter(found)) for name, found in providers.items() if len(found) == 1}


def _top_level_names(metadata_dir: Path) -> set[str]:
    """top_level.txt when the installer wrote one, else the first part of each path in
    RECORD (`jwt/__init__.py` -> `jwt`, `six.py` -> `six`)."""
    try:
        listed = (metadata_dir / "top_level.txt").read_text("utf-8", errors="replace")
        return {line.strip() for line in listed.splitlines() if line.strip().isidentifier()}
    except OSError:
        pass
    try:
        record = (metadata_dir / "RECORD").read_text("utf-8", errors="replace")
    except OSError:
        return set()
    names: set[str] = set()
    for line in record.splitlines():
        first = line.split(",", 1)[0].split("/", 1)[0]
        name = first.removesuffix(".py")
        if name.isidentifier() and name != "__pycache__" and (first != name or "/" in line):
            names.add(name)
    return names


def _mtime_ns(directory: Path) -> int:
    try:
        return directory.stat().st_mtime_ns
    except OSError:
        return -1


def _read_metadata(found: InstalledDistribution) -> Message | None:
    from importlib import metadata

    try:
        meta = metadata.PathDistribution(found.metadata_dir).metadata
    except (OSError, ValueError, UnicodeDecodeError) as error:
        logger.warning("%s: unreadable metadata: %s", found.metadata_dir, error)
        return None
    if meta is None:
        return None
    return meta  # type: ignore[return-value]  # PackageMetadata is an email Message


def _project_urls(meta: Message) -> list[tuple[str, str]]:
    urls: list[tuple[str, str]] = []
    for value in meta.get_all("Project-URL") or []:
        label, _, url = str(value).partition(",")
        if url.strip():
            urls.append((label.strip(), url.strip()))
    return urls


def _long_description(meta: Message) -> str:
    body = meta.get_payload()
    if isinstance(body, str) and body.strip():
        return body
    description = meta.get("Description")
    if description and description.strip().upper() != "UNKNOWN":
        # Old metadata folds the description into a header, indented with "       |".
        lines = str(description).splitlines()
        return "\n".join(line[8:] if line.startswith("       |") else line for line in lines)
    return ""
