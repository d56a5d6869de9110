"""Streaming client for OpenAI-compatible chat completions, behind the `llm` step kind.

One call = POST {base_url}/chat/completions with "stream": true, read as Server-Sent Events.
Every wait is bounded by the tighter of its own timeout and the caller's deadline:
connect (httpx), first token (request sent -> first text), idle (text -> next text),
total (the whole call, retries and their waits included), and `remaining()` (the step's).
Text reaches `on_text` as it arrives, so whatever was streamed survives a timeout.

The API key is read from the environment at call time and sent only as a header; every
string that leaves this module (errors, logs, results, streamed text) has it replaced by
"***", and errors never chain the httpx exceptions whose requests carry the header.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import orjson

from tether.engine.breaker import BreakerOpenError, BreakerState, CircuitBreaker
from tether.engine.redaction import Redactor, StreamRedactor
from tether.engine.retry import next_retry_delay
from tether.llm.config import LLMConfig
from tether.llm.sse import SSEDecoder, SSEError, SSEEvent

logger = logging.getLogger(__name__)

TimeoutPhase = Literal["connect", "first_token", "idle", "total", "deadline"]
_SNIPPET_CHARS = 200
_ERROR_BODY_BYTES = 4096


class LLMError(Exception):
    """A chat completion that did not complete; the message is one line naming the endpoint."""

    def __init__(self, message: str, *, partial_text: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.partial_text = partial_text
        """Text already passed to on_text before the failure (the step keeps it)."""
        self.retryable = retryable
        """A kind of failure the client retries (429, 5xx, connection) when time allows."""


class LLMTimeout(LLMError):
    """A timeout; `phase` says which limit: connect, first_token, idle, total or deadline."""

    def __init__(self, message: str, *, phase: TimeoutPhase, partial_text: str = "") -> None:
        super().__init__(message, partial_text=partial_text, retryable=phase == "connect")
        self.phase: TimeoutPhase = phase


class LLMHTTPError(LLMError):
    """The endpoint answered with an error status."""

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message, retryable=status == 429 or status >= 500)
        self.status = status
        self.retry_after = retry_after


class LLMConnectionError(LLMError):
    """The connection failed or broke before the stream ended."""


class LLMBlocked(LLMError):
    """Refused without a request: the endpoint's circuit breaker is open."""

    def __init__(self, message: str, *, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class LLMConfigError(LLMError):
    """The call cannot be made as configured (e.g. the key's environment variable is unset)."""


@dataclass(frozen=True)
class CompletionResult:
    text: str
    """The whole streamed text (what on_text received, in order)."""
    model: str
    """The model that answered, as the server named it (else the configured one)."""
    finish_reason: str | None
    """Why generation stopped ("stop", "length", ...), if the server said."""
    usage: dict[str, Any] | None
    """Token usage, if the server sent it."""
    attempts: int
    """Requests made, the successful one included."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), else None."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if seconds == seconds else None  # NaN is unusable


class LLMClient:
    """Calls one configured endpoint; reuse it for many calls, then `await aclose()`."""

    def __init__(
        self,
        config: LLMConfig,
        *,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.endpoint = _display_url(config.endpoint)
        """The endpoint as shown in errors and logs (no credentials, no query)."""
        self.breaker = breaker or CircuitBreaker(name=self.endpoint)
        self._http = httpx.AsyncClient(transport=transport, follow_redirects=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def stream_chat(
        self,
        messages: list[dict[str, str]],
        *,
        remaining: Callable[[], float],
        on_text: Callable[[str], None],
    ) -> CompletionResult:
        """Stream one completion, passing each piece of text to `on_text` as it arrives.

        Raises LLMTimeout (with the phase and partial text), LLMHTTPError, LLMConnectionError,
        LLMBlocked (breaker open, no request made), LLMConfigError, or LLMError (a response
        that is not a usable stream).
        """
        key = self._read_key()
        redactor = Redactor([key])
        loop = asyncio.get_running_loop()
        clock = _CallClock(loop.time, remaining, loop.time() + self.config.total_timeout)
        headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
        body = orjson.dumps(self._request_body(messages))
        last_error: LLMError | None = None
        attempt = 0
        while True:
            attempt += 1
            left, phase = clock.left()
            if left <= 0:
                raise last_error or LLMTimeout(
                    f"{self.endpoint}: no time left to call the model ({phase})", phase=phase
                )
            probe = self.breaker.state is BreakerState.HALF_OPEN
            try:
                self.breaker.before_call()
            except BreakerOpenError as exc:
                if last_error is not None:
                    raise last_error from None
                raise LLMBlocked(
                    f"{self.endpoint}: circuit open after repeated failures; "
                    f"next probe in {exc.retry_in:.1f}s",
                    retry_in=exc.retry_in,
                ) from None
            stream = _StreamState(redactor.stream(), on_text)
            try:
                await self._attempt(headers, body, clock, stream)
            except LLMError as error:
                _sanitize(error, redactor)
                self._record_outcome(error, probe)
                last_error = error
                # Never retry once text has reached on_text: the step already holds it as
                # partial output, and a second stream would repeat it from the start.
                if not error.retryable or error.partial_text:
                    raise
                if self.breaker.state is BreakerState.OPEN:
                    raise  # this failure opened it: waiting to be refused helps no one
                retry_after = error.retry_after if isinstance(error, LLMHTTPError) else None
                delay = next_retry_delay(self.config.retry, attempt, clock.left()[0], retry_after)
                if delay is None:
                    raise
                logger.warning("attempt %d failed: %s; retrying in %.2fs", attempt, error, delay)
                await asyncio.sleep(delay)
                continue
            except BaseException:
                if probe:  # release the half-open probe this call claimed
                    self.breaker.record_failure()
                raise
            self.breaker.record_success()
            return CompletionResult(
                text="".join(stream.parts),
                model=redactor.text(stream.model or self.config.model),
                finish_reason=redactor.text(stream.finish_reason) if stream.finish_reason else None,
                usage=redactor.json(stream.usage) if stream.usage is not None else None,
                attempts=attempt,
            )

    def _read_key(self) -> str:
        name = self.config.api_key_env
        key = os.environ.get(name, "").strip()
        if not key:
            raise LLMConfigError(
                f"{self.endpoint}: no API key: the environment variable {name} is not set"
            )
        if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
            raise LLMConfigError(
                f"{self.endpoint}: the environment variable {name} holds characters "
                "that cannot be sent in an HTTP header"
            )
        return key

    def _request_body(self, messages: list[dict[str, str]]) -> dict[str, object]:
        body: dict[str, object] = {
            "model": self.config.model,
            "messages": messages,
            "stream": True,
        }
        if self.config.temperature is not None:
            body["temperature"] = self.config.temperature
        if self.config.max_tokens is not None:
            body["max_tokens"] = self.config.max_tokens
        return body

    def _record_outcome(self, error: LLMError, probe: bool) -> None:
        """The breaker counts what the endpoint got wrong, not what the caller ran out of."""
        if isinstance(error, LLMTimeout) and error.phase == "deadline":
            if probe:  # release the half-open probe: its result is unknown, stay careful
                self.breaker.record_failure()
        elif error.retryable or isinstance(error, LLMTimeout):
            self.breaker.record_failure()
        else:
            self.breaker.record_success()  # it answered; the fault is in the request

    async def _attempt(
        self, headers: dict[str, str], body: bytes, clock: _CallClock, stream: _StreamState
    ) -> None:
        """One request. Raises LLMError; `stream` holds whatever text arrived."""
        config = self.config
        loop = asyncio.get_running_loop()
        started = loop.time()
        binding: list[TimeoutPhase] = []
        try:
            async with asyncio.timeout(None) as timer:

                def arm(phase: TimeoutPhase, own_deadline: float) -> None:
                    when, binding_phase = clock.bound(phase, own_deadline)
                    timer.reschedule(when)
                    binding[:] = [binding_phase]

                async def trace(event: str, info: Mapping[str, object]) -> None:
                    # The first-token clock starts when the request is on the wire.
                    if event.endswith("send_request_body.complete") and not stream.has_text:
                        arm("first_token", loop.time() + config.first_token_timeout)

                # Until the transport reports the request sent, allow connect + first token.
                arm("first_token", started + config.connect_timeout + config.first_token_timeout)
                connect_at, connect_phase = clock.bound("connect", started + config.connect_timeout)
                request = self._http.build_request(
                    "POST",
                    config.endpoint,
                    content=body,
                    headers={**headers, "Content-Type": "application/json"},
                    timeout=httpx.Timeout(None, connect=max(0.001, connect_at - started)),
                    extensions={"trace": trace},
                )
                try:
                    response = await self._http.send(request, stream=True)
                except httpx.ConnectTimeout:
                    raise LLMTimeout(
                        f"{self.endpoint}: could not connect within "
                        f"{connect_at - started:.2f}s ({connect_phase})",
                        phase=connect_phase,
                    ) from None
                try:
                    await self._check_response(response)
                    await self._read_stream(
                        response, stream, lambda: arm("idle", loop.time() + config.idle_timeout)
                    )
                finally:
                    await response.aclose()
        except TimeoutError:
            if not timer.expired():
                raise
            phase = binding[0]
            raise LLMTimeout(
                f"{self.endpoint}: timed out ({_PHASE_STORY[phase]}) after "
                f"{loop.time() - started:.2f}s with {len(stream.text)} characters received",
                phase=phase,
                partial_text=stream.text,
            ) from None
        except httpx.TransportError as exc:
            retryable = isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError)
            error_type = LLMConnectionError if retryable else LLMError
            raise error_type(
                f"{self.endpoint}: {_describe(exc)}",
                partial_text=stream.text,
                retryable=retryable,
            ) from None
        except httpx.HTTPError as exc:  # e.g. a body that fails to decompress
            raise LLMError(f"{self.endpoint}: {_describe(exc)}", partial_text=stream.text) from None
        except SSEError as exc:
            raise LLMError(
                f"{self.endpoint}: unusable event stream: {exc}", partial_text=stream.text
            ) from None

    async def _check_response(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 200:
            content_type = response.headers.get("content-type", "")
            if content_type.split(";")[0].strip().lower() == "text/event-stream":
                return
            snippet = _snippet(await _read_some(response))
            raise LLMError(
                f"{self.endpoint}: expected an event stream (text/event-stream), "
                f"got {content_type or 'no content type'!r}: {snippet}"
            )
        detail = _error_detail(await _read_some(response))
        story = f"{self.endpoint}: HTTP {status} {response.reason_phrase}"
        if status in (401, 403):
            raise LLMHTTPError(
                f"{story}: the key in the environment variable {self.config.api_key_env} "
                f"was refused ({detail})",
                status=status,
            )
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is None and "retry-after-ms" in response.headers:
            milliseconds = parse_retry_after(response.headers["retry-after-ms"])
            retry_after = None if milliseconds is None else milliseconds / 1000
        raise LLMHTTPError(f"{story}: {detail}", status=status, retry_after=retry_after)

    async def _read_stream(
        self, response: httpx.Response, stream: _StreamState, on_progress: Callable[[], None]
    ) -> None:
        decoder = SSEDecoder()
        async for chunk in response.aiter_bytes():
            for event in decoder.feed(chunk):
                if self._take_event(event, stream, on_progress):
                    stream.finish()
                    return
        last = decoder.finish()
        if last is not None and self._take_event(last, stream, on_progress):
            stream.finish()
            return
        if stream.finish_reason is None:
            raise LLMConnectionError(
                f"{self.endpoint}: the stream ended before [DONE]",
                partial_text=stream.text,
                retryable=True,
            )
        stream.finish()

    def _take_event(
        self, event: SSEEvent, stream: _StreamState, on_progress: Callable[[], None]
    ) -> bool:
        """Apply one event; True at [DONE]."""
        if event.data.strip() == "[DONE]":
            return True
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise LLMError(
                f"{self.endpoint}: the stream sent data that is not JSON: {_snippet(event.data)}",
                partial_text=stream.text,
            ) from None
        if not isinstance(chunk, dict):
            raise LLMError(
                f"{self.endpoint}: expected a JSON object in the stream, "
                f"got {_snippet(event.data)}",
                partial_text=stream.text,
            )
        if "error" in chunk:
            raise LLMError(
                f"{self.endpoint}: the server reported an error mid-stream: "
                f"{_error_detail(event.data.encode())}",
                partial_text=stream.text,
            )
        if isinstance(chunk.get("model"), str):
            stream.model = chunk["model"]
        if isinstance(chunk.get("usage"), dict):
            stream.usage = chunk["usage"]
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise LLMError(
                f"{self.endpoint}: unexpected chunk shape: {_snippet(event.data)}",
                partial_text=stream.text,
            )
        if not choices:
            return False  # e.g. the closing usage chunk
        choice = choices[0]
        delta = choice.get("delta") if isinstance(choice, dict) else None
        content = delta.get("content") if isinstance(delta, dict) else None
        if not isinstance(choice, dict) or not isinstance(content, str | None):
            raise LLMError(
                f"{self.endpoint}: unexpected chunk shape: {_snippet(event.data)}",
                partial_text=stream.text,
            )
        if isinstance(choice.get("finish_reason"), str):
            stream.finish_reason = choice["finish_reason"]
        if content:
            stream.add(content)
            on_progress()
        return False


_PHASE_STORY: dict[TimeoutPhase, str] = {
    "connect": "connect timeout",
    "first_token": "no text before the first-token timeout",
    "idle": "no text within the idle timeout",
    "total": "the call's total timeout",
    "deadline": "the caller's deadline",
}


@dataclass
class _CallClock:
    """The limits one call lives under: its own total and the caller's remaining()."""

    now: Callable[[], float]
    remaining: Callable[[], float]
    total_at: float

    def bound(self, phase: TimeoutPhase, own_deadline: float) -> tuple[float, TimeoutPhase]:
        """The effective deadline for a wait, and which limit it is (own wins ties)."""
        now = self.now()
        return min(
            (own_deadline, phase),
            (self.total_at, "total"),
            (now + self.remaining(), "deadline"),
            key=lambda candidate: candidate[0],
        )

    def left(self) -> tuple[float, TimeoutPhase]:
        """Seconds until the first of total and the caller's deadline, and which it is."""
        now = self.now()
        caller = self.remaining()
        if self.total_at - now < caller:
            return self.total_at - now, "total"
        return caller, "deadline"


@dataclass
class _StreamState:
    """What one attempt has received so far."""

    redactor: StreamRedactor
    on_text: Callable[[str], None]
    parts: list[str] = field(default_factory=list)
    has_text: bool = False
    model: str | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def add(self, content: str) -> None:
        self.has_text = True
        self._emit(self.redactor.feed(content))

    def finish(self) -> None:
        self._emit(self.redactor.flush())

    def _emit(self, safe: str) -> None:
        if safe:
            self.parts.append(safe)
            self.on_text(safe)


def _sanitize(error: LLMError, redactor: Redactor) -> None:
    """Last line of defence: no key in the message, no httpx objects (their requests carry
    the Authorization header) reachable from the error."""
    error.args = tuple(redactor.text(str(arg)) for arg in error.args)
    error.partial_text = redactor.text(error.partial_text)
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True


def _display_url(url: str) -> str:
    parsed = httpx.URL(url)
    return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {_snippet(text)}" if text else type(exc).__name__


def _snippet(text: str | bytes) -> str:
    """A one-line, truncated rendering of what the server sent."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    # Redacted before it is cut: a cut through the key would otherwise keep part of it.
    return repr(Redactor().cut(" ".join(text.split()), _SNIPPET_CHARS))


def _error_detail(body: bytes) -> str:
    """The server's error message from an OpenAI-style JSON body, else a snippet of the body."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _snippet(body) if body.strip() else "no details"
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    if isinstance(message, str) and message.strip():
        return _snippet(message)
    return _snippet(body)


async def _read_some(response: httpx.Response) -> bytes:
    """Up to a few KiB of an error body: enough to explain, never a whole hostile stream."""
    received = b""
    async for chunk in response.aiter_bytes():
        received += chunk
        if len(received) >= _ERROR_BODY_BYTES:
            break
    return received[:_ERROR_BODY_BYTES]
