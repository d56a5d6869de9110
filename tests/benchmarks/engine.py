"""Engine benchmarks: per-step overhead, parallel efficiency, timeout overshoot, cold start.

Run: .venv/bin/python tests/benchmarks/engine.py   (prints one JSON object)
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "server"), str(ROOT)]

from tether.engine.events import Event, EventType  # noqa: E402
from tether.engine.execution import Execution  # noqa: E402
from tether.engine.loader import load_workflow  # noqa: E402
from tether.engine.state import RunState  # noqa: E402
from tether.steps.registry import builtin_kinds  # noqa: E402

STEPS = "tests.benchmarks._noop_steps"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run_text(text: str) -> tuple[RunState, float, list[Event]]:
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        path = workspace / "bench.toml"
        path.write_text(text)
        kinds = builtin_kinds()
        spec = load_workflow(path, kinds)
        execution = Execution.new(spec, {}, workspace, kinds)
        events: list[Event] = []
        execution.bus.subscribe(events.append)
        started = time.perf_counter()
        state = await execution.run()
        return state, time.perf_counter() - started, events


def python_step(step_id: str, function: str, extra: str = "") -> str:
    return f'[[steps]]\nid = "{step_id}"\nkind = "python"\ncall = "{STEPS}:{function}"\n{extra}\n'


async def overhead(count: int = 1000) -> dict[str, Any]:
    chain = "".join(
        python_step(f"s{i}", "noop", f'needs = ["s{i - 1}"]' if i else "") for i in range(count)
    )
    fan = f"max_parallel = {count}\n" + "".join(python_step(f"s{i}", "noop") for i in range(count))
    results = {}
    for name, text in (("chain", chain), ("fan_out", fan)):
        state, elapsed, _ = await run_text(text)
        assert state.status == "succeeded", state.status
        results[name] = {
            "steps": count,
            "wall_s": round(elapsed, 3),
            "per_step_us": round(elapsed / count * 1e6, 1),
        }
    return results


async def parallel_efficiency() -> dict[str, Any]:
    steps = "".join(python_step(f"s{i}", "sleep", "inputs = { seconds = 0.5 }") for i in range(16))
    state, elapsed, _ = await run_text("max_parallel = 16\n" + steps)
    assert state.status == "succeeded"
    serial = 16 * 0.5
    return {
        "steps": 16,
        "step_s": 0.5,
        "wall_s": round(elapsed, 3),
        "speedup_vs_serial": round(serial / elapsed, 2),
        "goal": ">= 13x",
    }


async def timeout_overshoot(count: int = 50) -> dict[str, Any]:
    timeout = 0.1
    steps = "".join(
        python_step(
            f"s{i}",
            "sleep",
            f'inputs = {{ seconds = 10 }}\ntimeout = "{timeout}s"\ncontinue_on_error = true',
        )
        for i in range(count)
    )
    _, _, events = await run_text("max_parallel = 1\n" + steps)
    started = {e.step: e.ts for e in events if e.type is EventType.STEP_STARTED}
    over = [
        (e.ts - started[e.step] - timeout) * 1000
        for e in events
        if e.type is EventType.STEP_FINISHED and e.data["status"] == "timed_out"
    ]
    assert len(over) == count
    return {
        "timeouts": count,
        "overshoot_ms_p50": round(statistics.median(over), 2),
        "overshoot_ms_p99": round(percentile(over, 0.99), 2),
        "overshoot_ms_max": round(max(over), 2),
        "goal_p99_ms": 20,
    }


async def process_tree_kill(rounds: int = 10) -> dict[str, Any]:
    grace = 0.3
    timeout = 0.2
    gone_after: list[float] = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as folder:
            pids = Path(folder) / "pids"
            text = (
                '[[steps]]\nid = "tree"\nkind = "command"\n'
                f'run = ["sh", "-c", "trap \\"\\" TERM; sleep 60 & echo $! >> {pids}; '
                f'sleep 60 & echo $! >> {pids}; wait"]\n'
                f'timeout = "{timeout}s"\nkill_grace = "{grace}s"\n'
            )
            _, _, events = await run_text(text)
            started = next(e.ts for e in events if e.type is EventType.STEP_STARTED)
            deadline = started + timeout
            recorded = [int(p) for p in pids.read_text().split()]
            while any(_alive(pid) for pid in recorded):
                await asyncio.sleep(0.001)
            gone_after.append((time.time() - deadline) * 1000)
    return {
        "rounds": rounds,
        "kill_grace_ms": grace * 1000,
        "tree_gone_ms_after_deadline_p50": round(statistics.median(gone_after), 1),
        "tree_gone_ms_after_deadline_max": round(max(gone_after), 1),
        "goal_ms": grace * 1000 + 100,
    }


async def main_exit_to_step_end(rounds: int = 30) -> dict[str, Any]:
    """From a command's main process exiting to its step's end, with and without a
    background child that still holds the step's stdout (`cmd &`, a test server)."""
    out: dict[str, Any] = {}
    for name, holder in (("child_holds_pipe", "sleep 60 & "), ("no_child", "")):
        gaps = []
        for _ in range(rounds):
            # The last thing the main process does is print the time; then it exits.
            text = (
                '[[steps]]\nid = "main"\nkind = "command"\nshell = true\n'
                f'run = "{holder}sleep 0.05; date +%s.%N"\n'
            )
            state, _, events = await run_text(text)
            assert state.status == "succeeded", state.status
            finished = next(e for e in events if e.type is EventType.STEP_FINISHED)
            printed = float(state.steps["main"].output["text"].split()[-1])
            gaps.append((finished.ts - printed) * 1000)
        out[name] = {
            "rounds": rounds,
            "median_ms": round(statistics.median(gaps), 1),
            "p99_ms": round(percentile(gaps, 0.99), 1),
            "max_ms": round(max(gaps), 1),
        }
    out["goal_p99_ms_child_holds_pipe"] = 600
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def cold_start(runs: int = 15) -> dict[str, Any]:
    tether = [sys.executable, "-m", "tether"]
    out: dict[str, Any] = {}
    for name, args in (("version", ["--version"]), ("workflows", ["workflows"])):
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([*tether, *args], check=True, capture_output=True, cwd=ROOT)
            times.append((time.perf_counter() - started) * 1000)
        out[name] = {
            "median_ms": round(statistics.median(times), 1),
            "min_ms": round(min(times), 1),
            "goal_median_ms": 150,
        }
    bare = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append((time.perf_counter() - started) * 1000)
    out["bare_python_median_ms"] = round(statistics.median(bare), 1)
    return out


async def main() -> None:
    result = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "overhead": await overhead(),
        "parallel": await parallel_efficiency(),
        "timeout_overshoot": await timeout_overshoot(),
        "process_tree_kill": await process_tree_kill(),
        "main_exit_to_step_end": await main_exit_to_step_end(),
        "cold_start": cold_start(),
    }
    import json

    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
