"""Pre-warm through the real `prewarm` workflow (docs step, engine, journal) against the
fake Context7 server on loopback. Prints one JSON object.

50 libraries that are not installed, so each needs a search and a context request. The
issue's figure is "50 libraries at 200 ms latency, concurrency 8: goal <= 1.6 s"; we run it
with 200 ms per library (two 100 ms requests) and, stricter, 200 ms per request.

Run: .venv/bin/python tests/benchmarks/prewarm.py
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "server"), str(ROOT)]

from tests.fakes.context7 import FakeContext7, FakeLibrary, snippet_docs  # noqa: E402

from tether.engine.execution import Execution  # noqa: E402
from tether.engine.loader import apply_params, resolve_workflow  # noqa: E402
from tether.steps.registry import builtin_kinds  # noqa: E402

LIBRARIES = 50


async def prewarm_once(request_delay: float) -> dict[str, float]:
    fakes = [
        FakeLibrary(f"/bench/lib{i}", f"lib{i}", snippet_docs(f"Lib{i}")) for i in range(LIBRARIES)
    ]
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        async with FakeContext7("slow", libraries=fakes, delay=request_delay) as fake:
            (workspace / ".tether").mkdir()
            (workspace / ".tether" / "config.toml").write_text(
                f'[docs]\nproviders = ["context7"]\nprewarm_concurrency = 8\n'
                f'cache_dir = "{workspace / "cache"}"\n[context7]\nurl = "{fake.url}"\n'
            )
            kinds = builtin_kinds()
            spec = resolve_workflow("prewarm", workspace, kinds)
            names = ",".join(f"lib{i}" for i in range(LIBRARIES))
            execution = Execution.new(
                spec, apply_params(spec, {"libraries": names}), workspace, kinds
            )
            started = time.perf_counter()
            state = await execution.run()
            wall = time.perf_counter() - started
            step = state.steps["docs"]
            counts = step.output["counts"] if step.output else {}
            assert counts.get("fetched") == LIBRARIES, (state.status, step.error, counts)
            return {"wall_s": wall, "requests": float(len(fake.requests))}


async def main() -> None:
    out: dict[str, object] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "libraries": LIBRARIES,
        "concurrency": 8,
        "sequential_would_be_s": LIBRARIES * 0.2,
        "goal_s": 1.6,
    }
    for label, delay in (("200ms_per_library", 0.1), ("200ms_per_request", 0.2)):
        walls = [(await prewarm_once(delay))["wall_s"] for _ in range(3)]
        out[label] = {
            "request_delay_s": delay,
            "median_s": round(statistics.median(walls), 3),
            "runs_s": [round(w, 3) for w in walls],
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
