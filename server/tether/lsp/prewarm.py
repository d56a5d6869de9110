"""Docs pre-warm from the editor: a run of the built-in `prewarm` workflow, with its own
progress ("docs: 3/12 httpx"). At start (prewarm.onStart) every detected dependency not
fresh in the cache; after a dependency file changes, only what changed (dependency_watch).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tether.lsp.arguments import ArgumentError
from tether.lsp.feature import Feature

if TYPE_CHECKING:
    from tether.lsp.live_runs import LiveRun, LiveRuns
    from tether.lsp.settings import Settings
    from tether.lsp.workspace_root import WorkspaceRoot

PREWARM_WORKFLOW = "prewarm"


class Prewarm(Feature):
    def __init__(
        self, workspace_root: WorkspaceRoot, settings: Settings, live_runs: LiveRuns
    ) -> None:
        super().__init__()
        self.workspace_root = workspace_root
        self.settings = settings
        self.live_runs = live_runs

    async def start(self, libraries: Sequence[str]) -> LiveRun:
        """A pre-warm run for `libraries` (empty: every detected dependency)."""
        from tether.engine.errors import WorkflowError
        from tether.lsp.invocation import load_invocation

        try:
            spec, values = await asyncio.to_thread(
                load_invocation,
                PREWARM_WORKFLOW,
                {"libraries": ",".join(libraries)},
                self.workspace_root.path,
                self.settings.kinds,
            )
        except WorkflowError as error:
            raise ArgumentError(f"pre-warm is not available: {error}") from error
        self.logger.info("pre-warming docs for %s", ", ".join(libraries) or "all dependencies")
        return self.live_runs.start(spec, values, budget=None)

    async def initialized(self) -> None:
        if not self.settings.config.prewarm.on_start:
            return
        try:
            await self.start([])
        except ArgumentError as error:
            self.logger.warning("%s", error)
