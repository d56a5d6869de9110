"""The one way tether's knowledge base makes HTTP clients: an honest User-Agent, bounded
connections, and no automatic redirects (the Context7 API signals moves in its JSON body).

httpx is imported here lazily: `tether docs` served from the cache never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


def user_agent() -> str:
    from tether import __version__

    return f"tether/{__version__} (+docs knowledge base)"


def create_async_client(*, timeout: float = 10.0, max_connections: int = 16) -> httpx.AsyncClient:
    """An AsyncClient for remote providers; callers pass a per-request timeout as well."""
    import httpx

    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent()},
        follow_redirects=False,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=8),
    )
