"""Detached-run benchmarks; prints one JSON object.

    .venv/bin/python tests/benchmarks/detach.py [--step-seconds 12] [--loops 3]
                                                [--starts 15] [--events 300]

- budget_loop: total wall time of a one-step workflow whose command sleeps
  `--step-seconds`, driven with `--budget 3s` and the printed continuation until the exit
  code is not 3, divided by the same workflow run in the foreground (goal <= 1.05).
- detach_cost: wall time of `tether run` of a one-step no-op workflow, detached
  (`--budget 30s`) minus foreground, medians over `--starts` runs each (goal <= +60 ms).
- attach_latency: an event written by the detached owner -> handed to a waiter following
  the journal (run_operations.wait_run, as `tether resume` uses it), over `--events`
  step_output events emitted 20 ms apart (goal p99 <= 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SERVER = Path(__file__).resolve().parents[2] / "server"
sys.path.insert(0, str(SERVER))

from tether.engine import run_operations as ops  # noqa: E402
from tether.engine.events import Event, EventType  # noqa: E402

TICKER = """
import asyncio


async def tick(ctx):
    for index in range(int(ctx.inputs["count"])):
        ctx.emit(index)
        await asyncio.sleep(0.02)
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(SERVER), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}


def tether(workspace: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tether", *args],
        cwd=workspace,
        env=env(),
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    return done, time.perf_counter() - started


def workspace_with(root: Path, workflows: dict[str, str]) -> Path:
    folder = root / ".tether" / "workflows"
    folder.mkdir(parents=True)
    for name, body in workflows.items():
        (folder / f"{name}.toml").write_text(f'name = "{name}"\n{body}')
    (root / "wsteps.py").write_text(TICKER)
    return root


def command_step(script: str) -> str:
    return f'[[steps]]\nid = "work"\nkind = "command"\nrun = ["sh", "-c", "{script}"]\n'


def budget_loop(root: Path, seconds: float, loops: int) -> dict[str, Any]:
    workspace = workspace_with(root, {"long": command_step(f"sleep {seconds}")})
    ratios, foreground, looped, invocations = [], [], [], []
    for _ in range(loops):
        done, plain = tether(workspace, "run", "long")
        assert done.returncode == 0, done.stderr
        began = time.perf_counter()
        done, _ = tether(workspace, "run", "long", "--budget", "3s")
        count = 1
        while done.returncode == 3:
            argv = shlex.split(done.stdout.strip().splitlines()[-1])[1:]
            done, _ = tether(workspace, *argv)
            count += 1
        assert done.returncode == 0, done.stderr
        total = time.perf_counter() - began
        foreground.append(plain)
        looped.append(total)
        invocations.append(count)
        ratios.append(total / plain)
    return {
        "step_seconds": seconds,
        "foreground_s": [round(v, 3) for v in foreground],
        "budget_loop_s": [round(v, 3) for v in looped],
        "invocations": invocations,
        "ratio_median": round(statistics.median(ratios), 4),
        "ratio_max": round(max(ratios), 4),
        "goal": "<= 1.05",
    }


def detach_cost(root: Path, starts: int) -> dict[str, Any]:
    workspace = workspace_with(root, {"noop": command_step("true")})
    foreground, detached = [], []
    for _ in range(starts):  # interleaved, so drifting load hits both alike
        done, took = tether(workspace, "run", "noop")
        assert done.returncode == 0, done.stderr
        foreground.append(took)
        done, took = tether(workspace, "run", "noop", "--budget", "30s")
        assert done.returncode == 0, done.stderr
        detached.append(took)
    return {
        "foreground_median_ms": round(statistics.median(foreground) * 1000, 1),
        "detached_median_ms": round(statistics.median(detached) * 1000, 1),
        "extra_median_ms": round(
            (statistics.median(detached) - statistics.median(foreground)) * 1000, 1
        ),
        "foreground_p90_ms": round(percentile(foreground, 0.9) * 1000, 1),
        "detached_p90_ms": round(percentile(detached, 0.9) * 1000, 1),
        "goal": "extra <= 60 ms",
    }


async def attach_latency(root: Path, count: int) -> dict[str, Any]:
    # The journal keeps a step's first 100 items (engine/output_bound.py): a chain of
    # steps of 100 items each journals every one.
    steps = ""
    for index in range(max(1, count // 100)):
        needs = f'needs = ["tick{index - 1}"]\n' if index else ""
        steps += (
            f'[[steps]]\nid = "tick{index}"\nkind = "python"\ncall = "wsteps:tick"\n'
            f'{needs}inputs = {{ count = "100" }}\n'
        )
    workspace = workspace_with(root, {"ticks": steps})
    sys.path.insert(0, str(workspace))
    latencies: list[float] = []

    def on_event(event: Event) -> None:
        if event.type is EventType.STEP_OUTPUT:
            latencies.append(time.time() - event.ts)

    run_id = await ops.start_detached(workspace, "ticks", {})
    outcome = await ops.wait_run(workspace, run_id, budget=120, on_event=on_event)
    assert outcome.state.status == "succeeded", outcome.state.reason
    ms = [value * 1000 for value in latencies]
    return {
        "events": len(ms),
        "p50_ms": round(percentile(ms, 0.5), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
        "goal": "p99 <= 50 ms",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--only", choices=("attach_latency", "detach_cost", "budget_loop"), default=None
    )
    parser.add_argument("--step-seconds", type=float, default=12.0)
    parser.add_argument("--loops", type=int, default=3)
    parser.add_argument("--starts", type=int, default=15)
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        result: dict[str, Any] = {
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "load_average": [round(v, 2) for v in os.getloadavg()],
            }
        }
        if args.only in (None, "attach_latency"):
            latency = asyncio.run(attach_latency(root / "latency", args.events))
            result["attach_latency"] = latency
        if args.only in (None, "detach_cost"):
            result["detach_cost"] = detach_cost(root / "cost", args.starts)
        if args.only in (None, "budget_loop"):
            result["budget_loop"] = budget_loop(root / "loop", args.step_seconds, args.loops)
        result["machine"]["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    print(__import__("json").dumps(result, indent=2))


if __name__ == "__main__":
    main()
