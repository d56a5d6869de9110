"""What every tool shares: the workspace folder, its settings and one docs service.

Settings are read again on every call (a small TOML file), so an edit to
`.tether/config.toml` applies to the next call without restarting the client's server.
The docs service is made once, on first use, and keeps its in-memory cache for the life
of the server.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tether.config import TetherConfig
    from tether.engine.kinds import KindRegistry
    from tether.kb.service import DocsService

logger = logging.getLogger(__name__)


@dataclass
class ToolWorkspace:
    root: Path
    _docs: DocsService | None = field(default=None, init=False)
    _docs_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def settings(self) -> TetherConfig:
        """The workspace's settings; each bad value is logged and its default used."""
        from tether.config import load_config

        config, problems = load_config(self.root)
        for problem in problems:
            logger.warning("%s", problem)
        return config

    @staticmethod
    def kinds(config: TetherConfig) -> KindRegistry:
        from tether.steps.registry import builtin_kinds

        return builtin_kinds(config)

    async def docs_service(self, config: TetherConfig) -> DocsService:
        """The server's docs service, made from `config` on first use.
        Raises ValueError for an unknown provider name."""
        from tether.kb.service import docs_service_for

        async with self._docs_lock:
            if self._docs is None:
                self._docs = await asyncio.to_thread(docs_service_for, self.root, config)
            return self._docs

    async def aclose(self) -> None:
        if self._docs is not None:
            await self._docs.aclose()
            self._docs = None
