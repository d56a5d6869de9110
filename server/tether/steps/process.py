"""Run a subprocess for a step: own process group, streamed lines, nothing left behind."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tether.engine.context import StepContext
from tether.engine.orphans import TOKEN_ENV, mark_step_processes, sweep
from tether.engine.platform import (
    group_alive,
    kill_group_now,
    new_process_group_options,
    terminate_group,
)

_MAX_LINE = 8192
_TAIL_LINES = 200
_STREAM_LIMIT = 2**16
# After the main process exits, how long leftover holders of its pipes (`cmd &`, a test
# server) may keep writing before the group is swept. The step ends within this (plus
# the sweep) of the main process's exit, whoever still holds the pipes.
DRAIN_AFTER_EXIT = 0.3


LineHandler = Callable[[str], None]
"""Receives each line of one stream (decoded, without its newline)."""


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int
    tail: str
    """The last lines of stdout and stderr, interleaved as they arrived."""


async def run_process(
    ctx: StepContext,
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    kill_grace: float = 2.0,
    on_stdout: LineHandler | None = None,
    on_stderr: LineHandler | None = None,
    max_line: int = _MAX_LINE,
) -> ProcessResult:
    """Every output line becomes partial output (and so a heartbeat), unless a stream has
    its own handler (the python step's child speaks JSON lines on stdout). Lines longer
    than `max_line` bytes are cut into pieces of that size.

    On cancellation the whole process group gets SIGTERM, `kill_grace` seconds, then
    SIGKILL; the same sweep runs after a normal exit for anything the command left behind.
    """
    # Marked and recorded before the fork: an owner killed at any instant from here on
    # leaves a record that leads its successor to every process of this step.
    mark = mark_step_processes(ctx.run_dir)
    child_env = {**os.environ, **(env or {}), TOKEN_ENV: mark.env_value}
    try:
        process, exited = await _spawn(argv, cwd=cwd, env=child_env)
    except BaseException:
        sweep(mark)
        raise
    pgid = process.pid
    ctx.on_cleanup(lambda: sweep(mark, pgid))  # nothing of the step survives the attempt
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    assert process.stdout is not None and process.stderr is not None

    def emit(line: str) -> None:
        tail.append(line)
        with contextlib.suppress(RuntimeError):  # loop closing under an abandoned step
            ctx.emit(line)

    readers = [
        asyncio.create_task(_pump(process.stdout, on_stdout or emit, max_line)),
        asyncio.create_task(_pump(process.stderr, on_stderr or emit, max_line)),
    ]
    try:
        # Not process.wait(): before Python 3.12 it returns only once every pipe is
        # closed, so a background child holding stdout would hold the step forever.
        exit_code = await exited
        _, still_reading = await asyncio.wait(readers, timeout=DRAIN_AFTER_EXIT)
        if still_reading or group_alive(pgid):
            kill_group_now(pgid)
            await asyncio.wait(readers, timeout=1.0)  # what is left in the pipes, then EOF
    except asyncio.CancelledError:
        await asyncio.shield(terminate_group(pgid, kill_grace, process))
        raise
    finally:
        for reader in readers:
            reader.cancel()
    return ProcessResult(exit_code, "\n".join(tail))


class _ExitSignallingProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """The standard stream protocol, plus a future resolved when the process exits."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=_STREAM_LIMIT, loop=loop)
        self.exited: asyncio.Future[int] = loop.create_future()
        self._transport_ref: asyncio.SubprocessTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert isinstance(transport, asyncio.SubprocessTransport)
        self._transport_ref = transport

    def process_exited(self) -> None:
        super().process_exited()
        assert self._transport_ref is not None
        code = self._transport_ref.get_returncode()
        if not self.exited.done():
            self.exited.set_result(-1 if code is None else code)


async def _spawn(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]
) -> tuple[asyncio.subprocess.Process, asyncio.Future[int]]:
    """create_subprocess_exec, plus a future for the main process's own exit."""
    loop = asyncio.get_running_loop()
    protocol: _ExitSignallingProtocol | None = None

    def factory() -> _ExitSignallingProtocol:
        nonlocal protocol
        protocol = _ExitSignallingProtocol(loop)
        return protocol

    transport, _ = await loop.subprocess_exec(
        factory,
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=env,
        **new_process_group_options(),
    )
    assert protocol is not None
    return asyncio.subprocess.Process(transport, protocol, loop), protocol.exited


async def _pump(stream: asyncio.StreamReader, deliver: LineHandler, max_line: int) -> None:
    pending = b""
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            _deliver(raw, deliver, max_line)
        while len(pending) > max_line:
            _deliver(pending[:max_line], deliver, max_line)
            pending = pending[max_line:]
    if pending:
        _deliver(pending, deliver, max_line)


def _deliver(raw: bytes, deliver: LineHandler, max_line: int) -> None:
    for start in range(0, max(len(raw), 1), max_line):
        deliver(raw[start : start + max_line].decode("utf-8", errors="replace").rstrip("\r"))
