"""Journal benchmarks; prints one JSON object.

    .venv/bin/python tests/benchmarks/journal.py [--events 20000] [--resumes 7]

- append: cost of one JournalWriter append on the caller's thread (the event loop), per
  durability setting, over a realistic mix of events (fsync runs in the writer's thread),
  plus the time close() waits for the final fsync.
- replay: read and fold a 10,000-event journal through RunState.apply (goal <= 100 ms).
- resume_latency: from starting a `python -m tether resume` process to the journal's
  first step_started of that invocation (goal <= 250 ms).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

SERVER = Path(__file__).resolve().parents[2] / "server"
sys.path.insert(0, str(SERVER))

from tether.engine.events import Event, EventType  # noqa: E402
from tether.engine.journal import JOURNAL_NAME, Durability, JournalWriter, read_events  # noqa: E402
from tether.engine.runs import replay  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def event_mix(count: int, run_id: str = "bench") -> list[Event]:
    """run_started, then per step: started, 6 output lines, 2 heartbeats, finished."""
    events = [
        Event(
            EventType.RUN_STARTED,
            run_id,
            1,
            time.time(),
            data={"workflow": "bench", "params": {}, "step_hashes": {}},
        )
    ]
    step = 0
    while len(events) < count:
        step += 1
        name = f"s{step}"
        pattern: list[tuple[EventType, dict[str, Any]]] = [(EventType.STEP_STARTED, {"attempt": 1})]
        pattern += [
            (EventType.STEP_OUTPUT, {"item": f"line {i} of step {name}: " + "x" * 60})
            for i in range(6)
        ]
        pattern += [(EventType.STEP_HEARTBEAT, {"details": {"cursor": i}}) for i in range(2)]
        pattern.append(
            (
                EventType.STEP_FINISHED,
                {"status": "succeeded", "output": {"ok": True, "n": step}, "duration_ms": 12},
            )
        )
        for kind, data in pattern:
            if len(events) == count:
                break
            events.append(Event(kind, run_id, len(events) + 1, time.time(), name, data))
    return events


def bench_append(count: int, root: Path) -> dict[str, Any]:
    events = event_mix(count)
    results: dict[str, Any] = {}
    for durability in Durability:
        path = root / f"append-{durability}" / JOURNAL_NAME
        path.parent.mkdir()
        writer = JournalWriter(path, durability)
        costs = []
        clock = time.perf_counter
        for event in events:
            start = clock()
            writer(event)
            costs.append(clock() - start)
        start = clock()
        writer.close()
        close_wait = clock() - start
        assert sum(1 for _ in read_events(path)) == count
        results[str(durability)] = {
            "events": count,
            "median_us": round(statistics.median(costs) * 1e6, 2),
            "p99_us": round(percentile(costs, 0.99) * 1e6, 2),
            "max_us": round(max(costs) * 1e6, 1),
            "mean_us": round(statistics.fmean(costs) * 1e6, 2),
            "close_wait_ms": round(close_wait * 1000, 2),
        }
    return results


def bench_replay(root: Path, count: int = 10_000, repeats: int = 9) -> dict[str, Any]:
    path = root / "replay" / JOURNAL_NAME
    path.parent.mkdir()
    writer = JournalWriter(path, Durability.NONE)
    for event in event_mix(count):
        writer(event)
    writer.close()
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        state = replay(path, "bench")
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    assert state.last_seq == count
    return {
        "events": count,
        "journal_bytes": path.stat().st_size,
        "median_ms": round(statistics.median(times) * 1000, 2),
        "min_ms": round(min(times) * 1000, 2),
        "max_ms": round(max(times) * 1000, 2),
        "cpu_median_ms": round(statistics.median(cpu) * 1000, 2),
        "goal_ms": 100,
    }


WORKFLOW = """
[[steps]]
id = "a"
kind = "python"
call = "benchsteps:quick"

[[steps]]
id = "b"
kind = "python"
call = "benchsteps:slow"
needs = ["a"]
"""

STEPS = """
import asyncio

async def quick(ctx):
    return 1

async def slow(ctx):
    await asyncio.sleep(30)
"""


def bench_resume(root: Path, resumes: int) -> dict[str, Any]:
    workspace = root / "resume-ws"
    (workspace / ".tether" / "workflows").mkdir(parents=True)
    (workspace / ".tether" / "workflows" / "bench.toml").write_text(WORKFLOW)
    (workspace / "benchsteps.py").write_text(STEPS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SERVER), str(workspace)])}
    # As installed: bytecode cached (the first `run` below warms it), here in a temp dir so
    # that the checkout stays clean even where PYTHONDONTWRITEBYTECODE is set.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    command = [sys.executable, "-m", "tether"]
    first = subprocess.run(
        [*command, "run", "bench", "--budget", "0.3s", "--on-budget", "pause", "--json"],
        cwd=workspace,
        env=env,
        capture_output=True,
        check=False,
    )
    run_id = orjson.loads(first.stdout)["run_id"]
    journal = workspace / ".tether" / "runs" / run_id / JOURNAL_NAME
    to_first_step, to_resumed, totals, cpu = [], [], [], []
    for _ in range(resumes):
        before = sum(1 for _ in read_events(journal))
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.time()
        done = subprocess.run(
            [*command, "resume", run_id, "--budget", "0.2s", "--on-budget", "pause"],
            cwd=workspace,
            env=env,
            capture_output=True,
            check=False,
        )
        totals.append(time.time() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime)
        assert done.returncode == 3, done.stderr
        new = list(read_events(journal))[before:]
        resumed = next(e for e in new if e.type is EventType.RUN_RESUMED)
        step = next(e for e in new if e.type is EventType.STEP_STARTED)
        to_resumed.append(resumed.ts - started)
        to_first_step.append(step.ts - started)
    return {
        "resumes": resumes,
        "to_first_step_started_median_ms": round(statistics.median(to_first_step) * 1000, 1),
        "to_first_step_started_max_ms": round(max(to_first_step) * 1000, 1),
        "to_run_resumed_median_ms": round(statistics.median(to_resumed) * 1000, 1),
        "process_cpu_median_ms": round(statistics.median(cpu) * 1000, 1),
        "goal_ms": 250,
        "note": "wall time includes interpreter start (bytecode cached); each resume "
        "pauses again at --budget 0.2s; process_cpu is the whole resume process's CPU time",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--resumes", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
        root = Path(folder)
        report = {
            "benchmark": "journal",
            "machine": {
                "nproc": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "filesystem_dir": str(Path.cwd()),
                "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            },
            "append": bench_append(args.events, root),
            "replay": bench_replay(root),
            "resume_latency": bench_resume(root, args.resumes),
        }
        report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
