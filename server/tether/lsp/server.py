"""The language server: a thin pygls layer fanning LSP events out to feature modules.

Features (workspace root, settings, live runs, run progress, commands, docs, pre-warm,
dependency watching, following CLI runs, lifecycle) each override only the hooks they use.
This module builds them in dependency order, handing each its peers (no feature imports
this module or finds a peer through the server), wires them to the protocol and runs the
stdio loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from tether import __version__
from tether.lsp.commands import Commands
from tether.lsp.dependency_watch import DependencyWatch, paths_from_uris
from tether.lsp.docs import Docs
from tether.lsp.feature import Feature
from tether.lsp.lifecycle import Lifecycle
from tether.lsp.live_runs import LiveRuns
from tether.lsp.prewarm import Prewarm
from tether.lsp.run_progress import RunProgress
from tether.lsp.runs_follower import RunsFollower
from tether.lsp.settings import Settings
from tether.lsp.waiting_notice import WaitingNotice
from tether.lsp.workspace_root import WorkspaceRoot

logger = logging.getLogger(__name__)


class TetherProtocol(LanguageServerProtocol):
    """pygls' protocol with two changes: commands run as the request's own task (so
    `$/cancelRequest` cancels them), and `exit` ends the loop instead of sys.exit()."""

    _server: TetherServer

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    async def lsp_workspace__execute_command(  # type: ignore[override]
        self, params: types.ExecuteCommandParams
    ) -> Any:
        handler = self.fm.commands.get(params.command)
        if handler is None:
            known = ", ".join(sorted(self.fm.commands))
            raise JsonRpcInvalidParams(f"unknown command {params.command!r} (known: {known})")
        logger.debug("command %s %s", params.command, params.arguments)
        return await handler(*(params.arguments or []))

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> None:  # type: ignore[override]
        code = 0 if self._shutdown else 1
        self._server.lifecycle.end(code, "exit")


class TetherServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("tether", __version__, protocol_cls=TetherProtocol)
        self.loop: asyncio.AbstractEventLoop = asyncio.get_running_loop()
        # Each feature is built after the peers it is given.
        self.workspace_root = WorkspaceRoot()
        self.settings = Settings(self, self.workspace_root)
        self.live_runs = LiveRuns(self.workspace_root, self.settings)
        self.lifecycle = Lifecycle(self.live_runs)
        self.waiting_notice = WaitingNotice(self)
        self.run_progress = RunProgress(self, self.settings, self.live_runs, self.waiting_notice)
        self.docs = Docs(self.workspace_root, self.settings)
        self.prewarm = Prewarm(self.workspace_root, self.settings, self.live_runs)
        self.dependency_watch = DependencyWatch(
            self, self.workspace_root, self.settings, self.prewarm
        )
        self.runs_follower = RunsFollower(self.workspace_root, self.live_runs, self.run_progress)
        self.commands = Commands(
            self,
            workspace_root=self.workspace_root,
            settings=self.settings,
            lifecycle=self.lifecycle,
            live_runs=self.live_runs,
            docs=self.docs,
            prewarm=self.prewarm,
        )
        # Order of the hooks: the workspace root, then settings first; runs stop before
        # progress reports their end.
        self.features: list[Feature] = [
            self.workspace_root,
            self.settings,
            self.lifecycle,
            self.live_runs,
            self.run_progress,
            self.waiting_notice,
            self.docs,
            self.runs_follower,
            self.dependency_watch,
            self.prewarm,
            self.commands,
        ]
        self._register_handlers()

    def _register_handlers(self) -> None:
        @self.feature(types.INITIALIZE)
        def initialize(params: types.InitializeParams) -> None:
            for feature in self.features:
                feature.initialize(params)

        @self.feature(types.INITIALIZED)
        async def initialized(params: types.InitializedParams) -> None:
            from tether.lsp.log_forwarding import set_log_level

            await self._each("initialized")
            set_log_level(self.settings.config.log_level)

        @self.feature(types.SHUTDOWN)
        async def shutdown(params: None) -> None:
            await self._each("shutdown")

        @self.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
        async def configuration_changed(params: types.DidChangeConfigurationParams) -> None:
            await self._each("configuration_changed")

        @self.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
        def watched_files(params: types.DidChangeWatchedFilesParams) -> None:
            self._files_changed(paths_from_uris(change.uri for change in params.changes))

        @self.feature(types.TEXT_DOCUMENT_DID_SAVE)
        def saved(params: types.DidSaveTextDocumentParams) -> None:
            self._files_changed(paths_from_uris([params.text_document.uri]))

        @self.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
        def progress_cancel(params: types.WorkDoneProgressCancelParams) -> None:
            self.run_progress.cancel_requested(params.token)

        self.settings.on_change(self._config_changed)

    def _files_changed(self, paths: list[Path]) -> None:
        for feature in self.features:
            feature.files_changed(paths)

    def _config_changed(self, config: Any) -> None:
        from tether.lsp.log_forwarding import set_log_level

        set_log_level(config.log_level)

    async def close(self) -> None:
        await self._each("close")

    async def _each(self, hook: str) -> None:
        """Await `hook` of every feature in order; one that fails is logged and the others
        still run (a broken watcher must not keep runs from pausing at shutdown)."""
        for feature in self.features:
            try:
                await getattr(feature, hook)()
            except Exception:
                logger.exception("%s.%s failed", type(feature).__name__, hook)


async def _serve(streams: Any) -> int:
    from tether.lsp.log_forwarding import install_logging
    from tether.lsp.message_loop import read_messages
    from tether.lsp.stdio import ProtocolWriter, start_reader

    server = TetherServer()
    install_logging(server, server.settings.config.log_level)
    server.lifecycle.install_signals()
    server.lifecycle.install_wake()
    server.protocol.set_writer(ProtocolWriter(streams.output))
    reader = start_reader(streams.input_fd, server.loop)
    stop = threading.Event()
    reading = asyncio.create_task(
        read_messages(stop, reader, server.protocol),
        name="lsp-read",
    )
    ended = asyncio.create_task(server.lifecycle.ended.wait(), name="lsp-ended")
    await asyncio.wait({reading, ended}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    if not server.lifecycle.ended.is_set():
        code = 0 if server.protocol._shutdown else 1
        server.lifecycle.end(code, "the client closed stdin")
    logger.info("ending: %s", server.lifecycle.reason)
    await server.close()
    reading.cancel()
    ended.cancel()
    return server.lifecycle.exit_code if server.lifecycle.exit_code is not None else 1


def serve() -> None:
    """Speak LSP over stdio until told to stop; then end the process with the exit code."""
    from tether.lsp.stdio import claim_stdio

    streams = claim_stdio()
    code = 1
    try:
        code = asyncio.run(_serve(streams))
    finally:
        sys.stderr.flush()
        # Hard exit: nothing (a thread blocked on a pipe, an abandoned step) may keep the
        # process alive after the client is gone; everything durable was closed above.
        os._exit(code)
