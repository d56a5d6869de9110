"""One provider call under its circuit breaker and a hard timeout.

The breaker is consulted first, so a provider that keeps failing is refused in
microseconds (reported as blocked, never as success). Outages (network, 5xx, timeouts,
garbage) count against the breaker; answers that prove the service is up (a rejected key,
a library still being processed, not found) do not.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from tether.engine.breaker import BreakerOpenError, BreakerState, CircuitBreaker
from tether.engine.redaction import Redactor
from tether.kb.providers.base import (
    DocsProvider,
    ProviderBlocked,
    ProviderError,
    ProviderResult,
    ProviderUnavailable,
)

logger = logging.getLogger(__name__)


async def guarded_fetch(
    provider: DocsProvider,
    breaker: CircuitBreaker,
    library: str,
    version: str | None,
    query: str,
    *,
    timeout: float,
) -> ProviderResult | None:
    """`provider.fetch` bounded by `timeout`; every failure is a `ProviderError`."""
    try:
        breaker.before_call()
    except BreakerOpenError as error:
        raise ProviderBlocked(
            provider.name,
            f"blocked: circuit open after repeated failures; next probe in {error.retry_in:.0f}s",
        ) from None
    try:
        async with asyncio.timeout(timeout):
            result = await provider.fetch(library, version, query, timeout=timeout)
    except ProviderError as error:
        if error.counts_as_outage:
            breaker.record_failure()
        else:
            breaker.record_success()
        _redact_error(error)
        raise
    except asyncio.CancelledError:
        if breaker.state is BreakerState.HALF_OPEN:
            # A cancelled probe proved nothing; without this the breaker would wait forever
            # for the probe's verdict.
            breaker.record_failure()
        raise
    except TimeoutError:
        breaker.record_failure()
        raise ProviderUnavailable(
            provider.name, f"no answer for {library!r} within {timeout:.1f}s"
        ) from None
    except Exception as error:  # a provider bug must not break the lookup: report, fall through
        breaker.record_failure()
        logger.exception("%s: fetching %r failed unexpectedly", provider.name, library)
        raise ProviderUnavailable(
            provider.name, f"internal error fetching {library!r}: {type(error).__name__}: {error}"
        ) from error
    breaker.record_success()
    return _redact_result(result)


def _redact_result(result: ProviderResult | None) -> ProviderResult | None:
    """Second line of defence behind each provider's own: no secret reaches the cache."""
    redactor = Redactor()
    if result is None or not redactor.active:
        return result
    return dataclasses.replace(
        result, content=redactor.text(result.content), meta=redactor.json(result.meta)
    )


def _redact_error(error: ProviderError) -> None:
    redactor = Redactor()
    if redactor.active:
        error.message = redactor.text(error.message)
        error.args = tuple(redactor.text(str(arg)) for arg in error.args)
