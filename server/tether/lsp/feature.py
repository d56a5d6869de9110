"""The base of every server feature: no-op lifecycle hooks, overridden as needed.

A feature gets what it works with when it is created: the peers it calls (and, when it
speaks to the client itself, the pygls server); none finds another through the server.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lsprotocol import types


class Feature:
    def __init__(self) -> None:
        self.logger = logging.getLogger(f"tether.lsp.{type(self).__name__}")

    def initialize(self, params: types.InitializeParams) -> None:
        """During `initialize`, before the answer; must be quick."""

    async def initialized(self) -> None:
        """After the client's `initialized`; long work belongs in a background task."""

    async def configuration_changed(self) -> None:
        """After `workspace/didChangeConfiguration`."""

    def files_changed(self, paths: list[Path]) -> None:
        """Files changed on disk (watched-file events, saves, or the fallback watcher)."""

    async def shutdown(self) -> None:
        """On `shutdown`; the answer waits for this, so keep it well under a second."""

    async def close(self) -> None:
        """Before the process ends (after `exit`, stdin EOF or the client vanishing)."""
