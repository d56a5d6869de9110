"""Configuration of the `llm` step kind: which OpenAI-compatible endpoint, how patiently.

The API key is never part of the configuration: only the NAME of the environment variable
holding it, read at call time, so the key cannot reach a journal or a config dump.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from tether.engine.durations import parse_duration
from tether.engine.retry import RetryPolicy

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TIMEOUT_FIELDS = ("connect_timeout", "first_token_timeout", "idle_timeout", "total_timeout")
_RETRY_KEYS = {"attempts", "initial", "max"}


_DEFAULT_RETRY = RetryPolicy(attempts=3, initial=1.0, maximum=20.0)  # frozen: safe to share


@dataclass(frozen=True)
class LLMConfig:
    """One OpenAI-compatible chat-completions endpoint and the limits for calling it."""

    base_url: str
    """Endpoint root, e.g. "https://api.openai.com/v1"; calls POST {base_url}/chat/completions."""
    model: str
    """Model name sent in every request, e.g. "gpt-4o-mini"."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the API key (read at call time, never stored)."""
    connect_timeout: float = 10.0
    """Seconds to open the TCP/TLS connection."""
    first_token_timeout: float = 60.0
    """Seconds from the request being sent to the first streamed text."""
    idle_timeout: float = 30.0
    """Longest gap in seconds between two pieces of streamed text (keep-alives do not count)."""
    total_timeout: float = 600.0
    """Seconds for the whole call, retries and their waits included."""
    retry: RetryPolicy = _DEFAULT_RETRY
    """Retries on 429, 5xx and connection errors: full jitter, Retry-After honoured, never past
    the deadline, never once text has been streamed."""
    temperature: float | None = None
    """Sampling temperature sent to the model (0-2); None leaves the server's default."""
    max_tokens: int | None = None
    """Cap on generated tokens sent to the model; None leaves the server's default."""

    def __post_init__(self) -> None:
        url = urlsplit(self.base_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ValueError(f"base_url: expected an http(s) URL, got {self.base_url!r}")
        if not self.model.strip():
            raise ValueError("model: must not be empty")
        if not _ENV_NAME.match(self.api_key_env):
            raise ValueError(
                f"api_key_env: expected an environment variable name, got {self.api_key_env!r}"
            )
        for name in _TIMEOUT_FIELDS:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0 seconds, got {getattr(self, name)!r}")
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise ValueError(f"temperature: expected 0-2, got {self.temperature!r}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens: expected a positive integer, got {self.max_tokens!r}")

    @property
    def endpoint(self) -> str:
        """The URL every request is POSTed to."""
        return self.base_url.rstrip("/") + "/chat/completions"

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], *, where: str) -> LLMConfig:
        """Build from a parsed TOML table; durations as "2s"/"5m" or seconds.

        `retry` is a table {attempts, initial, max} like a step's `retries`. Raises ValueError
        "WHERE: FIELD: what is wrong" on a missing, unknown or malformed field.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name in ("base_url", "model"):
            if name not in data:
                raise ValueError(f"{where}: {name}: required")
        for name in ("base_url", "model", "api_key_env"):
            if name in data:
                values[name] = _string(data[name], where, name)
        for name in _TIMEOUT_FIELDS:
            if name in data:
                values[name] = _duration(data[name], where, name)
        if "retry" in data:
            values["retry"] = _retry_policy(data["retry"], where)
        if data.get("temperature") is not None:
            temperature = data["temperature"]
            if isinstance(temperature, bool) or not isinstance(temperature, int | float):
                raise ValueError(f"{where}: temperature: expected a number, got {temperature!r}")
            values["temperature"] = float(temperature)
        if data.get("max_tokens") is not None:
            max_tokens = data["max_tokens"]
            if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
                raise ValueError(f"{where}: max_tokens: expected an integer, got {max_tokens!r}")
            values["max_tokens"] = max_tokens
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None


def _string(value: object, where: str, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: {name}: expected a string, got {value!r}")
    return value


def _duration(value: object, where: str, name: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {name}: {exc}") from None


def _retry_policy(value: object, where: str) -> RetryPolicy:
    if not isinstance(value, Mapping):
        raise ValueError(
            f"{where}: retry: expected a table {{attempts, initial, max}}, got {value!r}"
        )
    unknown = sorted(str(key) for key in value if key not in _RETRY_KEYS)
    if unknown:
        raise ValueError(f"{where}: retry: unknown field(s) {', '.join(unknown)}")
    default = _DEFAULT_RETRY
    attempts = value.get("attempts", default.attempts)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"{where}: retry.attempts: expected an integer >= 1, got {attempts!r}")
    initial = _duration(value.get("initial", default.initial), where, "retry.initial")
    maximum = _duration(value.get("max", default.maximum), where, "retry.max")
    return RetryPolicy(attempts=attempts, initial=initial, maximum=maximum)
