"""The child side of a python step with `isolation = "process"`.

Run as `python -m tether.steps.python_child REQUEST_FILE`. The request (JSON) says what to
call and with what context; the child answers on its stdout with JSON lines:
`{"emit": item}`, `{"heartbeat": details}`, then one `{"result": value}` or
`{"error": {"kind", "message", "reason"?}}`. The callable's own prints go to stderr (its
stdout is moved there), so nothing it writes can be mistaken for the protocol.

The parent kills the whole process group at the deadline like a command step's: SIGTERM
(which cancels the callable here, so its cleanups run), `kill_grace`, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import orjson

from tether.engine.cleanup import CleanupStack
from tether.engine.context import StepContext
from tether.engine.deadlines import Deadline, Level
from tether.engine.errors import StepFailed, StepSkipped, StepTimedOut, TransientError
from tether.engine.spec import StepSpec
from tether.engine.threads import run_in_daemon_thread

CLEANUP_BUDGET = 10.0


class _ProtocolSink:
    """Writes emits and heartbeats to the parent, one JSON line each."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()

    def record_output(self, item: Any) -> None:
        self.send({"emit": item})

    def record_heartbeat(self, details: Any) -> None:
        self.send({"heartbeat": details})

    def send(self, message: dict[str, Any]) -> None:
        data = orjson.dumps(message) + b"\n"
        with self._lock:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]


async def _run(request: dict[str, Any], sink: _ProtocolSink) -> dict[str, Any]:
    from tether.steps.python_call import resolve_callable

    workspace = Path(request["workspace"])
    sys.path[:0] = [entry for entry in request["sys_path"] if entry not in sys.path]
    function = resolve_callable(str(request["call"]), str(workspace))
    at = request["deadline_at"]
    step = StepSpec(id=request["step_id"], kind="python", options=request["options"])
    cleanups = CleanupStack()
    ctx = StepContext(
        step=step,
        run_id=request["run_id"],
        attempt=request["attempt"],
        options=request["options"],
        params=request["params"],
        results=request["results"],
        workspace=workspace,
        run_dir=Path(request["run_dir"]),
        deadline=Deadline(math.inf if at is None else float(at), Level(request["level"])),
        last_heartbeat=request["last_heartbeat"],
        sink=sink,
        cleanups=cleanups,
        resume_result=request.get("resume_result"),
    )
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        if inspect.iscoroutinefunction(function):
            result = await function(ctx)
        else:
            result = await run_in_daemon_thread(function, ctx, name=f"tether-step-{step.id}")
            if inspect.isawaitable(result):
                result = await result
        return {"result": result}
    finally:
        await cleanups.run(CLEANUP_BUDGET)


def _describe_error(error: BaseException) -> dict[str, Any]:
    if isinstance(error, TransientError):
        return {"kind": "transient", "message": str(error)}
    if isinstance(error, StepSkipped):
        return {"kind": "skipped", "message": str(error)}
    if isinstance(error, StepTimedOut):
        return {"kind": "timed_out", "message": str(error), "reason": error.reason}
    if isinstance(error, StepFailed):
        return {"kind": "failed", "message": str(error)}
    lines = str(error).strip().splitlines()
    message = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    if isinstance(error, TimeoutError):
        message += " (raised by the step itself, not an engine deadline)"
    return {"kind": "failed", "message": message}


def main(argv: list[str]) -> int:
    # The protocol keeps the real stdout; the callable's prints go to stderr.
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    sink = _ProtocolSink(protocol_fd)
    request = orjson.loads(Path(argv[1]).read_bytes())
    try:
        answer = asyncio.run(_run(request, sink))
    except asyncio.CancelledError:
        return 143  # SIGTERM from the parent at the deadline; it records the outcome
    except BaseException as error:  # noqa: BLE001 - every failure is reported to the parent
        answer = {"error": _describe_error(error)}
    try:
        sink.send(answer)
    except orjson.JSONEncodeError as error:
        sink.send({"error": {"kind": "failed", "message": f"output is not JSON: {error}"}})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
