"""Pre-warm on save: notice dependency and lock file changes and pre-warm only the
dependencies that are new or changed.

Changes arrive as client-registered `workspace/didChangeWatchedFiles` (when the client
supports dynamic registration), from a watchfiles watcher on the folders that hold
dependency files otherwise (each folder alone, never the whole tree), and from
`textDocument/didSave` of those files either way. Bursts are debounced; the detected set
is diffed against the previous one by name, spec and version.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.lsp.arguments import ArgumentError
from tether.lsp.feature import Feature

if TYPE_CHECKING:
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer

    from tether.lsp.prewarm import Prewarm
    from tether.lsp.settings import Settings
    from tether.lsp.workspace_root import WorkspaceRoot


DEBOUNCE = 0.3
REGISTRATION_ID = "tether-dependency-files"
_REGISTER_TIMEOUT = 5.0
# The fallback watcher wakes this often even without changes (to notice a stop request).
_WATCH_TIMEOUT_MS = 500

DependencyKey = tuple[str, str]
DependencyFacts = tuple[str, str | None]


@dataclass(frozen=True)
class Snapshot:
    facts: dict[DependencyKey, DependencyFacts]
    """(ecosystem, name) -> (spec, version) of every detected dependency."""
    folders: frozenset[Path]
    """The folders that hold dependency files detection reads (what the fallback watches)."""


def snapshot(workspace: Path) -> Snapshot:
    """What detection finds now, and where it looked (file I/O: called in a thread)."""
    from tether.kb.deps import detect_dependencies

    detection = detect_dependencies(workspace)
    facts = {
        (dependency.ecosystem, dependency.name): (dependency.spec, dependency.version)
        for dependency in detection.dependencies
    }
    sources = {workspace / dependency.source for dependency in detection.dependencies}
    return Snapshot(facts, watched_folders(workspace, sources))


def watched_folders(workspace: Path, sources: Iterable[Path]) -> frozenset[Path]:
    """The workspace itself, its `requirements/` folder, and the folder of every file a
    dependency was declared in (npm workspace members, `-r` includes) inside the workspace.

    Each is watched on its own, not recursively: a recursive watch would put an OS watch
    on every folder of `node_modules` and `.venv` (watchfiles' filter only drops events)."""
    from tether.kb.deps.files import REQUIREMENTS_DIRECTORY

    root = workspace.resolve()
    folders = {root}
    if (root / REQUIREMENTS_DIRECTORY).is_dir():
        folders.add(root / REQUIREMENTS_DIRECTORY)
    for source in sources:
        folder = source.resolve().parent
        if folder.is_relative_to(root) and folder.is_dir():
            folders.add(folder)
    return frozenset(folders)


def changed_names(
    before: dict[DependencyKey, DependencyFacts], after: dict[DependencyKey, DependencyFacts]
) -> list[str]:
    """Names of dependencies that are new, or whose spec or version changed."""
    return sorted({key[1] for key, facts in after.items() if before.get(key) != facts})


class DependencyWatch(Feature):
    def __init__(
        self,
        server: LanguageServer,
        workspace_root: WorkspaceRoot,
        settings: Settings,
        prewarm: Prewarm,
    ) -> None:
        super().__init__()
        self.server = server
        self.workspace_root = workspace_root
        self.settings = settings
        self.prewarm = prewarm
        self.mode = "none"
        """How changes are noticed: `registered`, `watchfiles` or `none`."""
        self._known: Snapshot | None = None
        self._watching: frozenset[Path] = frozenset()
        self._watch_task: asyncio.Task[None] | None = None
        self._dirty = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop_watching = threading.Event()
        self._dynamic = False

    def initialize(self, params: types.InitializeParams) -> None:
        workspace = params.capabilities.workspace
        watched = workspace.did_change_watched_files if workspace else None
        self._dynamic = bool(watched and watched.dynamic_registration)

    async def initialized(self) -> None:
        self._known = await asyncio.to_thread(snapshot, self.workspace_root.path)
        self._spawn(self._debounce_loop(), "dependency-debounce")
        if self._dynamic and await self._register():
            self.mode = "registered"
        else:
            self.mode = "watchfiles"
            self._rewatch(self._known.folders)

    def _spawn(self, coroutine: Any, name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _rewatch(self, folders: frozenset[Path]) -> None:
        """(Re)start the fallback watcher when the folders to watch changed."""
        if folders == self._watching and self._watch_task is not None:
            return
        # Each watcher has its own stop event: watchfiles sets it when its task is cancelled.
        self._stop_watching.set()
        if self._watch_task is not None:
            self._watch_task.cancel()
        self._stop_watching = threading.Event()
        self._watching = folders
        self._watch_task = self._spawn(
            self._watch(folders, self._stop_watching), "dependency-watchfiles"
        )

    async def _register(self) -> bool:
        from lsprotocol import types

        from tether.kb.deps import DEPENDENCY_FILE_GLOBS

        options = types.DidChangeWatchedFilesRegistrationOptions(
            watchers=[types.FileSystemWatcher(glob_pattern=glob) for glob in DEPENDENCY_FILE_GLOBS]
        )
        registration = types.Registration(
            id=REGISTRATION_ID,
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=options,
        )
        try:
            async with asyncio.timeout(_REGISTER_TIMEOUT):
                await self.server.client_register_capability_async(
                    types.RegistrationParams(registrations=[registration])
                )
        except Exception as error:  # noqa: BLE001 - any refusal: fall back to watchfiles
            self.logger.warning("client refused watched-file registration (%s)", error)
            return False
        self.logger.info("watching dependency files through the client")
        return True

    async def _watch(self, folders: frozenset[Path], stop: threading.Event) -> None:
        from watchfiles import awatch

        from tether.kb.deps.files import REQUIREMENTS_DIRECTORY, is_dependency_file

        root = self.workspace_root.path.resolve()

        def relevant(_change: Any, path: str) -> bool:
            # A new `requirements/` folder is a new place to watch: rescan for it too.
            candidate = Path(path)
            return is_dependency_file(candidate) or candidate == root / REQUIREMENTS_DIRECTORY

        announced = False
        try:
            async for changes in awatch(
                *sorted(folders),
                watch_filter=relevant,
                recursive=False,
                debounce=int(DEBOUNCE * 1000),
                rust_timeout=_WATCH_TIMEOUT_MS,
                yield_on_timeout=True,
                stop_event=stop,
            ):
                if not announced:
                    # The first (empty) yield means the OS watches are in place.
                    announced = True
                    self.logger.info(
                        "watching dependency files with watchfiles (%d folders)", len(folders)
                    )
                if changes:
                    self.logger.debug("changed: %s", ", ".join(path for _c, path in changes))
                    self._dirty.set()
        except (OSError, RuntimeError) as error:
            self.logger.warning("cannot watch dependency files: %s", error)

    def files_changed(self, paths: list[Path]) -> None:
        from tether.kb.deps import is_dependency_file

        relevant = [path for path in paths if is_dependency_file(path)]
        if relevant:
            self.logger.debug("dependency files changed: %s", ", ".join(map(str, relevant)))
            self._dirty.set()

    async def _debounce_loop(self) -> None:
        while True:
            await self._dirty.wait()
            # Quiet for DEBOUNCE seconds: the burst (a save, a lock file rewrite) is over.
            while self._dirty.is_set():
                self._dirty.clear()
                await asyncio.sleep(DEBOUNCE)
            await self._rescan()

    async def _rescan(self) -> None:
        try:
            current = await asyncio.to_thread(snapshot, self.workspace_root.path)
        except OSError as error:
            self.logger.warning("dependency detection failed: %s", error)
            return
        names = changed_names(self._known.facts if self._known else {}, current.facts)
        self._known = current
        if self.mode == "watchfiles":
            self._rewatch(current.folders)
        if not names:
            self.logger.debug("dependency files changed, dependencies did not")
            return
        if not self.settings.config.prewarm.on_save:
            self.logger.info("dependencies changed (%s); prewarm.onSave is off", ", ".join(names))
            return
        try:
            await self.prewarm.start(names)
        except ArgumentError as error:
            self.logger.warning("%s", error)

    async def close(self) -> None:
        self._stop_watching.set()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(set(self._tasks), timeout=1.0)


def paths_from_uris(uris: Iterable[str]) -> list[Path]:
    from pygls.uris import to_fs_path

    paths = []
    for uri in uris:
        path = to_fs_path(uri)
        if path:
            paths.append(Path(path))
    return paths
