"""Exceptions that cross module boundaries."""

from __future__ import annotations

from pathlib import Path


class TransientError(Exception):
    """Raised by step code for a failure worth retrying (the retry policy allows it)."""


class StepSkipped(Exception):
    """Raised by step code to finish as `skipped`, with the message as the reason."""


class StepFailed(Exception):
    """A step failure whose message is already the one-line story (no type prefix)."""


class WorkflowError(Exception):
    """A workflow file or invocation that cannot run: one line naming file, line and field."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class RunIdError(ValueError):
    """A run id that does not match ^[a-z0-9][a-z0-9._-]{0,127}$; refused before any path."""


class StepWaiting(Exception):
    """Raised by an agent step: the run waits (resumable) until a result is handed in."""

    def __init__(self, request: object) -> None:
        self.request = request
        super().__init__("waiting for a result")


class StepTimedOut(Exception):
    """Raised by step code whose own time limit ran out (e.g. an llm stream gone idle).

    The step ends `timed_out` with `reason`, like an engine deadline, and is not retried.
    """

    def __init__(self, message: str, reason: str) -> None:
        self.reason = reason
        super().__init__(message)
