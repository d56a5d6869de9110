"""Python step callables that misbehave on purpose (imported by `call = "..."`)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from tether import StepContext, TransientError


def _write_pid(ctx: StepContext) -> None:
    if "pid_file" in ctx.inputs:
        Path(str(ctx.inputs["pid_file"])).write_text(str(os.getpid()))


async def block_loop(ctx: StepContext) -> dict[str, Any]:
    """An async step that blocks its event loop (a sync call inside `async def`)."""
    _write_pid(ctx)
    time.sleep(float(ctx.inputs.get("seconds", 30)))
    return {"blocked": True}


async def swallow_forever(ctx: StepContext) -> None:
    """Ignores every cancellation, forever."""
    while True:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            pass


async def chatty(ctx: StepContext) -> dict[str, Any]:
    """Emits, heartbeats, prints (which must not be mistaken for protocol), returns."""
    print('{"result": "not the protocol"}')
    for index in range(3):
        ctx.emit({"index": index})
        ctx.heartbeat({"done": index + 1})
    ctx.on_cleanup(lambda: Path(str(ctx.inputs["cleanup_mark"])).write_text("cleaned"))
    return {
        "pid": os.getpid(),
        "inputs": dict(ctx.inputs),
        "params": dict(ctx.params),
        "upstream": ctx.results.get("first"),
        "attempt": ctx.attempt,
        "remaining_bounded": ctx.remaining() < 60,
        "last_heartbeat": ctx.last_heartbeat,
    }


def sync_value(ctx: StepContext) -> dict[str, Any]:
    return {"value": ctx.inputs.get("value")}


async def transient_once(ctx: StepContext) -> dict[str, Any]:
    if ctx.attempt == 1:
        raise TransientError("first attempt fails")
    return {"attempt": ctx.attempt}


async def raise_value_error(ctx: StepContext) -> None:
    raise ValueError("bad value in the child")


async def exit_hard(ctx: StepContext) -> None:
    os._exit(7)
