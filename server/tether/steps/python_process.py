"""The parent side of a python step with `isolation = "process"`.

The callable runs in a child process (steps.python_child) in its own process group, so
the engine can end it at its deadline exactly like a command step, however it blocks:
an `async def` that never awaits, a C extension that holds the GIL, a thread stuck in
I/O. Its context crosses as JSON (inputs, params, upstream results, last heartbeat,
the deadline); its emits, heartbeats and result come back as JSON lines.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from tether.engine.context import StepContext
from tether.engine.errors import StepFailed, StepSkipped, StepTimedOut, TransientError
from tether.steps.process import run_process

_PROTOCOL_LINE_LIMIT = 256 * 1024 * 1024
_STDERR_TAIL = 20


async def run_in_child_process(ctx: StepContext, target: str) -> Any:
    request = {
        "call": target,
        "workspace": str(ctx.workspace),
        "run_dir": str(ctx.run_dir),
        "run_id": ctx.run_id,
        "step_id": ctx.step.id,
        "attempt": ctx.attempt,
        "options": dict(ctx.options),
        "params": dict(ctx.params),
        "results": dict(ctx.results),
        "last_heartbeat": ctx.last_heartbeat,
        "resume_result": ctx.resume_result,
        # CLOCK_MONOTONIC is system-wide (Linux, macOS): the child sees the same deadline.
        "deadline_at": None if ctx.deadline.at == math.inf else ctx.deadline.at,
        "level": str(ctx.deadline.level),
        # The child imports the callable as this process would.
        "sys_path": [entry for entry in sys.path if entry],
    }
    # A small local file, like a journal line: written on the loop.
    request_path = _write_request(ctx.run_dir, orjson.dumps(request, default=_not_json))
    try:
        channel = _Channel(ctx)
        result = await run_process(
            ctx,
            [sys.executable, "-m", "tether.steps.python_child", str(request_path)],
            cwd=ctx.workspace,
            kill_grace=ctx.step.kill_grace,
            on_stdout=channel.receive,
            on_stderr=channel.log,
            max_line=_PROTOCOL_LINE_LIMIT,
        )
    finally:
        _remove(request_path)
    return channel.outcome(result.exit_code)


def _write_request(run_dir: Path, data: bytes) -> Path:
    fd, name = tempfile.mkstemp(prefix="python-step-", suffix=".json", dir=run_dir)
    with os.fdopen(fd, "wb") as request_file:
        request_file.write(data)
    return Path(name)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


class _Channel:
    """What the child said: forwarded emits and heartbeats, then its answer."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.answer: dict[str, Any] | None = None
        self.stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL)

    def receive(self, line: str) -> None:
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            self.ctx.logger.warning("python step child wrote a non-protocol line: %.200s", line)
            return
        if not isinstance(message, dict):
            return
        with contextlib.suppress(RuntimeError):  # loop closing under an abandoned step
            if "emit" in message:
                self.ctx.emit(message["emit"])
            elif "heartbeat" in message:
                self.ctx.heartbeat(message["heartbeat"])
            elif "result" in message or "error" in message:
                self.answer = message

    def log(self, line: str) -> None:
        self.stderr.append(line)
        self.ctx.logger.info("%s", line)

    def outcome(self, exit_code: int) -> Any:
        if self.answer is None:
            last = next((line for line in reversed(self.stderr) if line.strip()), "")
            raise StepFailed(
                f"python step process exited with code {exit_code} without a result"
                + (f": {last[:300]}" if last else "")
            )
        if "result" in self.answer:
            return self.answer["result"]
        error = self.answer["error"]
        message = str(error.get("message", ""))
        kind = error.get("kind")
        if kind == "transient":
            raise TransientError(message)
        if kind == "skipped":
            raise StepSkipped(message)
        if kind == "timed_out":
            raise StepTimedOut(message, str(error.get("reason", "")))
        raise StepFailed(message)
