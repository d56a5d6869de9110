"""The Context7 provider against a fake Context7 v2 API on loopback: every documented
status has its own outcome, with the exact number of calls it took."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tests.fakes.context7 import FakeContext7, FakeLibrary, snippet_docs
from tether.engine.retry import RetryPolicy
from tether.kb.providers.base import (
    ProviderBadResponse,
    ProviderNotFound,
    ProviderPending,
    ProviderRejected,
    ProviderUnavailable,
)
from tether.kb.providers.context7 import (
    Context7Provider,
    Context7Settings,
    github_library_id,
    names_match,
)


@asynccontextmanager
async def open_provider(
    fake: FakeContext7,
    *,
    repository: str | None = None,
    api_key: str | None = None,
    attempts: int = 3,
) -> AsyncIterator[Context7Provider]:
    """A provider talking to `fake`, closed when the block ends however the test went."""

    async def finder(library: str) -> str | None:
        return repository

    settings = Context7Settings(
        base_url=fake.url,
        api_key=api_key,
        retry=RetryPolicy(attempts=attempts, initial=0.05, maximum=0.2),
    )
    provider = Context7Provider(settings, repository_finder=finder if repository else None)
    try:
        yield provider
    finally:
        await provider.aclose()


async def test_search_takes_the_hit_named_like_the_package_not_the_first() -> None:
    async with FakeContext7() as fake, open_provider(fake) as provider:
        result = await provider.fetch("requests", None, "sessions", timeout=5)
    assert result is not None
    assert result.meta == {"library_id": "/psf/requests", "resolved_by": "search"}
    assert "Requests: Sessions" in result.content
    assert (fake.count("search"), fake.count("context")) == (1, 1)
    search = fake.requests[0]
    assert search.query == {"libraryName": "requests", "query": "sessions"}
    context = fake.requests[1]
    assert context.query == {"libraryId": "/psf/requests", "query": "sessions", "type": "txt"}
    assert context.headers["user-agent"] == "tether/0.1.0 (+docs knowledge base)"
    assert "authorization" not in context.headers


async def test_a_resolved_library_id_is_reused_for_the_next_question() -> None:
    async with FakeContext7() as fake, open_provider(fake) as provider:
        await provider.fetch("requests", None, "sessions", timeout=5)
        again = await provider.fetch("requests", None, "timeouts", timeout=5)
    assert again is not None and again.meta["library_id"] == "/psf/requests"
    assert (fake.count("search"), fake.count("context")) == (1, 2)


async def test_no_hit_named_like_the_package_is_not_found_rather_than_a_guess() -> None:
    async with FakeContext7() as fake, open_provider(fake) as provider:
        with pytest.raises(ProviderNotFound, match=r"none is named 'req'.*not guessing"):
            await provider.fetch("req", None, "", timeout=5)
    assert (fake.count("search"), fake.count("context")) == (1, 0)


async def test_own_repository_url_skips_the_search_and_sends_the_key() -> None:
    async with (
        FakeContext7(api_key="ctx7sk-test") as fake,
        open_provider(
            fake, repository="git+https://github.com/fake/widget.git", api_key="ctx7sk-test"
        ) as provider,
    ):
        result = await provider.fetch("widget", "1.0", "timeouts", timeout=5)
    assert result is not None and "Widget: Timeouts" in result.content
    assert result.meta["resolved_by"] == "repository"
    assert (fake.count("search"), fake.count("context")) == (0, 1)
    assert fake.requests[0].headers["authorization"] == "Bearer ctx7sk-test"


async def test_installed_version_listed_by_search_selects_that_version() -> None:
    async with FakeContext7() as fake, open_provider(fake) as provider:
        result = await provider.fetch("react", "18.2.0", "hooks", timeout=5)
    assert result is not None and "Hooks 18" in result.content
    assert fake.requests[-1].query["libraryId"] == "/facebook/react/v18.2.0"


async def test_a_listed_version_tag_that_is_not_served_falls_back_to_current_docs() -> None:
    libraries = [
        FakeLibrary("/acme/gizmo", "gizmo", snippet_docs("Gizmo", "Current"), versions=["v2.0"])
    ]
    async with FakeContext7(libraries=libraries) as fake, open_provider(fake) as provider:
        result = await provider.fetch("gizmo", "2.0", "", timeout=5)
    assert result is not None and "Gizmo: Current" in result.content
    assert [request.query.get("libraryId") for request in fake.requests] == [
        None,
        "/acme/gizmo/v2.0",
        "/acme/gizmo",
    ]


async def test_429_with_retry_after_waits_then_succeeds_in_exactly_two_calls() -> None:
    async with FakeContext7("rate_limited", retry_after="1", burst=1) as fake:
        async with open_provider(fake, repository="https://github.com/fake/widget") as provider:
            started = time.monotonic()
            result = await provider.fetch("widget", None, "", timeout=5)
        waited = time.monotonic() - started
    assert result is not None
    assert fake.count() == 2
    assert waited >= 1.0


async def test_429_whose_retry_after_passes_the_deadline_gives_up_at_once() -> None:
    async with FakeContext7("rate_limited", retry_after="30", burst=10) as fake:
        async with open_provider(fake, repository="https://github.com/fake/widget") as provider:
            started = time.monotonic()
            with pytest.raises(ProviderUnavailable, match=r"429.*Retry-After 30s.*deadline"):
                await provider.fetch("widget", None, "", timeout=2)
        assert time.monotonic() - started < 1.0
    assert fake.count() == 1


async def test_500_burst_is_retried_with_jitter_until_it_passes() -> None:
    async with (
        FakeContext7("server_error", burst=2) as fake,
        open_provider(fake, repository="https://github.com/fake/widget") as provider,
    ):
        result = await provider.fetch("widget", None, "", timeout=5)
    assert result is not None
    assert fake.count() == 3


async def test_500_beyond_the_attempt_cap_is_unavailable() -> None:
    async with (
        FakeContext7("server_error", burst=100) as fake,
        open_provider(fake, repository="https://github.com/fake/widget", attempts=3) as provider,
    ):
        with pytest.raises(ProviderUnavailable, match=r"server error 500.*3 attempt"):
            await provider.fetch("widget", None, "", timeout=5)
    assert fake.count() == 3


async def test_202_is_pending_and_not_retried_now() -> None:
    async with (
        FakeContext7("accepted") as fake,
        open_provider(fake, repository="https://github.com/fake/widget") as provider,
    ):
        with pytest.raises(ProviderPending, match="still processing"):
            await provider.fetch("widget", None, "", timeout=5)
    assert fake.count() == 1


async def test_301_redirect_is_followed_once_to_the_new_library_id() -> None:
    async with (
        FakeContext7("redirect") as fake,
        open_provider(fake, repository="https://github.com/old-owner/moved") as provider,
    ):
        result = await provider.fetch("moved", None, "", timeout=5)
    assert result is not None and "After the move" in result.content
    assert result.meta["library_id"] == "/new-owner/moved"
    assert [request.query["libraryId"] for request in fake.requests] == [
        "/old-owner/moved",
        "/new-owner/moved",
    ]


async def test_a_second_redirect_is_not_followed() -> None:
    redirects = {"/a/one": "/b/two", "/b/two": "/c/three"}
    async with (
        FakeContext7("redirect", redirects=redirects) as fake,
        open_provider(fake, repository="https://github.com/a/one") as provider,
    ):
        with pytest.raises(ProviderBadResponse, match="redirected more than once"):
            await provider.fetch("one", None, "", timeout=5)
    assert fake.count() == 2


async def test_401_says_the_key_was_rejected_and_is_not_retried() -> None:
    async with (
        FakeContext7("unauthorized") as fake,
        open_provider(fake, repository="https://github.com/fake/widget", api_key="bad") as provider,
    ):
        with pytest.raises(ProviderRejected, match="Context7 rejected the API key"):
            await provider.fetch("widget", None, "", timeout=5)
    assert fake.count() == 1


async def test_404_for_the_own_repository_id_falls_back_to_a_name_matched_search() -> None:
    async with (
        FakeContext7() as fake,
        open_provider(fake, repository="https://github.com/not-indexed/requests") as provider,
    ):
        result = await provider.fetch("requests", None, "sessions", timeout=5)
    assert result is not None and result.meta["library_id"] == "/psf/requests"
    assert [request.path.rsplit("/", 1)[-1] for request in fake.requests] == [
        "context",
        "search",
        "context",
    ]


async def test_404_and_no_search_hit_is_not_found() -> None:
    async with (
        FakeContext7() as fake,
        open_provider(fake, repository="https://github.com/nobody/nothing") as provider,
    ):
        with pytest.raises(ProviderNotFound, match=r"search for 'nothing': not found \(404"):
            await provider.fetch("nothing", None, "", timeout=5)
    assert (fake.count("context"), fake.count("search")) == (1, 1)


@pytest.mark.parametrize("repository", [None, "https://github.com/fake/widget"])
async def test_garbage_body_is_a_bad_response(repository: str | None) -> None:
    async with (
        FakeContext7("garbage") as fake,
        open_provider(fake, repository=repository) as provider,
    ):
        with pytest.raises(ProviderBadResponse, match=r"not JSON|not UTF-8|not documentation"):
            await provider.fetch("widget", None, "", timeout=5)
    assert fake.count() == 1


async def test_empty_200_for_docs_is_not_found() -> None:
    async with (
        FakeContext7("empty") as fake,
        open_provider(fake, repository="https://github.com/fake/widget") as provider,
    ):
        with pytest.raises(ProviderNotFound, match="no documentation text"):
            await provider.fetch("widget", None, "", timeout=5)
    assert fake.count() == 1


async def test_huge_answers_are_cut_for_docs_and_refused_for_json() -> None:
    async with (
        FakeContext7("huge") as fake,
        open_provider(fake, repository="https://github.com/fake/widget") as provider,
        open_provider(fake) as search,
    ):
        result = await provider.fetch("widget", None, "", timeout=10)
        with pytest.raises(ProviderBadResponse, match="more than 2000000 bytes of JSON"):
            await search.fetch("widget", None, "", timeout=10)
    assert result is not None
    assert 1_900_000 < len(result.content) <= 2_000_000
    assert result.content.endswith("doc line")


async def test_stalled_server_ends_at_the_timeout_with_a_clear_error() -> None:
    async with FakeContext7("stall") as fake:
        async with open_provider(
            fake, repository="https://github.com/fake/widget", attempts=1
        ) as provider:
            started = time.monotonic()
            with pytest.raises(ProviderUnavailable, match="no answer within"):
                await provider.fetch("widget", None, "", timeout=0.5)
        elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 1.5


async def test_connection_refused_is_unavailable() -> None:
    async with FakeContext7() as fake:
        url = fake.url  # the port is free again once the fake is gone
    settings = Context7Settings(base_url=url, retry=RetryPolicy(attempts=2, initial=0.01))
    provider = Context7Provider(settings)
    try:
        with pytest.raises(ProviderUnavailable, match="ConnectError"):
            await provider.fetch("widget", None, "", timeout=2)
    finally:
        await provider.aclose()


def test_settings_come_from_arguments_then_environment_then_defaults() -> None:
    env = {"CONTEXT7_API_URL": "http://127.0.0.1:9/api/v2/", "CONTEXT7_API_KEY": " k1 "}
    assert Context7Settings.resolve(environ=env).base_url == "http://127.0.0.1:9"
    assert Context7Settings.resolve(environ=env).api_key == "k1"
    assert Context7Settings.resolve("http://x", "k2", environ=env).api_key == "k2"
    assert Context7Settings.resolve(environ={}).base_url == "https://context7.com"
    assert Context7Settings.resolve(environ={}).api_key is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/encode/httpx", "/encode/httpx"),
        ("https://github.com/pallets/click/", "/pallets/click"),
        ("git+https://github.com/facebook/react.git", "/facebook/react"),
        ("git@github.com:vercel/next.js.git", "/vercel/next.js"),
        ("https://github.com/encode/httpx/blob/master/CHANGELOG.md", "/encode/httpx"),
        ("github:owner/repo", "/owner/repo"),
        ("owner/repo", "/owner/repo"),
        ("https://github.com/sponsors/hynek", None),
        ("https://gitlab.com/owner/repo", None),
        ("https://www.python-httpx.org", None),
        ("", None),
        (None, None),
    ],
)
def test_library_id_from_repository_url(url: str | None, expected: str | None) -> None:
    assert github_library_id(url) == expected


@pytest.mark.parametrize(
    ("package", "title", "expected"),
    [
        ("requests", "Requests", True),
        ("requests", "requests-toolbelt", False),
        ("next", "Next.js", True),
        ("typing_extensions", "typing-extensions", True),
        ("@scope/widget", "widget", True),
        ("flask", "Flask-Login", False),
    ],
)
def test_names_match(package: str, title: str, expected: bool) -> None:
    assert names_match(package, title) is expected
