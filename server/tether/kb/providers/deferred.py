"""A provider built on first use, so that answering from the cache never imports it.

`tether docs` served from the cache should not pay for the Context7 client's module (and
never for httpx); the service only needs a provider's name and kind until it fetches.
"""

from __future__ import annotations

from collections.abc import Callable

from tether.kb.providers.base import DocsProvider, ProviderResult


class DeferredProvider:
    def __init__(self, name: str, remote: bool, build: Callable[[], DocsProvider]) -> None:
        self.name = name
        self.remote = remote
        self._build = build
        self._provider: DocsProvider | None = None

    @property
    def provider(self) -> DocsProvider:
        if self._provider is None:
            self._provider = self._build()
        return self._provider

    async def installed_version(self, library: str) -> str | None:
        return await self.provider.installed_version(library)

    async def fetch(
        self, library: str, version: str | None, query: str, *, timeout: float
    ) -> ProviderResult | None:
        return await self.provider.fetch(library, version, query, timeout=timeout)

    async def aclose(self) -> None:
        if self._provider is not None:
            await self._provider.aclose()
