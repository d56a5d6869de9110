"""The llm client against a fake OpenAI-compatible server: real HTTP, real SSE, real timers."""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import logging
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from tests.fakes.http_server import Request, Response
from tests.fakes.openai import DONE, SSE_HEADERS, FakeOpenAI, chunk_event, error_reply
from tether.engine.breaker import BreakerState, CircuitBreaker
from tether.engine.retry import RetryPolicy
from tether.llm.client import (
    CompletionResult,
    LLMBlocked,
    LLMClient,
    LLMConfigError,
    LLMConnectionError,
    LLMError,
    LLMHTTPError,
    LLMTimeout,
    parse_retry_after,
)
from tether.llm.config import LLMConfig

KEY = "sk-test-SECRET-123"
KEY_ENV = "TETHER_TEST_LLM_KEY"
MESSAGES = [{"role": "user", "content": "Say hello"}]
NO_RETRY = RetryPolicy(attempts=1)
QUICK_RETRY = RetryPolicy(attempts=3, initial=0.01, maximum=0.02)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


@asynccontextmanager
async def open_client(
    config: LLMConfig, *, breaker: CircuitBreaker | None = None
) -> AsyncIterator[LLMClient]:
    """An LLMClient for `config`, closed when the block ends however the test went."""
    client = LLMClient(config, breaker=breaker)
    try:
        yield client
    finally:
        await client.aclose()


def make_config(fake: FakeOpenAI, **overrides: object) -> LLMConfig:
    base = LLMConfig(
        base_url=fake.base_url,
        model="test-model",
        api_key_env=KEY_ENV,
        connect_timeout=2.0,
        first_token_timeout=2.0,
        idle_timeout=2.0,
        total_timeout=10.0,
        retry=NO_RETRY,
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def plenty() -> float:
    return 60.0


def deadline_in(seconds: float) -> Callable[[], float]:
    """remaining() for a caller whose deadline is `seconds` from now."""
    end = time.monotonic() + seconds
    return lambda: end - time.monotonic()


async def call(
    client: LLMClient, remaining: Callable[[], float] = plenty
) -> tuple[CompletionResult, list[str]]:
    received: list[str] = []
    result = await client.stream_chat(MESSAGES, remaining=remaining, on_text=received.append)
    return result, received


async def fail(
    client: LLMClient, remaining: Callable[[], float] = plenty
) -> tuple[LLMError, list[str], float]:
    received: list[str] = []
    started = time.monotonic()
    with pytest.raises(LLMError) as caught:
        await client.stream_chat(MESSAGES, remaining=remaining, on_text=received.append)
    return caught.value, received, time.monotonic() - started


async def test_normal_stream_assembles_text_in_order(fake: FakeOpenAI) -> None:
    fake.stream(["Hel", "lo, ", "world"], usage={"total_tokens": 7})
    async with open_client(make_config(fake, temperature=0.2, max_tokens=50)) as client:
        result, received = await call(client)

    assert received == ["Hel", "lo, ", "world"]
    assert result == CompletionResult(
        text="Hello, world",
        model="fake-model",
        finish_reason="stop",
        usage={"total_tokens": 7},
        attempts=1,
    )
    [request] = fake.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json() == {
        "model": "test-model",
        "messages": MESSAGES,
        "stream": True,
        "temperature": 0.2,
        "max_tokens": 50,
    }


async def test_stream_split_byte_by_byte_with_crlf_and_comments(fake: FakeOpenAI) -> None:
    wire = (
        b": welcome\r\n\r\n"
        + chunk_event("caf\u00e9 ").replace(b"\n", b"\r\n")
        + b": keep-alive\r\n\r\n"
        + chunk_event("ok", finish_reason="stop").replace(b"\n", b"\r")
        + DONE.replace(b"\n", b"\r\n")
    )
    fake.raw([wire[i : i + 1] for i in range(len(wire))])
    async with open_client(make_config(fake)) as client:
        result, received = await call(client)
    assert received == ["caf\u00e9 ", "ok"]
    assert result.text == "caf\u00e9 ok"


async def test_stall_after_some_chunks_times_out_idle_keeping_partial_text(
    fake: FakeOpenAI,
) -> None:
    fake.stream(["one ", "two ", "three"], stall_after=2)
    async with open_client(make_config(fake, idle_timeout=0.3, retry=QUICK_RETRY)) as client:
        error, received, elapsed = await fail(client)

    assert isinstance(error, LLMTimeout)
    assert error.phase == "idle"
    assert error.partial_text == "one two "
    assert received == ["one ", "two "]
    assert 0.3 <= elapsed < 0.3 + 1.5
    assert len(fake.requests) == 1  # text was streamed: never retried


async def test_no_first_token_times_out_despite_keep_alives(fake: FakeOpenAI) -> None:
    fake.stall_before_text(keep_alives=3, interval=0.05)
    async with open_client(make_config(fake, first_token_timeout=0.4, idle_timeout=0.1)) as client:
        error, received, elapsed = await fail(client)

    assert isinstance(error, LLMTimeout)
    assert error.phase == "first_token"
    assert error.partial_text == ""
    assert received == []
    assert 0.4 <= elapsed < 0.4 + 1.5


async def test_total_timeout_stops_a_stream_that_never_goes_idle(fake: FakeOpenAI) -> None:
    fake.trickle("x", interval=0.05)
    async with open_client(make_config(fake, idle_timeout=1.0, total_timeout=0.5)) as client:
        error, received, elapsed = await fail(client)

    assert isinstance(error, LLMTimeout)
    assert error.phase == "total"
    assert error.partial_text == "".join(received) != ""
    assert 0.5 <= elapsed < 0.5 + 1.5


async def test_429_with_retry_after_waits_then_succeeds(fake: FakeOpenAI) -> None:
    fake.status(429, headers={"Retry-After": "1"})
    fake.stream(["fine"])
    async with open_client(make_config(fake, retry=QUICK_RETRY)) as client:
        started = time.monotonic()
        result, _ = await call(client)
        elapsed = time.monotonic() - started

    assert result.text == "fine"
    assert result.attempts == 2
    assert len(fake.requests) == 2
    assert elapsed >= 1.0


async def test_repeated_500s_open_the_breaker_and_the_next_call_is_refused_at_once(
    fake: FakeOpenAI,
) -> None:
    fake.default = error_reply(500)
    breaker = CircuitBreaker("fake", failure_threshold=3, reset_after=30.0)
    async with open_client(make_config(fake, retry=QUICK_RETRY), breaker=breaker) as client:
        error, _, _ = await fail(client)
        assert isinstance(error, LLMHTTPError)
        assert error.status == 500
        assert len(fake.requests) == 3
        assert breaker.state is BreakerState.OPEN

        refused, _, elapsed = await fail(client)

    assert isinstance(refused, LLMBlocked)
    assert elapsed < 0.005
    assert len(fake.requests) == 3


async def test_caller_deadline_tighter_than_own_timeouts_wins(fake: FakeOpenAI) -> None:
    fake.stream(["early "], stall_after=1)
    async with open_client(make_config(fake, idle_timeout=5.0, first_token_timeout=5.0)) as client:
        error, received, elapsed = await fail(client, remaining=deadline_in(0.4))

    assert isinstance(error, LLMTimeout)
    assert error.phase == "deadline"
    assert error.partial_text == "early "
    assert received == ["early "]
    assert elapsed < 0.4 + 1.0


async def test_retry_that_would_start_past_the_deadline_is_not_started(
    fake: FakeOpenAI,
) -> None:
    fake.status(503, headers={"Retry-After": "5"})
    fake.stream(["never reached"])
    async with open_client(make_config(fake, retry=QUICK_RETRY)) as client:
        error, _, elapsed = await fail(client, remaining=deadline_in(1.0))

    assert isinstance(error, LLMHTTPError)
    assert error.status == 503
    assert error.retry_after == 5.0
    assert len(fake.requests) == 1
    assert elapsed < 0.5


async def test_401_names_the_env_var_not_the_key_and_is_not_retried(fake: FakeOpenAI) -> None:
    fake.status(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}})
    async with open_client(make_config(fake, retry=QUICK_RETRY)) as client:
        error, _, _ = await fail(client)

    assert isinstance(error, LLMHTTPError)
    assert error.status == 401
    assert KEY_ENV in str(error)
    assert KEY not in str(error)
    assert "***" in str(error)
    assert len(fake.requests) == 1


async def test_the_key_appears_in_no_error_log_or_result(
    fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    def echo_key(request: Request) -> Response:
        sent = request.headers["authorization"].removeprefix("Bearer ")
        pieces = ["your key: ", sent[:6], sent[6:12], sent[12:], " (again: " + sent + ")"]

        async def body() -> AsyncIterator[bytes]:
            for piece in pieces:
                yield chunk_event(piece, model=f"model-{sent}")
            yield chunk_event(finish_reason=sent, usage={sent: 1})
            yield DONE

        return Response(200, body(), SSE_HEADERS)

    fake.script.append(echo_key)
    fake.status(500, {"error": {"message": f"boom {KEY}"}})
    fake.status(500, f"<html>{KEY}</html>".encode())
    fake.raw([f"data: not json {KEY}\n\n".encode()])
    async with open_client(
        make_config(fake, retry=RetryPolicy(attempts=2, initial=0.01, maximum=0.01))
    ) as client:
        result, received = await call(client)
        server_error, _, _ = await fail(client)
        garbage, _, _ = await fail(client)

    assert result.text == "your key: *** (again: ***)"
    assert KEY not in "".join(received)
    assert KEY not in repr(result)
    assert isinstance(server_error, LLMHTTPError)
    assert server_error.status == 500
    assert "not JSON" in str(garbage)
    for error in (server_error, garbage):
        assert KEY not in str(error)
        assert KEY not in repr(error)
        assert error.__cause__ is None
        assert error.__context__ is None
    assert any("retrying" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        assert KEY not in record.getMessage()
    assert KEY not in caplog.text


async def test_garbage_stream_gives_a_clear_error_naming_what_arrived(fake: FakeOpenAI) -> None:
    fake.raw([b"data: <html>" + b"x" * 1000 + b"</html>\n\n"])
    async with open_client(make_config(fake, retry=QUICK_RETRY)) as client:
        error, _, _ = await fail(client)

    message = str(error)
    assert type(error) is LLMError
    assert "not JSON" in message
    assert "<html>xxx" in message
    assert len(message) < 400
    assert "\n" not in message
    assert len(fake.requests) == 1


async def test_plain_json_reply_is_refused_as_not_a_stream(fake: FakeOpenAI) -> None:
    fake.script.append(lambda _request: Response.json({"choices": []}))
    async with open_client(make_config(fake)) as client:
        error, _, _ = await fail(client)
    assert "text/event-stream" in str(error)
    assert "application/json" in str(error)


async def test_connection_drop_after_text_is_not_retried(fake: FakeOpenAI) -> None:
    fake.drop_after(["half ", "a "])
    fake.stream(["duplicate"])
    async with open_client(make_config(fake, retry=QUICK_RETRY)) as client:
        error, received, _ = await fail(client)

    assert isinstance(error, LLMConnectionError)
    assert error.partial_text == "half a "
    assert received == ["half ", "a "]
    assert len(fake.requests) == 1


async def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = LLMConfig(
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        api_key_env=KEY_ENV,
        retry=RetryPolicy(attempts=2, initial=0.01, maximum=0.01),
    )
    async with open_client(config) as client:
        error, _, elapsed = await fail(client)
    assert isinstance(error, LLMConnectionError)
    assert f"127.0.0.1:{port}" in str(error)
    assert elapsed < 1.0


@pytest.mark.skipif(
    sys.platform != "linux", reason="relies on Linux dropping SYNs to a full backlog"
)
async def test_connect_timeout_is_its_own_phase() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:  # fill the accept queue so the next handshake goes unanswered
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
        config = LLMConfig(
            base_url=f"http://127.0.0.1:{port}/v1",
            model="m",
            api_key_env=KEY_ENV,
            connect_timeout=0.3,
            retry=NO_RETRY,
        )
        client = LLMClient(config)
        try:
            error, _, elapsed = await fail(client)
        finally:
            await client.aclose()
            for filler in fillers:
                filler.close()
    assert isinstance(error, LLMTimeout)
    assert error.phase == "connect"
    assert error.retryable
    assert 0.3 <= elapsed < 0.3 + 1.5


async def test_no_time_left_means_no_request(fake: FakeOpenAI) -> None:
    fake.stream(["unused"])
    async with open_client(make_config(fake)) as client:
        error, _, _ = await fail(client, remaining=lambda: 0.0)
    assert isinstance(error, LLMTimeout)
    assert error.phase == "deadline"
    assert fake.requests == []


async def test_half_open_breaker_lets_one_probe_through_and_closes_on_success(
    fake: FakeOpenAI,
) -> None:
    now = [0.0]
    breaker = CircuitBreaker("fake", failure_threshold=1, reset_after=30.0, clock=lambda: now[0])
    fake.status(500)
    fake.stream(["back"])
    async with open_client(make_config(fake), breaker=breaker) as client:
        await fail(client)
        assert breaker.state is BreakerState.OPEN
        blocked, _, _ = await fail(client)
        assert isinstance(blocked, LLMBlocked)
        now[0] = 31.0
        result, _ = await call(client)
    assert result.text == "back"
    assert breaker.state is BreakerState.CLOSED
    assert len(fake.requests) == 2


async def test_unset_key_variable_is_a_config_error_without_a_request(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    async with open_client(make_config(fake)) as client:
        error, _, _ = await fail(client)
    assert isinstance(error, LLMConfigError)
    assert KEY_ENV in str(error)
    assert fake.requests == []


async def test_cancelled_call_keeps_what_was_streamed(fake: FakeOpenAI) -> None:
    fake.stream(["kept "], stall_after=1)
    client = LLMClient(make_config(fake))
    received: list[str] = []
    first_text = asyncio.Event()

    def on_text(piece: str) -> None:
        received.append(piece)
        first_text.set()

    try:
        task = asyncio.create_task(client.stream_chat(MESSAGES, remaining=plenty, on_text=on_text))
        await first_text.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await client.aclose()
    assert received == ["kept "]


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = float(int(time.time()))  # HTTP dates have whole seconds
    assert parse_retry_after("1") == 1.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_config_from_mapping_parses_durations_and_retry() -> None:
    config = LLMConfig.from_mapping(
        {
            "base_url": "http://localhost:8000/v1/",
            "model": "m",
            "connect_timeout": "250ms",
            "idle_timeout": "2s",
            "total_timeout": "5m",
            "retry": {"attempts": 4, "initial": "500ms", "max": "10s"},
            "max_tokens": 100,
        },
        where="tether.toml [llm]",
    )
    assert config.connect_timeout == 0.25
    assert config.idle_timeout == 2.0
    assert config.total_timeout == 300.0
    assert config.first_token_timeout == 60.0
    assert config.retry == RetryPolicy(attempts=4, initial=0.5, maximum=10.0)
    assert config.endpoint == "http://localhost:8000/v1/chat/completions"
    assert config.api_key_env == "OPENAI_API_KEY"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"model": "m"}, "base_url"),
        ({"base_url": "ftp://x", "model": "m"}, "base_url"),
        ({"base_url": "http://x", "model": "m", "idle_timeout": "soon"}, "idle_timeout"),
        ({"base_url": "http://x", "model": "m", "total_timeout": 0}, "total_timeout"),
        ({"base_url": "http://x", "model": "m", "api_key_env": "sk-abc"}, "api_key_env"),
        ({"base_url": "http://x", "model": "m", "retry": {"attempts": 0}}, "retry.attempts"),
        ({"base_url": "http://x", "model": "m", "tempreature": 1}, "tempreature"),
        ({"base_url": "http://x", "model": 3}, "model"),
    ],
)
def test_config_from_mapping_names_where_and_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError) as caught:
        LLMConfig.from_mapping(data, where="tether.toml [llm]")
    message = str(caught.value)
    assert message.startswith("tether.toml [llm]: ")
    assert field in message
    assert "\n" not in message
