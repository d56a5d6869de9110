"""Python step callables used by the engine tests (imported by `call = "..."`)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tether import StepContext, TransientError


def _mark(ctx: StepContext, name: str) -> None:
    folder = Path(str(ctx.inputs["marks"]))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{ctx.step.id}.{name}").write_text(str(time.monotonic()))


async def sleep_with_cleanup(ctx: StepContext) -> dict[str, Any]:
    ctx.on_cleanup(lambda: _mark(ctx, "cleanup"))
    await asyncio.sleep(float(ctx.inputs.get("seconds", 10)))
    return {"slept": True}


async def emit_forever(ctx: StepContext) -> None:
    index = 0
    while True:
        ctx.emit({"index": index})
        index += 1
        await asyncio.sleep(0.2)


async def swallow_cancellation(ctx: StepContext) -> None:
    """A badly behaved step: it ignores cancellation for 3 s (finite, so tests can end)."""
    ctx.on_cleanup(lambda: _mark(ctx, "cleanup"))
    give_up_at: float | None = None
    while give_up_at is None or time.monotonic() < give_up_at:
        try:
            await asyncio.sleep(0.05 if give_up_at else 30)
        except asyncio.CancelledError:
            give_up_at = give_up_at or time.monotonic() + 3


def block_in_thread(ctx: StepContext) -> None:
    time.sleep(float(ctx.inputs.get("seconds", 30)))


async def flaky(ctx: StepContext) -> dict[str, Any]:
    if ctx.attempt <= int(ctx.inputs.get("failures", 2)):
        raise TransientError(f"transient failure on attempt {ctx.attempt}")
    return {"attempt": ctx.attempt}


async def always_transient(ctx: StepContext) -> None:
    raise TransientError("still down")


async def broken(ctx: StepContext) -> None:
    raise ValueError("not a transient problem")


async def own_timeout(ctx: StepContext) -> None:
    async with asyncio.timeout(0.05):
        await asyncio.sleep(1)


async def fail_after(ctx: StepContext) -> None:
    await asyncio.sleep(float(ctx.inputs.get("seconds", 0.2)))
    raise RuntimeError("boom")


async def heartbeat_then_silence(ctx: StepContext) -> None:
    for beat in range(3):
        ctx.heartbeat({"beat": beat})
        await asyncio.sleep(0.1)
    _mark(ctx, "silent")
    await asyncio.sleep(30)


async def echo_inputs(ctx: StepContext) -> dict[str, Any]:
    return {"inputs": dict(ctx.inputs), "results": dict(ctx.results)}


def sync_value(ctx: StepContext) -> dict[str, Any]:
    ctx.emit("from a thread")
    return {"sync": True, "attempt": ctx.attempt}


async def wait_for_answer(ctx: StepContext) -> dict[str, Any]:
    from tether.engine.errors import StepWaiting

    if ctx.resume_result is None:
        raise StepWaiting({"question": "why?"})
    return {"answer": ctx.resume_result}
