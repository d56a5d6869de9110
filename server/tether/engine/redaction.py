"""The one redaction helper: every secret tether holds becomes `***` wherever text leaves.

The secrets are the values of the API keys tether sends (the llm key, the Context7 key).
They are registered when read (`register`), before any request carries them, so that
nothing a server echoes can be written, shown or journaled with the key in it: the
providers redact what they receive, and the event bus redacts every event it publishes
(journal, terminal, editor progress) as a second line of defence.

Redaction comes before any cut: a text is redacted whole, then shortened, and a key's
first characters left at the end of a cut (or at the start of a tail) are masked too, so
that truncation can never expose part of a key. Secrets shorter than `MIN_SECRET_CHARS`
are not treated as secrets (masking every "a" would destroy all output).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
MIN_SECRET_CHARS = 6
EDGE_CHARS = 4
"""A key fragment this long at a cut edge is masked; shorter ones say nothing of a key."""

_lock = threading.Lock()
_registered: set[str] = set()


def register(secret: str | None) -> None:
    """Treat `secret` as a secret from now on, in this process."""
    if secret and len(secret.strip()) >= MIN_SECRET_CHARS:
        with _lock:
            _registered.add(secret.strip())


def secrets() -> tuple[str, ...]:
    """The registered secrets, longest first (a key containing another is masked whole)."""
    with _lock:
        return tuple(sorted(_registered, key=len, reverse=True))


class Redactor:
    """Masks a set of secrets (by default every registered one) in text, bytes and JSON."""

    def __init__(self, extra: Iterable[str | None] = ()) -> None:
        """`extra`: secrets this redactor masks whatever their length (and registers)."""
        own = {secret.strip() for secret in extra if secret and secret.strip()}
        for secret in own:
            register(secret)
        self._secrets = tuple(sorted(own.union(secrets()), key=len, reverse=True))

    @property
    def active(self) -> bool:
        return bool(self._secrets)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def data(self, value: bytes) -> bytes:
        for secret in self._secrets:
            encoded = secret.encode()
            if encoded in value:
                value = value.replace(encoded, MASK.encode())
        return value

    def json(self, value: Any) -> Any:
        """A JSON-shaped value with every string (keys too) redacted."""
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.json(item) for item in value)
        return value

    def cut(self, value: str, limit: int, ellipsis: str = "...") -> str:
        """`value` redacted, then at most `limit` characters (plus `ellipsis` when cut)."""
        value = self.text(value)
        if len(value) <= limit:
            return self.edges(value)
        return self.edges(value[:limit]) + ellipsis

    def edges(self, value: str) -> str:
        """Mask a key's start left at the end of `value`, or a key's end at its start:
        what a cut through a key leaves behind."""
        for secret in self._secrets:
            for size in range(len(secret) - 1, EDGE_CHARS - 1, -1):
                if value.endswith(secret[:size]):
                    value = value[: len(value) - size] + MASK
                    break
            for size in range(len(secret) - 1, EDGE_CHARS - 1, -1):
                if value.startswith(secret[-size:]):
                    value = MASK + value[size:]
                    break
        return value

    def edges_of_data(self, value: bytes) -> bytes:
        return self.edges(value.decode("latin-1")).encode("latin-1")

    def stream(self) -> StreamRedactor:
        return StreamRedactor(self)


class StreamRedactor:
    """Redacts text that arrives in pieces: a tail that could be the start of a key is held
    back until the next piece shows whether it is; `flush` releases it, masked if it is a
    key's start (a stream that ends mid-key)."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._held = ""

    def feed(self, piece: str) -> str:
        combined = self._redactor.text(self._held + piece)
        keep = self._key_start_at_end(combined)
        self._held = combined[len(combined) - keep :] if keep else ""
        return combined[: len(combined) - keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return self._redactor.edges(held)

    def _key_start_at_end(self, text: str) -> int:
        longest = 0
        for secret in self._redactor._secrets:
            for size in range(min(len(secret) - 1, len(text)), longest, -1):
                if text.endswith(secret[:size]):
                    longest = size
                    break
        return longest
