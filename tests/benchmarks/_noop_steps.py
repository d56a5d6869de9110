"""Step callables for the benchmarks (kept apart so their import cost is paid once)."""

from __future__ import annotations

import asyncio

from tether import StepContext


async def noop(ctx: StepContext) -> None:
    return None


async def sleep(ctx: StepContext) -> None:
    await asyncio.sleep(float(ctx.inputs["seconds"]))
