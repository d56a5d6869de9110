"""DocsService against the fake Context7 server: timeouts, single flight, stale-while-
revalidate, offline, the circuit breaker, fall-through, and nothing cached on failure."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.fakes.context7 import FakeContext7
from tether.engine.breaker import BreakerState, CircuitBreaker
from tether.engine.retry import RetryPolicy
from tether.kb.providers.base import ProviderBlocked, ProviderResult, ProviderUnavailable
from tether.kb.providers.context7 import Context7Provider, Context7Settings
from tether.kb.providers.guarded import guarded_fetch
from tether.kb.providers.local import LocalProvider
from tether.kb.service import DAY, DocsService
from tether.kb.store import CacheKey, DocsStore

VENV_SITE = Path(__file__).resolve().parents[2] / ".venv" / "lib" / "python3.11" / "site-packages"


def context7_for(fake: FakeContext7, *, attempts: int = 2) -> Context7Provider:
    async def finder(library: str) -> str | None:
        return "https://github.com/fake/widget" if library == "widget" else None

    settings = Context7Settings(
        base_url=fake.url, retry=RetryPolicy(attempts=attempts, initial=0.02, maximum=0.1)
    )
    return Context7Provider(settings, repository_finder=finder)


class Clock:
    """Wall clock plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def service_for(
    fake: FakeContext7, tmp_path: Path, *, lookup_timeout: float = 3.0, clock: Clock | None = None
) -> DocsService:
    return DocsService(
        DocsStore(tmp_path / "cache"),
        [context7_for(fake)],
        lookup_timeout=lookup_timeout,
        clock=clock or Clock(),
    )


async def test_a_found_answer_is_cached_and_served_from_memory(tmp_path: Path) -> None:
    async with FakeContext7() as fake:
        service = service_for(fake, tmp_path)
        try:
            first = await service.lookup("widget", "timeouts")
            second = await service.lookup("widget", "timeouts")
        finally:
            await service.aclose()
    assert first.found and first.provider == "context7" and first.from_cache is None
    assert "Widget: Timeouts" in first.content
    assert second.from_cache == "memory" and not second.stale
    assert second.content == first.content
    assert fake.count("context") == 1
    header = second.render_markdown().splitlines()[0]
    assert header.startswith("> tether docs: **widget**") and "provider: context7" in header


async def test_stalled_provider_ends_at_the_lookup_timeout_with_a_clear_error(
    tmp_path: Path,
) -> None:
    async with FakeContext7("stall") as fake:
        service = service_for(fake, tmp_path, lookup_timeout=0.5)
        started = time.monotonic()
        try:
            result = await service.lookup("widget")
        finally:
            await service.aclose()
        elapsed = time.monotonic() - started
    assert not result.found
    assert len(result.errors) == 1
    assert result.errors[0].startswith("context7: ") and "no answer" in result.errors[0]
    assert 0.4 <= elapsed < 1.5


async def test_callers_deadline_is_tighter_than_the_lookup_timeout(tmp_path: Path) -> None:
    async with FakeContext7("stall") as fake:
        service = service_for(fake, tmp_path, lookup_timeout=5.0)
        started = time.monotonic()
        try:
            result = await service.lookup("widget", timeout=0.3)
        finally:
            await service.aclose()
    assert not result.found
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("mode", "options", "expected"),
    [
        ("stall", {}, "no answer"),
        ("rate_limited", {"retry_after": "30", "burst": 100}, "429"),
        ("server_error", {"burst": 100}, "server error 500"),
        ("accepted", {}, "still processing"),
        ("unauthorized", {}, "rejected the API key"),
        ("garbage", {}, "not UTF-8"),
        ("empty", {}, "no documentation text"),
    ],
)
async def test_no_error_mode_is_cached_as_docs(
    tmp_path: Path, mode: str, options: dict[str, object], expected: str
) -> None:
    async with FakeContext7(mode, **options) as fake:  # type: ignore[arg-type]
        service = service_for(fake, tmp_path, lookup_timeout=0.6)
        # This test is about caching, not the breaker: under heavy load the retries of
        # the first lookup could open it and the second would (rightly) send nothing.
        service.breakers["context7"].failure_threshold = 1000
        try:
            first = await service.lookup("widget", "timeouts")
            await service.settle()  # a fetch still timing out is not joined by the next call
            calls = fake.count()
            second = await service.lookup("widget", "timeouts")
        finally:
            await service.aclose()
        assert fake.count() > calls  # asked again: nothing was served from the cache
    assert not first.found and not second.found
    assert expected in first.errors[0]
    with DocsStore(tmp_path / "cache") as store:
        assert store.get(CacheKey.of("context7", "widget", None, "timeouts")) is None


async def test_a_corrupted_cache_database_still_answers_from_providers(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir(mode=0o700)
    (cache_dir / "cache.db").write_bytes(b"this is not a SQLite database" * 100)
    async with FakeContext7() as fake:
        service = DocsService(DocsStore(cache_dir), [context7_for(fake)], lookup_timeout=3)
        try:
            first = await service.lookup("widget", "timeouts")
            second = await service.lookup("widget", "timeouts")
        finally:
            await service.aclose()
    assert first.found and first.provider == "context7"
    assert second.found


async def test_twenty_concurrent_lookups_of_one_key_make_one_provider_call(
    tmp_path: Path,
) -> None:
    async with FakeContext7("slow", delay=0.2) as fake:
        service = service_for(fake, tmp_path)
        try:
            results = await asyncio.gather(
                *(service.lookup("requests", "sessions") for _ in range(20))
            )
        finally:
            await service.aclose()
    assert all(result.found for result in results)
    assert (fake.count("search"), fake.count("context")) == (1, 1)


async def test_expired_ttl_is_served_stale_at_once_and_refreshed_in_background(
    tmp_path: Path,
) -> None:
    clock = Clock()
    async with FakeContext7() as fake:
        service = service_for(fake, tmp_path, clock=clock)
        try:
            await service.lookup("widget", "timeouts")
            assert fake.count("context") == 1
            clock.offset = 8 * DAY  # past the 7-day TTL, before the 30-day hard expiry
            fake.mode = "slow"  # the refresh takes 200 ms; the stale answer must not wait
            started = time.monotonic()
            stale = await service.lookup("widget", "timeouts")
            served_in = time.monotonic() - started
            await service.settle()
            fresh = await service.lookup("widget", "timeouts")
        finally:
            await service.aclose()
    assert stale.found and stale.stale and stale.from_cache is not None
    assert "age: 8d · cache: memory · stale" in stale.render_markdown().splitlines()[0]
    assert stale.age_seconds is not None and stale.age_seconds >= 8 * DAY - 60
    assert served_in < 0.15
    assert fake.count("context") == 2  # exactly one background refresh
    assert fresh.found and not fresh.stale and fresh.age_seconds is not None
    assert fresh.age_seconds < 60


async def test_needs_refresh_tells_a_prewarm_what_to_fetch(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeContext7() as fake:
        service = service_for(fake, tmp_path, clock=clock)
        try:
            before = await service.needs_refresh("widget")
            await service.lookup("widget")
            after = await service.needs_refresh("widget")
            clock.offset = 8 * DAY
            stale = await service.needs_refresh("widget")
            refreshed = await service.lookup("widget", refresh=True)
            again = await service.needs_refresh("widget")
        finally:
            await service.aclose()
    assert (before, after, stale, again) == (True, False, True, False)
    assert refreshed.found and refreshed.from_cache is None
    assert fake.count("context") == 2


async def test_offline_never_reaches_the_network(tmp_path: Path) -> None:
    async with FakeContext7() as fake:
        service = service_for(fake, tmp_path)
        try:
            result = await service.lookup("widget", "timeouts", offline=True)
        finally:
            await service.aclose()
    assert not result.found
    assert result.errors == ["context7: skipped (offline)"]
    assert fake.count() == 0


async def test_offline_serves_a_stale_entry_without_refreshing(tmp_path: Path) -> None:
    clock = Clock()
    async with FakeContext7() as fake:
        service = service_for(fake, tmp_path, clock=clock)
        try:
            await service.lookup("widget", "timeouts")
            clock.offset = 8 * DAY
            result = await service.lookup("widget", "timeouts", offline=True)
            await service.settle()
        finally:
            await service.aclose()
    assert result.found and result.stale
    assert fake.count() == 1


async def test_refresh_bypasses_the_cache_and_falls_back_to_it_when_the_provider_fails(
    tmp_path: Path,
) -> None:
    async with FakeContext7() as fake:
        service = service_for(fake, tmp_path)
        try:
            await service.lookup("widget", "timeouts")
            refreshed = await service.lookup("widget", "timeouts", refresh=True)
            assert refreshed.from_cache is None and fake.count("context") == 2
            fake.mode, fake.burst = "server_error", 100
            fallback = await service.lookup("widget", "timeouts", refresh=True)
        finally:
            await service.aclose()
    assert fallback.found and fallback.stale and fallback.from_cache is not None
    assert "server error 500" in fallback.errors[0]


async def test_a_failing_provider_falls_through_to_the_next_one(tmp_path: Path) -> None:
    async with FakeContext7("server_error", burst=100) as fake:
        local = LocalProvider(tmp_path, site_dirs=[VENV_SITE], index_dir=tmp_path / "index")
        service = DocsService(
            DocsStore(tmp_path / "cache"), [context7_for(fake), local], lookup_timeout=3
        )
        try:
            result = await service.lookup("httpx", "AsyncClient")
        finally:
            await service.aclose()
    assert result.found and result.provider == "local"
    assert result.errors and result.errors[0].startswith("context7: ")


class UnreadableEnvironment:
    """A local provider whose environment cannot be read (as a permission error would)."""

    name = "local"
    remote = False

    async def installed_version(self, library: str) -> str | None:
        raise PermissionError(13, "Permission denied", "/project/.venv")

    async def fetch(
        self, library: str, version: str | None, query: str, *, timeout: float
    ) -> ProviderResult | None:
        raise PermissionError(13, "Permission denied", "/project/.venv")

    async def aclose(self) -> None:
        return None


async def test_an_unreadable_environment_is_reported_and_the_lookup_goes_on(
    tmp_path: Path,
) -> None:
    async with FakeContext7() as fake:
        service = DocsService(
            DocsStore(tmp_path / "cache"),
            [UnreadableEnvironment(), context7_for(fake)],
            lookup_timeout=3,
        )
        try:
            result = await service.lookup("widget")
        finally:
            await service.aclose()
    assert result.found and result.provider == "context7"
    assert result.errors == [
        "local: cannot read the installed packages: PermissionError: "
        "[Errno 13] Permission denied: '/project/.venv'"
    ]


async def trip(provider: Context7Provider, breaker: CircuitBreaker) -> None:
    """Three failed calls in a row: what opens the breaker."""
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await guarded_fetch(provider, breaker, "widget", None, "", timeout=2)


async def test_breaker_refuses_the_fourth_call_in_under_a_millisecond_then_probes(
    tmp_path: Path,
) -> None:
    now = [0.0]
    breaker = CircuitBreaker("context7", clock=lambda: now[0])
    async with FakeContext7("server_error", burst=100) as fake:
        provider = context7_for(fake, attempts=1)
        try:
            await trip(provider, breaker)
            assert breaker.state is BreakerState.OPEN
            refusals: list[float] = []
            for _ in range(5):  # the 4th call and the next ones: median, so that one
                started = time.perf_counter()  # preemption on a busy runner cannot fail it
                with pytest.raises(ProviderBlocked, match="blocked: circuit open"):
                    await guarded_fetch(provider, breaker, "widget", None, "", timeout=2)
                refusals.append(time.perf_counter() - started)
            assert fake.count() == 3  # refused calls never left the process

            now[0] += 30.0  # reset_after: one half-open probe may go out
            fake.mode = "normal"
            assert breaker.state is BreakerState.HALF_OPEN
            result = await guarded_fetch(provider, breaker, "widget", None, "", timeout=2)
        finally:
            await provider.aclose()
    assert sorted(refusals)[2] < 0.001
    assert result is not None
    assert breaker.state is BreakerState.CLOSED
    assert fake.count() == 4


async def test_a_failed_probe_opens_the_breaker_again(tmp_path: Path) -> None:
    now = [0.0]
    breaker = CircuitBreaker("context7", clock=lambda: now[0])
    async with FakeContext7("server_error", burst=100) as fake:
        provider = context7_for(fake, attempts=1)
        try:
            await trip(provider, breaker)
            now[0] += 30.0
            with pytest.raises(ProviderUnavailable):
                await guarded_fetch(provider, breaker, "widget", None, "", timeout=2)
            with pytest.raises(ProviderBlocked):
                await guarded_fetch(provider, breaker, "widget", None, "", timeout=2)
        finally:
            await provider.aclose()
    assert fake.count() == 4


async def test_service_reports_an_open_breaker_as_blocked(tmp_path: Path) -> None:
    async with FakeContext7("server_error", burst=100) as fake:
        service = service_for(fake, tmp_path)
        try:
            for index in range(3):
                failed = await service.lookup("widget", f"query {index}")
                assert not failed.found
            blocked = await service.lookup("widget", "another")
        finally:
            await service.aclose()
    assert not blocked.found
    assert blocked.errors == [
        "context7: blocked: circuit open after repeated failures; next probe in 30s"
    ]


async def test_rejected_key_does_not_open_the_breaker(tmp_path: Path) -> None:
    async with FakeContext7("unauthorized") as fake:
        service = service_for(fake, tmp_path)
        try:
            for index in range(5):
                result = await service.lookup("widget", f"q{index}")
                assert "rejected the API key" in result.errors[0]
        finally:
            await service.aclose()
    assert service.breakers["context7"].state is BreakerState.CLOSED
    assert fake.count() == 5
