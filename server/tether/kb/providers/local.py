"""The `local` provider: documentation of what the project actually has installed.

Python distributions from the project's site-packages (its `.venv`, `$VIRTUAL_ENV` or
configured interpreter) and npm packages from `<workspace>/node_modules`. It never imports
or runs project code, and all file reading happens in a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tether.kb.providers.base import ProviderNotFound, ProviderResult

if TYPE_CHECKING:
    from tether.kb.docindex.cache import IndexCache, LibraryIndex
    from tether.kb.providers.local_node import NodeModules
    from tether.kb.providers.local_python import PythonPackages


VERSION_RECHECK_S = 1.0
"""How long an installed version is trusted before the disk is checked again: a warm
lookup then needs no worker thread, and an upgrade is still seen within a second."""
VERSIONS_KEPT = 10_000
WHOLE_DOCUMENT_TOKENS = 16_000


class LocalProvider:
    name = "local"
    remote = False

    def __init__(
        self,
        workspace: Path,
        *,
        site_dirs: Sequence[Path] | None = None,
        interpreter: str | None = None,
        version_recheck: float = VERSION_RECHECK_S,
        index_dir: Path | None = None,
    ) -> None:
        self.workspace = workspace
        self.version_recheck = version_recheck
        self._versions: dict[str, tuple[str | None, float]] = {}
        self.interpreter = interpreter
        self._site_dirs = list(site_dirs) if site_dirs is not None else None
        self._python: PythonPackages | None = None
        self._node: NodeModules | None = None
        self._lock = threading.Lock()
        self._index_dir = index_dir
        self._indexes: IndexCache | None = None

    @property
    def indexes(self) -> IndexCache:
        with self._lock:
            if self._indexes is None:
                from tether.kb.cache_location import default_cache_directory
                from tether.kb.docindex.cache import IndexCache

                directory = self._index_dir or default_cache_directory() / "index"
                self._indexes = IndexCache(directory)
            return self._indexes

    def python_packages(self) -> PythonPackages:
        """Blocking: finds site-packages on first use (may ask the interpreter)."""
        with self._lock:
            if self._python is None:
                # Imported on first use: a CLI cache hit must stay cheap to start.
                from tether.kb.providers.local_python import PythonPackages
                from tether.project.environment import find_site_packages

                site_dirs = self._site_dirs
                if site_dirs is None:
                    site_dirs = find_site_packages(self.workspace, self.interpreter)
                self._python = PythonPackages(site_dirs)
            return self._python

    @property
    def node(self) -> NodeModules:
        with self._lock:
            if self._node is None:
                from tether.kb.providers.local_node import NodeModules

                self._node = NodeModules(self.workspace)
            return self._node

    async def installed_version(self, library: str) -> str | None:
        known = self._versions.get(library)
        now = time.monotonic()
        if known is not None and now - known[1] < self.version_recheck:
            return known[0]
        version = await asyncio.to_thread(self._installed_version, library)
        if len(self._versions) >= VERSIONS_KEPT:
            self._versions.clear()
        self._versions[library] = (version, now)
        return version

    async def repository_url(self, library: str) -> str | None:
        """The package's own source repository URL from its metadata, if it names one."""
        return await asyncio.to_thread(self._repository_url, library)

    async def fetch(
        self, library: str, version: str | None, query: str, *, timeout: float
    ) -> ProviderResult | None:
        """The library's whole overview (README opening, API in the package's order); a
        query is answered by `answer`, which the lookup service uses."""
        return await asyncio.to_thread(self._answer, library, version, "", WHOLE_DOCUMENT_TOKENS)

    async def answer(
        self, library: str, version: str | None, query: str, max_tokens: int
    ) -> ProviderResult | None:
        """The answer to `query` from the library's index (built on first use), ranked and
        cut to `max_tokens`; None when the library is not installed."""
        return await asyncio.to_thread(self._answer, library, version, query, max_tokens)

    async def aclose(self) -> None:
        if self._indexes is not None:
            from tether.kb import shared_stats

            figures = {"index.built": self._indexes.built, "index.reused": self._indexes.opened}
            await asyncio.to_thread(shared_stats.add, self._indexes.directory.parent, figures)

    def _library_index(self, library: str) -> tuple[LibraryIndex, str] | None:
        if not self._is_npm_only(library):
            index = self.python_packages().library_index(library, self.indexes)
            if index is not None:
                return index, "pypi"
        index = self.node.library_index(library, self.indexes)
        return None if index is None else (index, "npm")

    def _answer(
        self, library: str, version: str | None, query: str, max_tokens: int
    ) -> ProviderResult | None:
        found = self._library_index(library)
        if found is None:
            return None
        index, ecosystem = found
        installed = index.meta.get("version") or None
        self._check_version(library, version, installed)
        name = index.meta.get("name") or library
        return ProviderResult(
            content=index.answer(name, query, max_tokens),
            provider=self.name,
            library=name,
            version=installed,
            meta={
                "ecosystem": ecosystem,
                "source": index.meta.get("source", ""),
                "index": str(index.path),
                "index_built_now": index.take_built_now(),
            },
        )

    def _is_npm_only(self, library: str) -> bool:
        return library.startswith("@")

    def _installed_version(self, library: str) -> str | None:
        if not self._is_npm_only(library):
            version = self.python_packages().version(library)
            if version:
                return version
        return self.node.version(library)

    def _repository_url(self, library: str) -> str | None:
        if not self._is_npm_only(library):
            packages = self.python_packages()
            if packages.find(library) is not None:
                return packages.repository_url(library)
        return self.node.repository_url(library)

    def _check_version(self, library: str, wanted: str | None, installed: str | None) -> None:
        if wanted and installed and wanted != installed:
            raise ProviderNotFound(
                self.name, f"{library} {installed} is installed, not the requested {wanted}"
            )
