"""The detached owner: a background process that runs one run to its end, and nothing else.

A front end that must not hold the work (a CLI invocation with a budget, a chat tool's
short-lived call) starts an owner and then only follows the journal. The owner runs in
its own session, so it survives the invoking process exiting, its terminal closing, and
its process group being killed; it holds the run lock and writes the journal; it exits
when its run ends (finished, paused, or waiting with no result handed in). No daemon
outlives its run: there is nothing to install, start or stop.

Handshake: the starter writes one JSON OwnerRequest to the owner's stdin and reads one
JSON line back from its stdout, sent once the run's lock is held (`{"ok": true}`), or
why it could not start (`{"ok": false, "error": ..., "held": bool}`). After that the
owner's stdio points at /dev/null and `owner.log` in the run directory.

Two ways to start one, same code after the start: fork (POSIX, from a single-threaded
process: a CLI, which then pays no interpreter start-up) or spawn `python -m
tether.engine.owner` (anywhere else: Windows, or a process with threads, where fork is
unsafe).
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from tether.engine.platform import IS_WINDOWS, LockHeld

if TYPE_CHECKING:
    from tether.engine.execution import Execution

Opener = Callable[[], "Execution"]

logger = logging.getLogger(__name__)

OWNER_LOG = "owner.log"
START_WAIT = 60.0
"""Seconds a starter waits for the owner's handshake (generous: a loaded machine)."""


class OwnerStartError(Exception):
    """The owner could not take the run; the message is one line. `held` when another
    process owns the run (the caller may attach to it instead)."""

    def __init__(self, message: str, *, held: bool = False) -> None:
        self.held = held
        super().__init__(message)


@dataclass(frozen=True)
class OwnerRequest:
    """What an owner is asked to do: start a new run (workflow set) or resume one."""

    workspace: str
    run_id: str
    workflow: str | None = None
    """A new run of this workflow; None resumes run_id."""
    params: Mapping[str, Any] = field(default_factory=dict)
    results: Mapping[str, Any] = field(default_factory=dict)
    """Results for waiting steps, by step id (a resume)."""
    force: bool = False
    """Resume even if finished steps' definitions changed (they run again)."""
    budget: float | None = None
    """Pause the run after this long (only `--on-budget pause`); None runs to the end."""

    def to_bytes(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> OwnerRequest:
        record = orjson.loads(data)
        if not isinstance(record, dict):
            raise ValueError("an owner request is a JSON object")
        return cls(**record)


def start_owner(request: OwnerRequest, opener: Opener | None = None) -> int:
    """Start a detached owner for `request` and return its pid once it holds the run's
    lock. Blocks (at most START_WAIT seconds); call it in a thread from async code.

    `opener` (only where the owner is forked) opens the run in the child with what the
    caller has already loaded (workflow, step kinds), instead of loading it all again.
    Raises OwnerStartError."""
    # fork copies only the calling thread: safe only where there is no other.
    if not IS_WINDOWS and threading.active_count() == 1:
        return _fork_owner(request, opener)
    return _spawn_owner(request)


def _spawn_owner(request: OwnerRequest) -> int:
    from tether.engine.platform import new_process_group_options

    # The workspace may not have the package on its path (a source checkout run with
    # PYTHONPATH); the child gets the very paths this process imported tether from.
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    process = subprocess.Popen(
        [sys.executable, "-m", "tether.engine.owner"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=request.workspace,
        env=env,
        **new_process_group_options(),
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(request.to_bytes())
        process.stdin.close()
    except OSError as error:
        raise OwnerStartError(f"cannot start the run's owner process: {error}") from error
    try:
        answer = _read_answer(process.stdout.fileno())
    finally:
        process.stdout.close()
    _check(answer)
    return process.pid


def _fork_owner(request: OwnerRequest, opener: Opener | None) -> int:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the owner
        os.close(read_end)
        code = 1
        try:
            os.setsid()  # its own session: the starter's group and terminal are not ours
            code = _serve(request, answer_fd=write_end, opener=opener)
        except BaseException:  # a forked child must never return into its parent's code
            logger.exception("run %s: owner failed", request.run_id)
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        answer = _read_answer(read_end)
    finally:
        os.close(read_end)
    _check(answer)
    return pid


def _read_answer(fd: int) -> dict[str, Any]:
    import select

    chunks = b""
    while b"\n" not in chunks:
        if not IS_WINDOWS:  # Windows cannot select on a pipe; its spawn answers or exits
            ready, _, _ = select.select([fd], [], [], START_WAIT)
            if not ready:
                raise OwnerStartError(f"the run's owner did not start within {START_WAIT:g}s")
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks += chunk
    if not chunks.strip():
        raise OwnerStartError("the run's owner exited before taking the run (see owner.log)")
    try:
        answer = orjson.loads(chunks.split(b"\n", 1)[0])
    except orjson.JSONDecodeError as error:
        raise OwnerStartError(f"the run's owner answered garbage: {error}") from error
    if not isinstance(answer, dict):
        raise OwnerStartError("the run's owner answered garbage")
    return answer


def _check(answer: dict[str, Any]) -> None:
    if answer.get("ok") is True:
        return
    raise OwnerStartError(str(answer.get("error", "unknown error")), held=bool(answer.get("held")))


def _serve(request: OwnerRequest, *, answer_fd: int, opener: Opener | None = None) -> int:
    """Take the run, answer the starter, run it to its end. Returns the exit status."""
    from tether.engine.run_operations import open_execution

    workspace = Path(request.workspace)
    _detach_stdio()
    try:
        execution = opener() if opener is not None else open_execution(workspace, request)
    except LockHeld as held:
        _answer(answer_fd, {"ok": False, "error": str(held), "held": True})
        return 0
    except Exception as error:  # noqa: BLE001 - reported to the starter as one line
        _answer(answer_fd, {"ok": False, "error": _one_line(error)})
        return 2
    _log_to(execution.run_dir / OWNER_LOG)
    _answer(answer_fd, {"ok": True, "run_id": execution.run_id, "pid": os.getpid()})
    from tether.engine.run_operations import run_as_owner

    return asyncio.run(run_as_owner(execution, workspace))


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _answer(fd: int, answer: dict[str, Any]) -> None:
    try:
        os.write(fd, orjson.dumps(answer) + b"\n")
    except OSError:
        pass  # the starter is gone: it will not wait for us, and the run goes on
    finally:
        os.close(fd)


def _detach_stdio() -> None:
    """Point stdin/stdout/stderr at /dev/null: the starter's pipes must not stay open
    (a caller capturing the CLI's output would wait for the owner to exit)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def _log_to(path: Path) -> None:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def main() -> int:
    """`python -m tether.engine.owner`: the spawned form (request on stdin)."""
    data = sys.stdin.buffer.read()
    answer_fd = os.dup(1)
    try:
        request = OwnerRequest.from_bytes(data)
    except (ValueError, TypeError) as error:
        _answer(answer_fd, {"ok": False, "error": f"bad owner request: {error}"})
        return 2
    return _serve(request, answer_fd=answer_fd)


if __name__ == "__main__":
    status = main()
    logging.shutdown()
    # Not sys.exit: a step that ignored cancellation may still hold a thread, and the
    # interpreter would wait for it.
    os._exit(status)
