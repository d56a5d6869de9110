"""The server's one DocsService, built on first use from the effective settings and
rebuilt when they change (the old one is closed in the background)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from tether.lsp.feature import Feature

if TYPE_CHECKING:
    from tether.kb.service import DocsService
    from tether.lsp.settings import Settings
    from tether.lsp.workspace_root import WorkspaceRoot


class Docs(Feature):
    def __init__(self, workspace_root: WorkspaceRoot, settings: Settings) -> None:
        super().__init__()
        self.workspace_root = workspace_root
        self.settings = settings
        self._service: DocsService | None = None
        self._built_from: Any = None
        self._closing: set[asyncio.Task[None]] = set()

    def service(self) -> DocsService:
        from tether.kb.service import docs_service_for

        config = self.settings.config
        key = (config.docs, config.context7, config.interpreter)
        if self._service is not None and key == self._built_from:
            return self._service
        if self._service is not None:
            self._close_later(self._service)
        self._service = docs_service_for(self.workspace_root.path, config)
        self._built_from = key
        return self._service

    def _close_later(self, service: DocsService) -> None:
        task = asyncio.create_task(service.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        if self._service is not None:
            self._close_later(self._service)
            self._service = None
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=2.0)
