"""MCP server benchmark: process start to tools listed, and step finished -> the client has
its progress notification.

Run from the repository root:  .venv/bin/python tests/benchmarks/mcp_server.py
Options: --starts N --runs N --steps N. Prints one JSON object.

Uses the MCP SDK's own client over stdio (so the client's parsing is in the measured
path). Step latency is the client's receive time minus the step_finished event's timestamp
in the run's journal (same machine, same wall clock). The run is owned by a detached
owner process and the server follows its journal, so this figure includes the follower's
polling interval.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

REPOSITORY = Path(__file__).resolve().parents[2]
GOALS = {"start_to_tools_listed_median_ms": 500, "step_to_progress_p99_ms": 50}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def spread(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values), 1),
        "p90_ms": round(percentile(values, 0.9), 1),
        "p99_ms": round(percentile(values, 0.99), 1),
        "min_ms": round(min(values), 1),
        "max_ms": round(max(values), 1),
        "samples": len(values),
    }


def server(workspace: Path, env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "tether", "mcp", "-C", str(workspace)], env=env
    )


async def start_to_tools_listed(workspace: Path, env: dict[str, str], log: Any) -> float:
    began = time.perf_counter()
    async with (
        stdio_client(server(workspace, env), errlog=log) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = (await session.list_tools()).tools
        elapsed = (time.perf_counter() - began) * 1000
    assert any(tool.name == "run_workflow" for tool in tools)
    return elapsed


async def step_latencies(workspace: Path, env: dict[str, str], log: Any, runs: int) -> list[float]:
    received: dict[str, float] = {}

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        received.setdefault(message or "", time.time())

    latencies: list[float] = []
    async with (
        stdio_client(server(workspace, env), errlog=log) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        for _ in range(runs):
            received.clear()
            result = await session.call_tool(
                "run_workflow",
                {"workflow": "many", "budget": "5m"},
                progress_callback=on_progress,
            )
            run = result.structured_content or {}
            assert run.get("status") == "succeeded", run
            journal = workspace / ".tether" / "runs" / run["run_id"] / "events.jsonl"
            for line in journal.read_text().splitlines():
                event = json.loads(line)
                if event["type"] != "step_finished":
                    continue
                at = received.get(f"many: {event['step']} succeeded")
                if at is not None:
                    latencies.append((at - event["ts"]) * 1000)
    return latencies


def many_steps(count: int) -> str:
    lines = ['name = "many"', 'description = "quick steps one after another"', ""]
    for index in range(count):
        lines += ["[[steps]]", f'id = "s{index}"', 'kind = "command"', 'run = ["true"]']
        if index:
            lines.append(f'needs = ["s{index - 1}"]')
        lines.append("")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=25)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        workspace = root / "project"
        (workspace / ".tether" / "workflows").mkdir(parents=True)
        (workspace / ".tether" / "workflows" / "many.toml").write_text(many_steps(options.steps))
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(root),
            "PYTHONPATH": str(REPOSITORY / "server"),
            "TETHER_CACHE_DIR": str(root / "cache"),
        }
        with (root / "server.log").open("w") as log:
            starts = [
                await start_to_tools_listed(workspace, env, log) for _ in range(options.starts)
            ]
            latencies = await step_latencies(workspace, env, log, options.runs)
    report = {
        "benchmark": "mcp",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": [round(value, 2) for value in os.getloadavg()],
        },
        "start_to_tools_listed": spread(starts),
        "step_to_progress": spread(latencies),
        "goals": GOALS,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
